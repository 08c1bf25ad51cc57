/* Convolution entry points: descriptor checks (again: the C side trusts no caller), planning, ISA dispatch. */
#include "../internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fc_status out_size(const char* axis, int in, int kernel, int stride, int pad, int dilation, int32_t* out)
{
    int64_t eff = (int64_t)dilation * (kernel - 1) + 1;
    int64_t num = (int64_t)in + 2 * (int64_t)pad - eff;
    if (num < 0)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: kernel %d (effective %lld) with padding %d does not fit input %s %d",
                       kernel, (long long)eff, pad, axis, in);
    int64_t o = num / stride + 1;
    if (o > INT32_MAX) return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: output %s %lld does not fit in 32 bits", axis, (long long)o);
    *out = (int32_t)o;
    return FC_OK;
}

fc_status fc_conv2d_output_size(const fc_conv2d_desc* d, int32_t* out_h, int32_t* out_w)
{
    FC_CHECK_PTR(d, "fc_conv2d_output_size");
    FC_CHECK_PTR(out_h, "fc_conv2d_output_size");
    FC_CHECK_PTR(out_w, "fc_conv2d_output_size");
    const struct { const char* name; int v; int min; } f[] = {
        { "n", d->n, 1 }, { "c", d->c, 1 }, { "h", d->h, 1 }, { "w", d->w, 1 }, { "k", d->k, 1 }, { "r", d->r, 1 },
        { "s", d->s, 1 }, { "stride_h", d->stride_h, 1 }, { "stride_w", d->stride_w, 1 }, { "pad_h", d->pad_h, 0 },
        { "pad_w", d->pad_w, 0 }, { "dilation_h", d->dilation_h, 1 }, { "dilation_w", d->dilation_w, 1 },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].min)
            return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: %s must be >= %d, got %d", f[i].name, f[i].min, f[i].v);
    if (d->activation != FC_ACTIVATION_NONE && d->activation != FC_ACTIVATION_RELU)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: activation %d is not FC_ACTIVATION_NONE or FC_ACTIVATION_RELU", d->activation);
    fc_status st = out_size("height", d->h, d->r, d->stride_h, d->pad_h, d->dilation_h, out_h);
    if (st == FC_OK) st = out_size("width", d->w, d->s, d->stride_w, d->pad_w, d->dilation_w, out_w);
    return st;
}

/* every product the kernels index with 32-bit ints must fit; whole tensors are indexed in 64 bits. The kernels
 * compute input coordinates o*stride + r*dilation - pad in ints; they lie in [-pad, in + pad), so in + 2*pad must fit. */
static fc_status check_sizes(const fc_conv2d_desc* d, int oh, int ow)
{
    const int64_t lim = INT32_MAX;
    if ((int64_t)d->h + 2 * (int64_t)d->pad_h > lim || (int64_t)d->w + 2 * (int64_t)d->pad_w > lim)
        return fc_fail(FC_ERR_UNSUPPORTED, "conv2d: the padded input %lld x %lld (h + 2*pad_h, w + 2*pad_w) exceeds the "
                                           "32-bit coordinates of the kernels (2^31 - 1)",
                       (long long)d->h + 2 * (int64_t)d->pad_h, (long long)d->w + 2 * (int64_t)d->pad_w);
    int64_t kd = (int64_t)d->c * d->r * d->s, p = (int64_t)oh * ow, image = (int64_t)d->c * d->h * d->w;
    if (kd > lim || p > lim || image > lim || (int64_t)d->k * p > lim || (int64_t)d->k * kd > lim / 2)
        return fc_fail(FC_ERR_UNSUPPORTED, "conv2d: one image, filter bank or output plane has more than 2^31 elements "
                                           "(C*R*S = %lld, OH*OW = %lld, C*H*W = %lld)", (long long)kd, (long long)p, (long long)image);
    if ((int64_t)d->n * image > INT64_MAX / 8 || (int64_t)d->n * d->k * p > INT64_MAX / 8)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: the batch's element counts overflow 64 bits");
    return FC_OK;
}

static const char* const direction_names[3] = { "forward", "backward-data", "backward-filter" };

static const fc_conv_impl* find_impl(int dir, const char* name, size_t len)
{
    for (int i = 0; i < fc_conv_impl_counts[dir]; i++)
        if (strlen(fc_conv_impls[dir][i].name) == len && !strncmp(fc_conv_impls[dir][i].name, name, len))
            return &fc_conv_impls[dir][i];
    return NULL;
}

/* the entries of a direction's table, for messages */
static void list_impls(int dir, char* out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < fc_conv_impl_counts[dir]; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? ", " : "", fc_conv_impls[dir][i].name);
    }
}

/* FASTCONV_CONV_ALGO=name[,name...]: per direction, the first name its table has (NULL: none); a name in no table is
 * refused, so that a typo does not silently measure the default */
static fc_status env_forced(int dir, const fc_conv_impl** out)
{
    *out = NULL;
    const char* list = getenv("FASTCONV_CONV_ALGO");
    if (!list || !*list) return FC_OK;
    for (const char* at = list; *at;) {
        size_t len = strcspn(at, ",");
        const fc_conv_impl* mine = find_impl(dir, at, len);
        int anywhere = mine != NULL;
        for (int other = 0; other < 3 && !anywhere; other++) anywhere = find_impl(other, at, len) != NULL;
        if (!anywhere) {
            char names[3][256];
            for (int d = 0; d < 3; d++) list_impls(d, names[d], sizeof names[d]);
            return fc_fail(FC_ERR_INVALID_ARGUMENT,
                           "conv2d: FASTCONV_CONV_ALGO names '%.*s', which is no entry of the implementation tables "
                           "(forward: %s; backward-data: %s; backward-filter: %s)",
                           (int)len, at, names[0], names[1], names[2]);
        }
        if (mine && !*out) *out = mine;
        at += len;
        if (*at == ',') at++;
    }
    return FC_OK;
}

static fc_status refuse(const struct fc_conv2d_plan* p, int dir, const fc_conv_impl* e, const char* why, const char* by)
{
    const fc_conv2d_desc* d = &p->d;
    return fc_fail(FC_ERR_UNSUPPORTED,
                   "conv2d: %s entry '%s' (%s) cannot run N%d C%d %dx%d K%d %dx%d stride %dx%d pad %dx%d dilation %dx%d "
                   "on %s: %s",
                   direction_names[dir], e->name, by, d->n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride_h, d->stride_w,
                   d->pad_h, d->pad_w, d->dilation_h, d->dilation_w, fc_isa_name(p->isa), why);
}

/* the entry of one direction: the named one (named: NULL, else by whom), or the first built for the ISA that supports
 * the geometry and pays there */
static fc_status choose(struct fc_conv2d_plan* p, int dir, const fc_conv_impl* named, const char* by)
{
    if (named) {
        const fc_conv_variant* v = &named->isa[p->isa];
        const char* why = !v->run ? "it is not built for this ISA" : v->supports(p);
        if (why) return refuse(p, dir, named, why, by);
        p->impl[dir] = named;
        return FC_OK;
    }
    for (int i = 0; i < fc_conv_impl_counts[dir]; i++) {
        const fc_conv_variant* v = &fc_conv_impls[dir][i].isa[p->isa];
        if (v->run && !v->supports(p) && v->pays(p)) {
            p->impl[dir] = &fc_conv_impls[dir][i];
            return FC_OK;
        }
    }
    return fc_fail(FC_ERR_INTERNAL, "conv2d: no %s entry applies (the table's last entry should)", direction_names[dir]);
}

/* Phase planes (conv2d.inc): a convolution whose taps are r = A*a + s*u, a < P, u < 3, runs as a stride-1 3x3 one on
 * C*P*P channels. Space-to-depth (P = s, A = 1) for strided kernels 2s+1 .. 3s wide (AlexNet's 11x11 stride 4: 19%
 * more multiply-adds as 12x12 taps, then Winograd's 2.25x fewer); kernel splitting (P = 2, A = 3) for stride-1 kernels
 * of 4 to 6 taps (a 5x5 as four 3x3 blocks: 36 taps for 25, then 2.25x fewer). Sets P and A where the geometry has them. */
static void phase_geometry(struct fc_conv2d_plan* p)
{
    const fc_conv2d_desc* d = &p->d;
    int s = d->stride_h;
    p->phases = p->phase_step = 0;
    if (s != d->stride_w || d->dilation_h != 1 || d->dilation_w != 1) return;
    if (s >= 2 && (d->r + s - 1) / s == 3 && (d->s + s - 1) / s == 3) { p->phases = s; p->phase_step = 1; }
    else if (s == 1 && d->r >= 4 && d->r <= 6 && d->s >= 4 && d->s <= 6) { p->phases = 2; p->phase_step = 3; }
}

/* The workspace of the chosen entries, sized for the current thread count: per direction each slot's copies, one
 * cache line apart at least, the directions overlaid (a plan runs one call at a time). A sub-plan has its own. */
static fc_status plan_workspace(struct fc_conv2d_plan* p)
{
    size_t total = 0;
    for (int dir = 0; dir < 3; dir++) {
        fc_ws* ws = &p->ws[dir];
        memset(ws, 0, sizeof *ws);
        p->impl[dir]->isa[p->isa].workspace(p, &ws->need);
        size_t used = 0;
        for (int slot = 0; slot < FC_SCRATCH_SLOTS; slot++) {
            if (ws->need.copies[slot] <= 0) continue;
            size_t f = ws->need.floats[slot];
            if (f > SIZE_MAX / 8 / (size_t)ws->need.copies[slot])
                return fc_fail(FC_ERR_OUT_OF_MEMORY, "conv2d: the %s entry '%s' would need a workspace beyond the address space",
                               direction_names[dir], p->impl[dir]->name);
            ws->pitch[slot] = (f + 15) / 16 * 16 + 16;
            used += ws->pitch[slot] * (size_t)ws->need.copies[slot];
        }
        if (used > total) total = used;
    }
    fc_aligned_free(p->ws_base);
    p->ws_base = NULL;
    p->ws_floats = 0;
    if (total && !(p->ws_base = fc_aligned_alloc(total * sizeof(float))))
        return fc_fail(FC_ERR_OUT_OF_MEMORY, "conv2d: out of memory for the plan's workspace (%.1f MiB)",
                       (double)total * sizeof(float) / (1 << 20));
    p->ws_floats = total;
    for (int dir = 0; dir < 3; dir++) {
        fc_ws* ws = &p->ws[dir];
        size_t at = 0;
        for (int slot = 0; slot < FC_SCRATCH_SLOTS; slot++)
            if (ws->need.copies[slot] > 0) {
                ws->at[slot] = p->ws_base + at;
                at += ws->pitch[slot] * (size_t)ws->need.copies[slot];
            }
    }
    p->ws_threads = fc_threads();
    return FC_OK;
}

static const char* const winograd_everywhere[3] = { "winograd-2x2-3x3", "winograd-2x2-3x3", "winograd-2x2-3x3" };

/* names[dir]: the entry asked for by the caller (NULL: FASTCONV_CONV_ALGO, if use_env, or the table's choice) */
static fc_status plan_build(const fc_conv2d_desc* desc, fc_isa chosen, const char* const names[3], int use_env,
                            fc_conv2d_plan** plan)
{
    int32_t oh, ow;
    fc_status st = fc_conv2d_output_size(desc, &oh, &ow);
    if (st != FC_OK) return st;
    if ((st = check_sizes(desc, oh, ow)) != FC_OK) return st;
    struct fc_conv2d_plan* p = calloc(1, sizeof *p);
    if (!p) return fc_fail(FC_ERR_OUT_OF_MEMORY, "conv2d: out of memory for the plan");
    p->d = *desc;
    p->isa = chosen;
    p->oh = oh;
    p->ow = ow;
    p->kd = desc->c * desc->r * desc->s;
    p->p = oh * ow;
    p->rows = malloc((size_t)p->kd * 3 * sizeof(int));
    if (!p->rows) {
        int rows = p->kd;
        free(p);
        return fc_fail(FC_ERR_OUT_OF_MEMORY, "conv2d: out of memory for the im2col row table (%d rows)", rows);
    }
    for (int row = 0; row < p->kd; row++) {
        int s = row % desc->s, r = row / desc->s % desc->r, c = row / (desc->s * desc->r);
        p->rows[3 * row] = c * desc->h * desc->w;
        p->rows[3 * row + 1] = r * desc->dilation_h - desc->pad_h;
        p->rows[3 * row + 2] = s * desc->dilation_w - desc->pad_w;
    }
    phase_geometry(p);
    int phases = 0;
    for (int dir = 0; dir < 3 && st == FC_OK; dir++) {
        const fc_conv_impl* named = NULL;
        const char* by = "asked for";
        if (names && names[dir]) {
            if (!(named = find_impl(dir, names[dir], strlen(names[dir])))) {
                char list[256];
                list_impls(dir, list, sizeof list);
                st = fc_fail(FC_ERR_UNSUPPORTED, "conv2d: no %s entry is named '%s' (entries: %s)", direction_names[dir],
                             names[dir], list);
                break;
            }
        } else if (use_env) {
            if ((st = env_forced(dir, &named)) != FC_OK) break;
            by = "FASTCONV_CONV_ALGO";
        }
        if ((st = choose(p, dir, named, by)) == FC_OK) phases |= p->impl[dir]->phases;
    }
    if (st == FC_OK && phases) {
        int P = p->phases;
        fc_conv2d_desc sub = { desc->n, desc->c * P * P, oh + 2, ow + 2, desc->k, 3, 3, 1, 1, 0, 0, 1, 1, desc->activation };
        st = plan_build(&sub, chosen, winograd_everywhere, 0, &p->s2d);
    }
    if (st == FC_OK) st = plan_workspace(p);
    if (st != FC_OK) {
        fc_f32_conv2d_plan_destroy(p);
        return st;
    }
    snprintf(p->implementation, sizeof p->implementation, "native:%s:fwd=%s,bwd_data=%s,bwd_filter=%s", fc_isa_name(chosen),
             p->impl[FC_CONV_FWD]->name, p->impl[FC_CONV_BWD_DATA]->name, p->impl[FC_CONV_BWD_FILTER]->name);
    *plan = p;
    return FC_OK;
}

fc_status fc_f32_conv2d_plan_create_with(const fc_conv2d_desc* desc, fc_isa isa, const char* fwd, const char* bwd_data,
                                         const char* bwd_filter, fc_conv2d_plan** plan)
{
    fc_clear_error();
    FC_CHECK_PTR(plan, "fc_f32_conv2d_plan_create");
    *plan = NULL;
    FC_CHECK_PTR(desc, "fc_f32_conv2d_plan_create");
    fc_isa chosen;
    fc_status st = fc_resolve_isa(isa, &chosen);
    if (st != FC_OK) return st;
    const char* const names[3] = { fwd, bwd_data, bwd_filter };
    return plan_build(desc, chosen, names, 1, plan);
}

fc_status fc_f32_conv2d_plan_create(const fc_conv2d_desc* desc, fc_isa isa, fc_conv2d_plan** plan)
{
    return fc_f32_conv2d_plan_create_with(desc, isa, NULL, NULL, NULL, plan);
}

void fc_f32_conv2d_plan_destroy(fc_conv2d_plan* plan)
{
    if (!plan) return;
    fc_f32_conv2d_plan_destroy(plan->s2d);
    fc_aligned_free(plan->ws_base);
    free(plan->rows);
    free(plan);
}

const char* fc_f32_conv2d_plan_implementation(const fc_conv2d_plan* plan) { return plan ? plan->implementation : ""; }

int64_t fc_f32_conv2d_plan_workspace_bytes(const fc_conv2d_plan* plan)
{
    if (!plan) return -1;
    int64_t bytes = 0;
    for (const fc_conv2d_plan* p = plan; p; p = p->s2d) bytes += (int64_t)(p->ws_floats * sizeof(float));
    return bytes;
}

int32_t fc_f32_conv2d_impl_count(int32_t direction)
{
    return direction >= 0 && direction < 3 ? fc_conv_impl_counts[direction] : -1;
}

const char* fc_f32_conv2d_impl_name(int32_t direction, int32_t index)
{
    if (direction < 0 || direction >= 3 || index < 0 || index >= fc_conv_impl_counts[direction]) return NULL;
    return fc_conv_impls[direction][index].name;
}

int32_t fc_f32_conv2d_impl_built(int32_t direction, int32_t index, fc_isa isa)
{
    if (direction < 0 || direction >= 3 || index < 0 || index >= fc_conv_impl_counts[direction]) return 0;
    if (isa != FC_ISA_SCALAR && isa != FC_ISA_AVX2 && isa != FC_ISA_AVX512) return 0;
    return fc_conv_impls[direction][index].isa[isa].run != NULL;
}

/* runs a direction: the workspaces sized again first if the thread count changed since they were */
static fc_status run(fc_conv2d_plan* plan, int dir, fc_conv_args* a, const char* op)
{
    fc_status st = FC_OK;
    if (plan->ws_threads != fc_threads())
        for (fc_conv2d_plan* q = plan; q && st == FC_OK; q = q->s2d) st = plan_workspace(q);
    if (st != FC_OK) return st;
    int rc = fc_conv_run(plan, dir, a);
    /* every buffer a run takes was allocated with the plan: a failed take is an entry that declared less */
    if (rc == FC_ERR_OUT_OF_MEMORY)
        return fc_fail(FC_ERR_INTERNAL, "%s: the %s entry '%s' took more workspace than it declared", op,
                       direction_names[dir], plan->impl[dir]->name);
    return (fc_status)rc;
}

fc_status fc_f32_conv2d_fwd(fc_conv2d_plan* plan, const float* x, const float* w, const float* bias, float* y)
{
    const char* op = "fc_f32_conv2d_fwd";
    fc_clear_error();
    FC_CHECK_PTR(plan, op); FC_CHECK_PTR(x, op); FC_CHECK_PTR(w, op); FC_CHECK_PTR(y, op);
    fc_conv_args a = { .x = x, .w = w, .bias = bias, .y = y };
    return run(plan, FC_CONV_FWD, &a, op);
}

fc_status fc_f32_conv2d_bwd_data(fc_conv2d_plan* plan, const float* dy, const float* w, float* dx)
{
    const char* op = "fc_f32_conv2d_bwd_data";
    fc_clear_error();
    FC_CHECK_PTR(plan, op); FC_CHECK_PTR(dy, op); FC_CHECK_PTR(w, op); FC_CHECK_PTR(dx, op);
    fc_conv_args a = { .dy = dy, .w = w, .dx = dx };
    return run(plan, FC_CONV_BWD_DATA, &a, op);
}

fc_status fc_f32_conv2d_bwd_filter(fc_conv2d_plan* plan, const float* x, const float* dy, float* dw, float* dbias)
{
    const char* op = "fc_f32_conv2d_bwd_filter";
    fc_clear_error();
    FC_CHECK_PTR(plan, op); FC_CHECK_PTR(x, op); FC_CHECK_PTR(dy, op); FC_CHECK_PTR(dw, op);
    fc_conv_args a = { .x = x, .dy = dy, .dw = dw, .dbias = dbias };
    return run(plan, FC_CONV_BWD_FILTER, &a, op);
}
