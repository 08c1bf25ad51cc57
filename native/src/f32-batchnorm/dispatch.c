/* Batch-normalisation entry points: argument checks, ISA dispatch. */
#include "../internal.h"

#include <math.h>


static fc_status check_shape(const char* op, int32_t n, int32_t c, int64_t hw)
{
    if (n < 1 || c < 1 || hw < 1)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: n, c and hw must be >= 1, got %d, %d, %lld", op, n, c, (long long)hw);
    if (hw > INT32_MAX) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: hw %lld exceeds 2^31 - 1", op, (long long)hw);
    if ((int64_t)n * c > INT64_MAX / 8 / hw) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: n*c*hw overflows 64 bits", op);
    return FC_OK;
}

static fc_status check_relu(const char* op, int32_t relu)
{
    return relu == 0 || relu == 1 ? FC_OK : fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: relu must be 0 or 1, got %d", op, relu);
}

static fc_status check_epsilon(const char* op, float epsilon)
{
    if (!(epsilon > 0.0f) || isinf(epsilon))
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: epsilon must be positive and finite, got %g", op, (double)epsilon);
    return FC_OK;
}

fc_status fc_f32_batch_norm_fwd_training(fc_isa isa, int32_t n, int32_t c, int64_t hw, const float* x, const float* gamma,
                                         const float* beta, float* y, float* save_mean, float* save_inv_std,
                                         float* running_mean, float* running_var, float momentum, float epsilon, int32_t relu)
{
    const char* op = "fc_f32_batch_norm_fwd_training";
    fc_clear_error();
    fc_status bad = check_shape(op, n, c, hw);
    if (bad == FC_OK) bad = check_epsilon(op, epsilon);
    if (bad == FC_OK) bad = check_relu(op, relu);
    if (bad != FC_OK) return bad;
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: momentum must be in [0, 1], got %g", op, (double)momentum);
    FC_CHECK_PTR(x, op); FC_CHECK_PTR(gamma, op); FC_CHECK_PTR(beta, op); FC_CHECK_PTR(y, op);
    FC_CHECK_PTR(save_mean, op); FC_CHECK_PTR(save_inv_std, op); FC_CHECK_PTR(running_mean, op); FC_CHECK_PTR(running_var, op);
    FC_RESOLVE_ISA(isa, chosen);
    FC_CALL_VOID(chosen, fc_f32_batch_norm_fwd_training, n, c, (int)hw, x, gamma, beta, y, save_mean, save_inv_std,
                 running_mean, running_var, momentum, epsilon, relu);
    return FC_OK;
}

fc_status fc_f32_batch_norm_fwd_inference(fc_isa isa, int32_t n, int32_t c, int64_t hw, const float* x, const float* gamma,
                                          const float* beta, const float* running_mean, const float* running_var, float* y,
                                          float epsilon, int32_t relu)
{
    const char* op = "fc_f32_batch_norm_fwd_inference";
    fc_clear_error();
    fc_status bad = check_shape(op, n, c, hw);
    if (bad == FC_OK) bad = check_epsilon(op, epsilon);
    if (bad == FC_OK) bad = check_relu(op, relu);
    if (bad != FC_OK) return bad;
    FC_CHECK_PTR(x, op); FC_CHECK_PTR(gamma, op); FC_CHECK_PTR(beta, op);
    FC_CHECK_PTR(running_mean, op); FC_CHECK_PTR(running_var, op); FC_CHECK_PTR(y, op);
    FC_RESOLVE_ISA(isa, chosen);
    FC_CALL_VOID(chosen, fc_f32_batch_norm_fwd_inference, n, c, (int)hw, x, gamma, beta, running_mean, running_var, y, epsilon, relu);
    return FC_OK;
}

fc_status fc_f32_batch_norm_bwd(fc_isa isa, int32_t n, int32_t c, int64_t hw, const float* x, const float* dy,
                                const float* gamma, const float* beta, const float* save_mean, const float* save_inv_std,
                                float* dx, float* dgamma, float* dbeta, int32_t relu)
{
    const char* op = "fc_f32_batch_norm_bwd";
    fc_clear_error();
    fc_status bad = check_shape(op, n, c, hw);
    if (bad == FC_OK) bad = check_relu(op, relu);
    if (bad != FC_OK) return bad;
    FC_CHECK_PTR(x, op); FC_CHECK_PTR(dy, op); FC_CHECK_PTR(gamma, op); FC_CHECK_PTR(save_mean, op);
    FC_CHECK_PTR(save_inv_std, op); FC_CHECK_PTR(dx, op); FC_CHECK_PTR(dgamma, op); FC_CHECK_PTR(dbeta, op);
    if (relu) FC_CHECK_PTR(beta, op);
    FC_RESOLVE_ISA(isa, chosen);
    FC_CALL_VOID(chosen, fc_f32_batch_norm_bwd, n, c, (int)hw, x, dy, gamma, beta, save_mean, save_inv_std, dx, dgamma, dbeta, relu);
    return FC_OK;
}
