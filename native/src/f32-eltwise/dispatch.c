/* Element-wise entry points: argument checks, ISA dispatch. */
#include "../internal.h"


fc_status fc_f32_relu_fwd(fc_isa isa, int64_t count, const float* x, float* y)
{
    const char* op = "fc_f32_relu_fwd";
    fc_clear_error();
    if (count < 0) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: count must be >= 0, got %lld", op, (long long)count);
    FC_CHECK_PTR(x, op); FC_CHECK_PTR(y, op);
    FC_RESOLVE_ISA(isa, chosen);
    FC_CALL_VOID(chosen, fc_f32_relu_fwd, count, x, y);
    return FC_OK;
}

fc_status fc_f32_relu_bwd(fc_isa isa, int64_t count, const float* x, const float* dy, float* dx)
{
    const char* op = "fc_f32_relu_bwd";
    fc_clear_error();
    if (count < 0) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: count must be >= 0, got %lld", op, (long long)count);
    FC_CHECK_PTR(x, op); FC_CHECK_PTR(dy, op); FC_CHECK_PTR(dx, op);
    FC_RESOLVE_ISA(isa, chosen);
    FC_CALL_VOID(chosen, fc_f32_relu_bwd, count, x, dy, dx);
    return FC_OK;
}

static fc_status check_bias(const char* op, int32_t n, int32_t c, int64_t inner)
{
    if (n < 1 || c < 1 || inner < 1)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: n, c and inner must be >= 1, got %d, %d, %lld", op, n, c, (long long)inner);
    if ((int64_t)n * c > INT64_MAX / inner) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: n*c*inner overflows 64 bits", op);
    return FC_OK;
}

fc_status fc_f32_bias_add_fwd(fc_isa isa, int32_t n, int32_t c, int64_t inner, float* x, const float* bias)
{
    const char* op = "fc_f32_bias_add_fwd";
    fc_clear_error();
    fc_status bad = check_bias(op, n, c, inner);
    if (bad != FC_OK) return bad;
    FC_CHECK_PTR(x, op); FC_CHECK_PTR(bias, op);
    FC_RESOLVE_ISA(isa, chosen);
    FC_CALL_VOID(chosen, fc_f32_bias_add_fwd, n, c, inner, x, bias);
    return FC_OK;
}

fc_status fc_f32_bias_add_bwd(fc_isa isa, int32_t n, int32_t c, int64_t inner, const float* dy, float* dbias)
{
    const char* op = "fc_f32_bias_add_bwd";
    fc_clear_error();
    fc_status bad = check_bias(op, n, c, inner);
    if (bad != FC_OK) return bad;
    FC_CHECK_PTR(dy, op); FC_CHECK_PTR(dbias, op);
    FC_RESOLVE_ISA(isa, chosen);
    FC_CALL_VOID(chosen, fc_f32_bias_add_bwd, n, c, inner, dy, dbias);
    return FC_OK;
}

/* The entry points of FC_F32_ELTWISE_OPS: count and pointers checked, then the chosen ISA's kernel. */
#define ELT_ENTRY_FWD(op, expr)                                                                                       \
    fc_status fc_f32_##op(fc_isa isa, int64_t count, const float* x, float* y, float alpha)                           \
    {                                                                                                                 \
        const char* name = "fc_f32_" #op;                                                                             \
        fc_clear_error();                                                                                             \
        if (count < 0) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: count must be >= 0, got %lld", name, (long long)count); \
        FC_CHECK_PTR(x, name); FC_CHECK_PTR(y, name);                                                                 \
        FC_RESOLVE_ISA(isa, chosen);                                                                                  \
        FC_CALL_VOID(chosen, fc_f32_##op, count, x, y, alpha);                                                        \
        return FC_OK;                                                                                                 \
    }
#define ELT_ENTRY_BWD(op, expr)                                                                                       \
    fc_status fc_f32_##op(fc_isa isa, int64_t count, const float* x, const float* dy, float* dx, float alpha)         \
    {                                                                                                                 \
        const char* name = "fc_f32_" #op;                                                                             \
        fc_clear_error();                                                                                             \
        if (count < 0) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: count must be >= 0, got %lld", name, (long long)count); \
        FC_CHECK_PTR(x, name); FC_CHECK_PTR(dy, name); FC_CHECK_PTR(dx, name);                                        \
        FC_RESOLVE_ISA(isa, chosen);                                                                                  \
        FC_CALL_VOID(chosen, fc_f32_##op, count, x, dy, dx, alpha);                                                   \
        return FC_OK;                                                                                                 \
    }
FC_F32_ELTWISE_OPS(ELT_ENTRY_FWD, ELT_ENTRY_BWD)
