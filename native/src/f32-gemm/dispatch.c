/* GEMM entry point: argument checks, ISA dispatch. */
#include "../internal.h"

#include <math.h>

fc_status fc_f32_gemm(fc_isa isa, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                      const float* a, int32_t lda, const float* b, int32_t ldb, float beta, float* c, int32_t ldc)
{
    const char* op = "fc_f32_gemm";
    fc_clear_error();
    if (m < 1 || n < 1 || k < 1) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: sizes must be >= 1, got m=%d n=%d k=%d", op, m, n, k);
    FC_CHECK_PTR(a, op); FC_CHECK_PTR(b, op); FC_CHECK_PTR(c, op);
    int32_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
    if (lda < a_cols) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: lda %d is less than op(a)'s stored row length %d", op, lda, a_cols);
    if (ldb < b_cols) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: ldb %d is less than op(b)'s stored row length %d", op, ldb, b_cols);
    if (ldc < n) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: ldc %d is less than n %d", op, ldc, n);
    if (!isfinite(alpha) || !isfinite(beta)) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: alpha and beta must be finite", op);
    if ((int64_t)m * k > INT32_MAX / 2)
        return fc_fail(FC_ERR_UNSUPPORTED, "%s: op(a) of %dx%d is larger than this GEMM packs", op, m, k);
    fc_isa chosen;
    fc_status st = fc_resolve_isa(isa, &chosen);
    if (st != FC_OK) return st;
    int rc = FC_CALL(chosen, fc_f32_gemm, trans_a != 0, trans_b != 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (rc == FC_ERR_OUT_OF_MEMORY) return fc_fail(FC_ERR_OUT_OF_MEMORY, "%s: out of memory for packing buffers", op);
    return (fc_status)rc;
}
