/* Edge shapes and invalid descriptors for every ISA variant this CPU runs, against naive loops written here.
 * Built with AddressSanitizer and UndefinedBehaviorSanitizer (FASTCONV_TESTS=ON) and run by CTest and .ci/run:
 * every buffer is allocated at its exact size, so any read or write past an edge fails the run. */
#include <fastconv.h>
#include "naive.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

#define EXPECT(cond, ...)                                                                                             \
    do {                                                                                                              \
        checks++;                                                                                                     \
        if (!(cond)) {                                                                                                \
            failures++;                                                                                               \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                               \
            printf(__VA_ARGS__);                                                                                      \
            printf("\n");                                                                                             \
        }                                                                                                             \
    } while (0)

static unsigned rng = 12345u;
/* small integers: every float sum below is exact, so every variant must equal the naive loop bit for bit */
static float small_int(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((int)((rng >> 16) % 9) - 4);
}

static float* filled(size_t n)
{
    float* p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = small_int();
    return p;
}

static int same(const float* a, const float* b, size_t n, size_t* at)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) { *at = i; return 0; }
    return 1;
}

/* runs the case with the named entries (NULL: the plan's choice); returns 0 when a named entry does not apply */
static int conv_case_with(fc_isa isa, fc_conv2d_desc d, const char* const names[3])
{
    int32_t oh = 0, ow = 0; /* the library's formula, in 64 bits (out_dim overflows for padding near 2^30) */
    EXPECT(fc_conv2d_output_size(&d, &oh, &ow) == FC_OK, "output size: %s", fc_last_error());
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.k * d.c * d.r * d.s, ny = (size_t)d.n * d.k * oh * ow;
    float *x = filled(nx), *w = filled(nw), *b = filled(d.k), *dy = filled(ny);
    float *y = malloc(ny * 4), *ry = malloc(ny * 4), *dx = malloc(nx * 4), *rdx = malloc(nx * 4);
    float *dw = malloc(nw * 4), *rdw = malloc(nw * 4), *db = malloc(d.k * 4);
    fc_conv2d_plan* plan = NULL;
    int failed_before = failures;
    fc_status st = fc_f32_conv2d_plan_create_with(&d, isa, names[0], names[1], names[2], &plan);
    int refused = st == FC_ERR_UNSUPPORTED && (names[0] || names[1] || names[2]);
    if (refused)
        EXPECT(strstr(fc_last_error(), "cannot run") != NULL, "refusal names the reason: %s", fc_last_error());
    else
        EXPECT(st == FC_OK, "plan %s N%d C%d %dx%d K%d %dx%d: %s", fc_isa_name(isa), d.n, d.c, d.h, d.w, d.k, d.r, d.s, fc_last_error());
    if (st == FC_OK) {
        size_t at = 0;
        naive_conv(&d, x, w, b, ry, oh, ow);
        EXPECT(fc_f32_conv2d_fwd(plan, x, w, b, y) == FC_OK, "fwd: %s", fc_last_error());
        EXPECT(same(y, ry, ny, &at), "%s fwd N%d C%d %dx%d K%d %dx%d s%d p%d: y[%zu] = %g, expected %g", fc_isa_name(isa), d.n, d.c,
               d.h, d.w, d.k, d.r, d.s, d.stride_h, d.pad_h, at, y[at], ry[at]);
        naive_conv_bwd(&d, x, w, dy, rdx, rdw, oh, ow);
        EXPECT(fc_f32_conv2d_bwd_data(plan, dy, w, dx) == FC_OK, "bwd_data: %s", fc_last_error());
        EXPECT(same(dx, rdx, nx, &at), "%s bwd_data N%d C%d %dx%d K%d %dx%d: dx[%zu] = %g, expected %g", fc_isa_name(isa), d.n, d.c,
               d.h, d.w, d.k, d.r, d.s, at, dx[at], rdx[at]);
        EXPECT(fc_f32_conv2d_bwd_filter(plan, x, dy, dw, db) == FC_OK, "bwd_filter: %s", fc_last_error());
        EXPECT(same(dw, rdw, nw, &at), "%s bwd_filter N%d C%d %dx%d K%d %dx%d: dw[%zu] = %g, expected %g", fc_isa_name(isa), d.n,
               d.c, d.h, d.w, d.k, d.r, d.s, at, dw[at], rdw[at]);
        float* rdb = malloc(d.k * 4);
        for (int k = 0; k < d.k; k++) {
            rdb[k] = 0.0f;
            for (int n = 0; n < d.n; n++)
                for (int q = 0; q < oh * ow; q++) rdb[k] += dy[((size_t)n * d.k + k) * oh * ow + q];
        }
        EXPECT(same(db, rdb, d.k, &at), "%s bwd_filter N%d C%d %dx%d K%d %dx%d: dbias[%zu] = %g, expected %g", fc_isa_name(isa),
               d.n, d.c, d.h, d.w, d.k, d.r, d.s, at, db[at], rdb[at]);
        free(rdb);
        memset(dw, 0, nw * 4);
        EXPECT(fc_f32_conv2d_bwd_filter(plan, x, dy, dw, NULL) == FC_OK, "bwd_filter without dbias: %s", fc_last_error());
        EXPECT(same(dw, rdw, nw, &at), "%s bwd_filter without dbias N%d C%d %dx%d K%d %dx%d: dw[%zu] = %g, expected %g",
               fc_isa_name(isa), d.n, d.c, d.h, d.w, d.k, d.r, d.s, at, dw[at], rdw[at]);
        if (failures > failed_before)
            printf("  (plan %s)\n", fc_f32_conv2d_plan_implementation(plan));
    }
    fc_f32_conv2d_plan_destroy(plan);
    free(x); free(w); free(b); free(dy); free(y); free(ry); free(dx); free(rdx); free(dw); free(rdw); free(db);
    return !refused;
}

static void conv_case(fc_isa isa, fc_conv2d_desc d)
{
    const char* const chosen[3] = { NULL, NULL, NULL };
    conv_case_with(isa, d, chosen);
}

/* A plan's workspace is allocated at creation for the thread count then, and sized again by the first call after the
 * count changes: created at 1 thread, run at 2 (every direction, against the naive loops) and back at 1. */
static void workspace_follows_threads(fc_isa isa)
{
    fc_conv2d_desc d = { 4, 8, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0 };
    int oh = 12, ow = 12;
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.k * d.c * 9, ny = (size_t)d.n * d.k * oh * ow, at = 0;
    float *x = filled(nx), *w = filled(nw), *b = filled(d.k), *dy = filled(ny);
    float *y = malloc(ny * 4), *ry = malloc(ny * 4), *dx = malloc(nx * 4), *rdx = malloc(nx * 4), *dw = malloc(nw * 4),
          *rdw = malloc(nw * 4);
    naive_conv(&d, x, w, b, ry, oh, ow);
    naive_conv_bwd(&d, x, w, dy, rdx, rdw, oh, ow);
    fc_set_num_threads(1);
    fc_conv2d_plan* plan = NULL;
    /* the GEMM entries: a packed B panel per thread, the largest part of their workspace */
    EXPECT(fc_f32_conv2d_plan_create_with(&d, isa, "im2col-gemm", "im2col-gemm", "im2col-gemm", &plan) == FC_OK,
           "workspace plan: %s", fc_last_error());
    if (plan) {
        int64_t one = fc_f32_conv2d_plan_workspace_bytes(plan);
        EXPECT(one > 0, "%s: a plan of %s holds %lld bytes of workspace", fc_isa_name(isa),
               fc_f32_conv2d_plan_implementation(plan), (long long)one);
        for (int t = 2; t >= 1; t--) {
            fc_set_num_threads(t);
            EXPECT(fc_f32_conv2d_fwd(plan, x, w, b, y) == FC_OK && same(y, ry, ny, &at), "%s fwd at %d threads after planning at 1",
                   fc_isa_name(isa), t);
            EXPECT(fc_f32_conv2d_bwd_data(plan, dy, w, dx) == FC_OK && same(dx, rdx, nx, &at), "%s bwd_data at %d threads",
                   fc_isa_name(isa), t);
            EXPECT(fc_f32_conv2d_bwd_filter(plan, x, dy, dw, NULL) == FC_OK && same(dw, rdw, nw, &at), "%s bwd_filter at %d threads",
                   fc_isa_name(isa), t);
            int64_t now = fc_f32_conv2d_plan_workspace_bytes(plan);
            if (t == 2)
                EXPECT(now > one, "%s: workspace %lld bytes at 2 threads, %lld at 1 (%s)", fc_isa_name(isa), (long long)now,
                       (long long)one, fc_f32_conv2d_plan_implementation(plan));
            else
                EXPECT(now == one, "%s: workspace back at 1 thread %lld bytes, %lld when planned", fc_isa_name(isa), (long long)now,
                       (long long)one);
        }
    }
    fc_f32_conv2d_plan_destroy(plan);
    EXPECT(fc_f32_conv2d_plan_workspace_bytes(NULL) == -1, "workspace of no plan");
    free(x); free(w); free(b); free(dy); free(y); free(ry); free(dx); free(rdx); free(dw); free(rdw);
}

/* What the fuzzer (fuzz_conv.c) found, kept as cases: strides and padding near 2^30 and INT_MAX overflowed the
 * kernels' 32-bit arithmetic (pooling's lane offsets and output-row range, the conv kernels' input rows), and plans
 * of tiny outputs declared gigabytes of workspace (lane kernels' padded copies, backward-filter columns). */
static void pool_case(fc_isa isa, fc_pool2d_desc d);

static void fuzz_findings(fc_isa isa)
{
    fc_pool2d_desc pools[] = { { 3, 5, 23, 6, 3, 5, 1, 1 << 30, 0, 0 }, { 3, 5, 23, 9, 3, 5, INT32_MAX, 4, 0, 0 } };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) pool_case(isa, pools[i]);
    /* a 65536 x 1 output whose input rows are 65536 * oh - 2^31 + 1: refused, with the reason */
    fc_conv2d_desc far = { 1, 1, 2, 1, 1, 1, 1, 65536, 1, INT32_MAX, 0, 1, 1, 0 };
    fc_conv2d_plan* plan = NULL;
    EXPECT(fc_f32_conv2d_plan_create(&far, isa, &plan) == FC_ERR_UNSUPPORTED && strstr(fc_last_error(), "32-bit"),
           "%s: padding 2^31 - 1 refused: %s", fc_isa_name(isa), fc_last_error());
    fc_f32_conv2d_plan_destroy(plan);
    fc_conv2d_desc strided[] = {
        { 3, 19, 19, 13, 15, 7, 1, 1 << 30, 1 << 30, 1 << 29, 1, 3, 3, 0 },          /* two output rows, both in the padding */
        { 3, 13, 19, 3, 4, 4, 4, 1 << 24, 1 << 24, 1 << 24, 4, 2, 1, 0 },            /* lane kernels: 24 GB of padded copy */
    };
    for (size_t i = 0; i < sizeof strided / sizeof strided[0]; i++) conv_case(isa, strided[i]);
    /* backward-filter of 14 positions over C*R*S = 1.6M: columns for 14 positions, not FC_KC (2 GB) */
    fc_conv2d_desc wide = { 1, 65535, 13, 3, 1, 5, 5, 2, 2, 3, 4, 1, 1, 0 };
    EXPECT(fc_f32_conv2d_plan_create(&wide, isa, &plan) == FC_OK && fc_f32_conv2d_plan_workspace_bytes(plan) < ((int64_t)1 << 30),
           "%s: workspace of a 14-position plan over C*R*S = 1.6M: %lld bytes (%s)", fc_isa_name(isa),
           plan ? (long long)fc_f32_conv2d_plan_workspace_bytes(plan) : -1LL, plan ? fc_f32_conv2d_plan_implementation(plan) : fc_last_error());
    fc_f32_conv2d_plan_destroy(plan);
    /* the same channels at stride 2 and 65535 columns of padding (5 x 65531 outputs): 3.4 GB of backward-data columns
     * at 512 per block; the GEMM's column blocks now narrow so one holds at most 32 MiB (or NR columns) */
    fc_conv2d_desc tall = { 1, 65535, 13, 3, 1, 5, 5, 2, 2, 0, 65535, 1, 3, 0 };
    EXPECT(fc_f32_conv2d_plan_create(&tall, isa, &plan) == FC_OK && fc_f32_conv2d_plan_workspace_bytes(plan) < ((int64_t)512 << 20),
           "%s: workspace of a 5 x 65531 plan over C*R*S = 1.6M: %lld bytes (%s)", fc_isa_name(isa),
           plan ? (long long)fc_f32_conv2d_plan_workspace_bytes(plan) : -1LL, plan ? fc_f32_conv2d_plan_implementation(plan) : fc_last_error());
    fc_f32_conv2d_plan_destroy(plan);
    /* narrowed blocks, partial last ones included, against the naive loops: C*R*S = 51200 rows over 256 positions */
    const char* const gemm[3] = { "im2col-gemm", "im2col-gemm", "im2col-gemm" };
    conv_case_with(isa, (fc_conv2d_desc){ 1, 2048, 16, 16, 2, 5, 5, 1, 1, 2, 2, 1, 1, 0 }, gemm);
}

/* every entry of every direction's table built for this ISA, forced on every case it applies to; an entry that
 * applies to none of them fails the test */
static void conv_entries(fc_isa isa, const fc_conv2d_desc* cases, size_t count)
{
    for (int dir = 0; dir < 3; dir++)
        for (int i = 0; i < fc_f32_conv2d_impl_count(dir); i++) {
            if (!fc_f32_conv2d_impl_built(dir, i, isa)) continue;
            const char* names[3] = { NULL, NULL, NULL };
            names[dir] = fc_f32_conv2d_impl_name(dir, i);
            int hits = 0;
            for (size_t c = 0; c < count; c++) hits += conv_case_with(isa, cases[c], names);
            EXPECT(hits > 0, "%s: direction %d entry %s applies to no edge case", fc_isa_name(isa), dir, names[dir]);
        }
}

/* Pooling: every entry of the implementation table x every op on this case, bit for bit against the naive loops
 * (memcmp: -0 is not +0). Inputs are small integers with -0 among them, so ties are common (the first maximum in
 * scan order must win, -0 before +0 too) and a -0 gradient must come out as the reference's 0 + -0 = +0. An entry
 * that does not apply answers FC_ERR_UNSUPPORTED; pool_hits counts where each entry ran, so that main can fail an
 * entry that no case reaches. */
enum { MAX_POOL_IMPLS = 16 };
static int pool_hits[MAX_POOL_IMPLS][4], pool_not_built[MAX_POOL_IMPLS][4];

static float* pool_filled(size_t n)
{
    float* p = filled(n);
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0.0f && i % 2) p[i] = -0.0f;
    return p;
}

static void pool_case(fc_isa isa, fc_pool2d_desc d)
{
    int oh = (d.h + 2 * d.pad_h - d.kernel_h) / d.stride_h + 1, ow = (d.w + 2 * d.pad_w - d.kernel_w) / d.stride_w + 1;
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * oh * ow;
    float *x = pool_filled(nx), *dy = pool_filled(ny), *out = malloc(nx * 4 > ny * 4 ? nx * 4 : ny * 4);
    float *ry[2] = { malloc(ny * 4), malloc(ny * 4) }, *rdx[2] = { calloc(nx, 4), calloc(nx, 4) }; /* [0] max, [1] average */
    naive_pool(&d, oh, ow, x, dy, ry, rdx);
    static const char* ops[] = { "max fwd", "max bwd", "avg fwd", "avg bwd" };
    int impls = fc_f32_pool2d_impl_count();
    EXPECT(impls >= 1 && impls <= MAX_POOL_IMPLS, "pool impl count %d", impls);
    for (int op = 0; op < 4; op++) {
        int bwd = op % 2, avg = op / 2;
        const float* want = bwd ? rdx[avg] : ry[avg];
        size_t n = bwd ? nx : ny, at = 0;
        int ran = 0;
        for (int e = -1; e < impls && e < MAX_POOL_IMPLS; e++) { /* -1: the table's own choice */
            const char* name = e < 0 ? NULL : fc_f32_pool2d_impl_name(e);
            memset(out, 0x7f, n * 4); /* every element must be written */
            fc_status st = fc_f32_pool2d_run(&d, isa, name, op, avg && bwd ? NULL : x, bwd ? dy : NULL, out);
            if (e >= 0 && st == FC_ERR_UNSUPPORTED) {
                if (strstr(fc_last_error(), "is not built for")) pool_not_built[e][isa] = 1;
                continue;
            }
            EXPECT(st == FC_OK, "%s pool %s by %s: %s", fc_isa_name(isa), ops[op], name ? name : "(chosen)", fc_last_error());
            if (st != FC_OK) continue;
            if (e >= 0) { pool_hits[e][isa]++; ran++; }
            for (at = 0; at < n && memcmp(&out[at], &want[at], 4) == 0; at++) {}
            EXPECT(at == n, "%s pool %s by %s, %dx%d x%d k%dx%d s%dx%d p%dx%d: [%zu] = %g, expected %g", fc_isa_name(isa), ops[op],
                   name ? name : "(chosen)", d.h, d.w, d.n * d.c, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.pad_h, d.pad_w,
                   at, at < n ? out[at] : 0, at < n ? want[at] : 0);
        }
        EXPECT(ran >= 1, "%s pool %s: no entry ran (loops always applies)", fc_isa_name(isa), ops[op]);
    }
    /* the four entry points of before the table, and the name of what they run */
    size_t at = 0;
    EXPECT(fc_f32_maxpool2d_fwd(&d, isa, x, out) == FC_OK && same(out, ry[0], ny, &at), "%s maxpool fwd: %s", fc_isa_name(isa), fc_last_error());
    EXPECT(fc_f32_maxpool2d_bwd(&d, isa, x, dy, out) == FC_OK && same(out, rdx[0], nx, &at), "%s maxpool bwd: %s", fc_isa_name(isa), fc_last_error());
    EXPECT(fc_f32_avgpool2d_fwd(&d, isa, x, out) == FC_OK && same(out, ry[1], ny, &at), "%s avgpool fwd: %s", fc_isa_name(isa), fc_last_error());
    EXPECT(fc_f32_avgpool2d_bwd(&d, isa, dy, out) == FC_OK && same(out, rdx[1], nx, &at), "%s avgpool bwd: %s", fc_isa_name(isa), fc_last_error());
    char prefix[32];
    snprintf(prefix, sizeof prefix, "native:%s:", fc_isa_name(isa));
    EXPECT(strncmp(fc_f32_pool2d_implementation(&d, isa, 1), prefix, strlen(prefix)) == 0, "pool implementation %s",
           fc_f32_pool2d_implementation(&d, isa, 1));
    free(x); free(dy); free(out); free(ry[0]); free(ry[1]); free(rdx[0]); free(rdx[1]);
}

/* the table's names, choices, refusals and FASTCONV_POOL_ALGO */
static void pool_table(void)
{
    int n = fc_f32_pool2d_impl_count();
    EXPECT(n >= 2 && strcmp(fc_f32_pool2d_impl_name(n - 1), "loops") == 0, "the portable loops come last");
    EXPECT(fc_f32_pool2d_impl_name(-1) == NULL && fc_f32_pool2d_impl_name(n) == NULL, "names outside the table are null");
    fc_pool2d_desc p1 = { 2, 3, 8, 32, 2, 2, 2, 2, 0, 0 }, p3 = { 2, 3, 16, 16, 3, 3, 2, 2, 0, 0 }, wide = { 1, 1, 3, 40, 1, 33, 1, 1, 0, 0 };
    static float x[2 * 3 * 16 * 32], y[2 * 3 * 16 * 32];
    EXPECT(fc_f32_pool2d_run(&p1, FC_ISA_AUTO, "no-such-entry", FC_POOL_MAX_FWD, x, NULL, y) == FC_ERR_INVALID_ARGUMENT &&
               strstr(fc_last_error(), "no-such-entry"), "an unknown entry is refused: %s", fc_last_error());
    EXPECT(fc_f32_pool2d_run(&p1, FC_ISA_AUTO, NULL, 4, x, NULL, y) == FC_ERR_INVALID_ARGUMENT, "op 4 is refused");
    EXPECT(fc_f32_pool2d_run(&p1, FC_ISA_AUTO, NULL, FC_POOL_MAX_BWD, x, NULL, y) == FC_ERR_INVALID_ARGUMENT &&
               strstr(fc_last_error(), "dy is null"), "max backward needs dy: %s", fc_last_error());
    EXPECT(fc_f32_pool2d_run(&p1, FC_ISA_AUTO, NULL, FC_POOL_AVG_BWD, NULL, x, y) == FC_OK, "average backward needs no x: %s",
           fc_last_error());
    EXPECT(fc_f32_pool2d_run(&p1, FC_ISA_SCALAR, "2x2s2", FC_POOL_MAX_FWD, x, NULL, y) == FC_ERR_UNSUPPORTED &&
               strstr(fc_last_error(), "not built for scalar"), "2x2s2 has no scalar build: %s", fc_last_error());
    EXPECT(strcmp(fc_f32_pool2d_implementation(&p1, FC_ISA_SCALAR, 1), "native:scalar:loops") == 0, "scalar runs the loops: %s",
           fc_f32_pool2d_implementation(&p1, FC_ISA_SCALAR, 1));
    if (fc_isa_supported(FC_ISA_AVX2)) {
        EXPECT(strcmp(fc_f32_pool2d_implementation(&p1, FC_ISA_AVX2, 1), "native:avx2:2x2s2") == 0, "%s",
               fc_f32_pool2d_implementation(&p1, FC_ISA_AVX2, 1));
        EXPECT(strcmp(fc_f32_pool2d_implementation(&p3, FC_ISA_AVX2, 1), "native:avx2:chunked+small-plane") == 0, "%s",
               fc_f32_pool2d_implementation(&p3, FC_ISA_AVX2, 1));
        EXPECT(strcmp(fc_f32_pool2d_implementation(&wide, FC_ISA_AVX2, 0), "native:avx2:loops") == 0, "%s",
               fc_f32_pool2d_implementation(&wide, FC_ISA_AVX2, 0));
        EXPECT(fc_f32_pool2d_run(&p3, FC_ISA_AVX2, "small-plane", FC_POOL_MAX_FWD, x, NULL, y) == FC_ERR_UNSUPPORTED &&
                   strstr(fc_last_error(), "does not apply to max forward"), "small-plane runs no forward: %s", fc_last_error());
        setenv("FASTCONV_POOL_ALGO", "chunked", 1);
        EXPECT(strcmp(fc_f32_pool2d_implementation(&p1, FC_ISA_AVX2, 1), "native:avx2:chunked") == 0, "forced: %s",
               fc_f32_pool2d_implementation(&p1, FC_ISA_AVX2, 1));
        EXPECT(fc_f32_maxpool2d_fwd(&wide, FC_ISA_AVX2, x, y) == FC_ERR_UNSUPPORTED && strstr(fc_last_error(), "FASTCONV_POOL_ALGO=chunked"),
               "a forced entry that does not apply is refused: %s", fc_last_error());
        EXPECT(fc_f32_pool2d_run(&wide, FC_ISA_AVX2, "loops", FC_POOL_MAX_FWD, x, NULL, y) == FC_OK, "a named entry beats the variable");
        setenv("FASTCONV_POOL_ALGO", "bogus", 1);
        EXPECT(fc_f32_maxpool2d_fwd(&p1, FC_ISA_AVX2, x, y) == FC_ERR_INVALID_ARGUMENT, "FASTCONV_POOL_ALGO=bogus is refused");
        unsetenv("FASTCONV_POOL_ALGO");
    }
}

static void gemm_case(fc_isa isa, int ta, int tb, int m, int n, int k)
{
    float *a = filled((size_t)m * k), *b = filled((size_t)k * n), *c = filled((size_t)m * n), *r = malloc((size_t)m * n * 4);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0;
            for (int l = 0; l < k; l++) acc += (ta ? a[l * m + i] : a[i * k + l]) * (tb ? b[j * k + l] : b[l * n + j]);
            r[i * n + j] = 2 * acc + c[i * n + j];
        }
    size_t at = 0;
    EXPECT(fc_f32_gemm(isa, ta, tb, m, n, k, 2.0f, a, ta ? m : k, b, tb ? k : n, 1.0f, c, n) == FC_OK, "gemm: %s", fc_last_error());
    EXPECT(same(c, r, (size_t)m * n, &at), "%s gemm ta%d tb%d %dx%dx%d: c[%zu] = %g, expected %g", fc_isa_name(isa), ta, tb, m, n, k,
           at, c[at], r[at]);
    free(a); free(b); free(c); free(r);
}

/* the first element where got differs from want bit for bit (NaN and signed zeros included), or n */
static size_t first_diff_bits(const float* want, const float* got, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&want[i], &got[i], sizeof(float)) != 0) return i;
    return n;
}

/* one op of FC_F32_ELTWISE_OPS on isa against its own expression; the inputs (x, or x and dy) before out and alpha */
#define ELT_EDGE_CASE(op, expr, ...)                                                                                  \
    {                                                                                                                 \
        for (size_t i = 0; i < n; i++) want[i] = (expr);                                                              \
        EXPECT(fc_f32_##op(isa, (int64_t)n, __VA_ARGS__, out, alpha) == FC_OK, #op " %s n %zu: %s", fc_isa_name(isa), n, fc_last_error()); \
        size_t at = first_diff_bits(want, out, n);                                                                    \
        EXPECT(at == n, #op " %s n %zu alpha %g: element %zu differs from its expression", fc_isa_name(isa), n, alpha, at); \
        EXPECT(fc_f32_##op(isa, -1, __VA_ARGS__, out, alpha) == FC_ERR_INVALID_ARGUMENT, #op " negative count");      \
        EXPECT(fc_f32_##op(isa, 1, __VA_ARGS__, NULL, alpha) == FC_ERR_INVALID_ARGUMENT, #op " null output");         \
    }
#define ELT_EDGE_FWD(op, expr) ELT_EDGE_CASE(op, expr, x)
#define ELT_EDGE_BWD(op, expr) ELT_EDGE_CASE(op, expr, x, dy)

/* every op of the list on lengths around the vector widths and the threading threshold, signed zeros and a NaN in x */
static void eltwise_list(fc_isa isa)
{
    const size_t lengths[] = { 1, 7, 8, 15, 16, 17, 33, 1000, (1 << 16) + 5 };
    const float alphas[] = { 0.0f, 0.125f, 1.0f };
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
        for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
            size_t n = lengths[l];
            float alpha = alphas[a];
            float *x = filled(n), *dy = filled(n), *want = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
            x[0] = -0.0f;
            if (n > 2) x[2] = NAN;
            FC_F32_ELTWISE_OPS(ELT_EDGE_FWD, ELT_EDGE_BWD)
            free(x); free(dy); free(want); free(out);
        }
}

/* |got - want| <= ops * eps * max(max |want|, 1) over n values: the parity tests' element-wise rule (Tolerance.cs) */
static int within(const float* got, const double* want, size_t n, double ops, size_t* at)
{
    double scale = 1.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= ops * 0x1p-24 * scale)) { *at = i; return 0; }
    return 1;
}

/* batch norm (training forward, inference forward, backward) of every variant against the formulas in double, on
 * planes around the vector widths and a batch above the threading threshold; the bounds are the C# parity tests' (an
 * m-term sum, 4m where a square root and products follow), plus 8 roundings of the per-channel arithmetic after it:
 * the running-statistics update, the constants of dx */
static void bnorm_case(fc_isa isa, int n, int c, int hw)
{
    size_t total = (size_t)n * c * hw;
    double m = (double)n * hw;
    float *x = filled(total), *dy = filled(total), *y = malloc(total * sizeof(float)), *dx = malloc(total * sizeof(float));
    float *gamma = filled(c), *beta = filled(c), *mean = malloc(c * sizeof(float)), *inv = malloc(c * sizeof(float));
    float *rm = filled(c), *rv = malloc(c * sizeof(float)), *dg = malloc(c * sizeof(float)), *db = malloc(c * sizeof(float));
    double *wy = malloc(total * sizeof(double)), *wdx = malloc(total * sizeof(double)), *wm = malloc(c * sizeof(double));
    double *wi = malloc(c * sizeof(double)), *wrm = malloc(c * sizeof(double)), *wrv = malloc(c * sizeof(double));
    double *wdg = malloc(c * sizeof(double)), *wdb = malloc(c * sizeof(double)), *wiy = malloc(total * sizeof(double));
    for (int ch = 0; ch < c; ch++) { rv[ch] = 1.0f + fabsf(small_int()); gamma[ch] += 0.5f; }
    for (int ch = 0; ch < c; ch++) {
        double s = 0, q = 0, g = 0, d = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) s += x[((size_t)i * c + ch) * hw + j];
        double mu = s / m;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) q += (x[((size_t)i * c + ch) * hw + j] - mu) * (x[((size_t)i * c + ch) * hw + j] - mu);
        double var = q / m, is = 1 / sqrt(var + 1e-5);
        double iscale = gamma[ch] / sqrt((double)rv[ch] + 1e-5);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t at = ((size_t)i * c + ch) * hw + j;
                wy[at] = gamma[ch] * (x[at] - mu) * is + beta[ch];
                wiy[at] = (x[at] - rm[ch]) * iscale + beta[ch];
                g += dy[at];
                d += dy[at] * (x[at] - mu) * is;
            }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t at = ((size_t)i * c + ch) * hw + j;
                wdx[at] = gamma[ch] * is / m * (m * dy[at] - g - (x[at] - mu) * is * d);
            }
        wm[ch] = mu; wi[ch] = is; wdg[ch] = d; wdb[ch] = g;
        wrm[ch] = 0.9 * rm[ch] + 0.1 * mu;
        wrv[ch] = 0.9 * rv[ch] + 0.1 * (m > 1 ? var * m / (m - 1) : var);
    }
    size_t at = 0;
    /* inference first: the training call updates the running statistics it reads */
    EXPECT(fc_f32_batch_norm_fwd_inference(isa, n, c, hw, x, gamma, beta, rm, rv, y, 1e-5f, 0) == FC_OK, "bn inference: %s", fc_last_error());
    EXPECT(within(y, wiy, total, 8, &at), "%s bn inference n%d c%d hw%d at %zu", fc_isa_name(isa), n, c, hw, at);
    /* with relu: bit for bit max(0, y) of the same call without it (the running statistics restored in between) */
    float *yr = malloc(total * sizeof(float)), *ref = malloc(total * sizeof(float)), *rm0 = malloc(c * sizeof(float));
    float *rv0 = malloc(c * sizeof(float)), *dxr = malloc(total * sizeof(float)), *g = malloc(total * sizeof(float));
    memcpy(rm0, rm, c * sizeof(float)); memcpy(rv0, rv, c * sizeof(float));
    EXPECT(fc_f32_batch_norm_fwd_inference(isa, n, c, hw, x, gamma, beta, rm, rv, yr, 1e-5f, 1) == FC_OK, "bn inference relu: %s", fc_last_error());
    EXPECT(fc_f32_relu_fwd(isa, (int64_t)total, y, ref) == FC_OK && memcmp(yr, ref, total * sizeof(float)) == 0,
           "%s bn inference relu n%d c%d hw%d: not relu of the plain call", fc_isa_name(isa), n, c, hw);
    EXPECT(fc_f32_batch_norm_fwd_training(isa, n, c, hw, x, gamma, beta, yr, mean, inv, rm, rv, 0.1f, 1e-5f, 1) == FC_OK,
           "bn training relu: %s", fc_last_error());
    memcpy(rm, rm0, c * sizeof(float)); memcpy(rv, rv0, c * sizeof(float));
    EXPECT(fc_f32_batch_norm_fwd_training(isa, n, c, hw, x, gamma, beta, y, mean, inv, rm, rv, 0.1f, 1e-5f, 0) == FC_OK,
           "bn training: %s", fc_last_error());
    EXPECT(fc_f32_relu_fwd(isa, (int64_t)total, y, ref) == FC_OK && memcmp(yr, ref, total * sizeof(float)) == 0,
           "%s bn training relu n%d c%d hw%d: not relu of the plain call", fc_isa_name(isa), n, c, hw);
    EXPECT(within(y, wy, total, 4 * hw, &at), "%s bn training y n%d c%d hw%d at %zu", fc_isa_name(isa), n, c, hw, at);
    EXPECT(within(mean, wm, c, m + 8, &at) && within(inv, wi, c, 4 * m + 8, &at), "%s bn statistics n%d c%d hw%d at %zu", fc_isa_name(isa), n, c, hw, at);
    EXPECT(within(rm, wrm, c, m + 8, &at) && within(rv, wrv, c, 4 * m + 8, &at), "%s bn running statistics n%d c%d hw%d at %zu", fc_isa_name(isa), n, c, hw, at);
    /* with relu: bit for bit the plain backward of relu_bwd(y, dy) */
    float *dgr = malloc(c * sizeof(float)), *dbr = malloc(c * sizeof(float));
    EXPECT(fc_f32_batch_norm_bwd(isa, n, c, hw, x, dy, gamma, beta, mean, inv, dxr, dgr, dbr, 1) == FC_OK, "bn backward relu: %s", fc_last_error());
    EXPECT(fc_f32_relu_bwd(isa, (int64_t)total, y, dy, g) == FC_OK &&
           fc_f32_batch_norm_bwd(isa, n, c, hw, x, g, gamma, NULL, mean, inv, dx, dg, db, 0) == FC_OK &&
           memcmp(dxr, dx, total * sizeof(float)) == 0 && memcmp(dgr, dg, c * sizeof(float)) == 0 && memcmp(dbr, db, c * sizeof(float)) == 0,
           "%s bn backward relu n%d c%d hw%d: not the plain backward of the masked gradient", fc_isa_name(isa), n, c, hw);
    free(yr); free(ref); free(rm0); free(rv0); free(dxr); free(g); free(dgr); free(dbr);
    EXPECT(fc_f32_batch_norm_bwd(isa, n, c, hw, x, dy, gamma, NULL, mean, inv, dx, dg, db, 0) == FC_OK, "bn backward: %s", fc_last_error());
    EXPECT(within(db, wdb, c, m + 8, &at) && within(dg, wdg, c, 4 * m + 8, &at), "%s bn dgamma/dbeta n%d c%d hw%d at %zu", fc_isa_name(isa), n, c, hw, at);
    EXPECT(within(dx, wdx, total, 8 * m, &at), "%s bn dx n%d c%d hw%d at %zu", fc_isa_name(isa), n, c, hw, at);
    free(x); free(dy); free(y); free(dx); free(gamma); free(beta); free(mean); free(inv); free(rm); free(rv); free(dg); free(db);
    free(wy); free(wdx); free(wm); free(wi); free(wrm); free(wrv); free(wdg); free(wdb); free(wiy);
}

static void bnorm_cases(fc_isa isa)
{
    const int shapes[][3] = { { 1, 1, 1 }, { 2, 3, 7 }, { 3, 2, 16 }, { 2, 5, 17 }, { 1, 4, 33 }, { 2, 3, 100 }, { 4, 16, 1024 }, { 3, 9, 1300 } };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) bnorm_case(isa, shapes[i][0], shapes[i][1], shapes[i][2]);
}

static void invalid_inputs(void)
{
    fc_conv2d_plan* plan = (fc_conv2d_plan*)1;
    fc_conv2d_desc d = { 1, 1, 3, 3, 1, 5, 5, 1, 1, 0, 0, 1, 1, 0 };
    EXPECT(fc_f32_conv2d_plan_create(&d, FC_ISA_AUTO, &plan) == FC_ERR_INVALID_ARGUMENT && plan == NULL,
           "a 5x5 kernel on a 3x3 input is refused and the plan pointer cleared");
    EXPECT(strstr(fc_last_error(), "does not fit") != NULL, "message: %s", fc_last_error());
    fc_conv2d_desc zero = { 1, 0, 3, 3, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0 };
    EXPECT(fc_f32_conv2d_plan_create(&zero, FC_ISA_AUTO, &plan) == FC_ERR_INVALID_ARGUMENT, "c = 0 is refused");
    EXPECT(strstr(fc_last_error(), "c must be >= 1, got 0") != NULL, "message: %s", fc_last_error());
    fc_conv2d_desc neg = { 1, 1, 3, 3, 1, 1, 1, 1, 1, -1, 0, 1, 1, 0 };
    EXPECT(fc_f32_conv2d_plan_create(&neg, FC_ISA_AUTO, &plan) == FC_ERR_INVALID_ARGUMENT, "negative padding is refused");
    fc_conv2d_desc act = { 1, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0, 1, 1, 7 };
    EXPECT(fc_f32_conv2d_plan_create(&act, FC_ISA_AUTO, &plan) == FC_ERR_INVALID_ARGUMENT, "unknown activation is refused");
    fc_conv2d_desc huge = { 1, 65536, 65536, 65536, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0 };
    EXPECT(fc_f32_conv2d_plan_create(&huge, FC_ISA_AUTO, &plan) != FC_OK, "an image of 2^48 elements is refused");
    EXPECT(fc_f32_conv2d_plan_create(NULL, FC_ISA_AUTO, &plan) == FC_ERR_INVALID_ARGUMENT, "null descriptor");
    EXPECT(fc_f32_conv2d_plan_create(&d, FC_ISA_AUTO, NULL) == FC_ERR_INVALID_ARGUMENT, "null plan pointer");
    fc_conv2d_desc ok = { 1, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0 };
    EXPECT(fc_f32_conv2d_plan_create(&ok, (fc_isa)42, &plan) == FC_ERR_INVALID_ARGUMENT, "unknown isa is refused");
    EXPECT(fc_f32_conv2d_plan_create(&ok, FC_ISA_AUTO, &plan) == FC_OK, "valid plan: %s", fc_last_error());
    float buf[9] = { 0 };
    EXPECT(fc_f32_conv2d_fwd(plan, NULL, buf, NULL, buf) == FC_ERR_INVALID_ARGUMENT, "null x");
    EXPECT(strstr(fc_last_error(), "x is null") != NULL, "message: %s", fc_last_error());
    EXPECT(fc_f32_conv2d_fwd(NULL, buf, buf, NULL, buf) == FC_ERR_INVALID_ARGUMENT, "null plan");
    EXPECT(fc_f32_conv2d_bwd_filter(plan, buf, buf, NULL, NULL) == FC_ERR_INVALID_ARGUMENT, "null dw");
    fc_f32_conv2d_plan_destroy(plan);
    fc_f32_conv2d_plan_destroy(NULL);

    /* forcing entries: by name through the API and FASTCONV_CONV_ALGO; refusals say why */
    fc_conv2d_desc five = { 1, 2, 8, 8, 3, 5, 5, 1, 1, 0, 0, 1, 1, 0 };
    EXPECT(fc_f32_conv2d_plan_create_with(&five, FC_ISA_AUTO, "winograd-2x2-3x3", NULL, NULL, &plan) == FC_ERR_UNSUPPORTED && !plan,
           "winograd forced on a 5x5 kernel is refused");
    EXPECT(strstr(fc_last_error(), "needs a 3x3 kernel") != NULL, "message: %s", fc_last_error());
    EXPECT(fc_f32_conv2d_plan_create_with(&five, FC_ISA_AUTO, NULL, "no-such-entry", NULL, &plan) == FC_ERR_UNSUPPORTED,
           "an unknown entry is refused");
    EXPECT(strstr(fc_last_error(), "im2col-gemm") != NULL, "the refusal lists the entries: %s", fc_last_error());
    EXPECT(fc_f32_conv2d_impl_count(3) == -1 && fc_f32_conv2d_impl_name(0, -1) == NULL && fc_f32_conv2d_impl_name(0, 999) == NULL,
           "table queries out of range");
    for (int dir = 0; dir < 3; dir++) {
        int last = fc_f32_conv2d_impl_count(dir) - 1;
        EXPECT(last >= 0 && !strcmp(fc_f32_conv2d_impl_name(dir, last), "im2col-gemm"), "direction %d ends with the GEMM", dir);
    }
    setenv("FASTCONV_CONV_ALGO", "winograd", 1);
    EXPECT(fc_f32_conv2d_plan_create(&five, FC_ISA_AUTO, &plan) == FC_ERR_INVALID_ARGUMENT, "a name in no table is refused");
    EXPECT(strstr(fc_last_error(), "'winograd'") != NULL, "message: %s", fc_last_error());
    setenv("FASTCONV_CONV_ALGO", "winograd-2x2-3x3", 1);
    EXPECT(fc_f32_conv2d_plan_create(&five, FC_ISA_AUTO, &plan) == FC_ERR_UNSUPPORTED, "an env-forced entry that does not apply");
    EXPECT(strstr(fc_last_error(), "FASTCONV_CONV_ALGO") != NULL, "message: %s", fc_last_error());
    setenv("FASTCONV_CONV_ALGO", "split-winograd-2x2-3x3,im2col-gemm", 1);
    EXPECT(fc_f32_conv2d_plan_create(&five, FC_ISA_AUTO, &plan) == FC_OK &&
               !strcmp(strchr(fc_f32_conv2d_plan_implementation(plan), 'f'),
                       "fwd=split-winograd-2x2-3x3,bwd_data=im2col-gemm,bwd_filter=split-winograd-2x2-3x3"),
           "per direction the first listed entry it has: %s", plan ? fc_f32_conv2d_plan_implementation(plan) : fc_last_error());
    fc_f32_conv2d_plan_destroy(plan);
    unsetenv("FASTCONV_CONV_ALGO");

    fc_pool2d_desc pd = { 1, 1, 4, 4, 2, 2, 2, 2, 2, 0 };
    EXPECT(fc_f32_maxpool2d_fwd(&pd, FC_ISA_AUTO, buf, buf) == FC_ERR_INVALID_ARGUMENT, "pool padding over half the kernel");
    fc_pool2d_desc big = { 1, 1, 2, 2, 3, 3, 1, 1, 0, 0 };
    EXPECT(fc_f32_maxpool2d_fwd(&big, FC_ISA_AUTO, buf, buf) == FC_ERR_INVALID_ARGUMENT, "pool kernel larger than the input");
    EXPECT(fc_f32_avgpool2d_bwd(NULL, FC_ISA_AUTO, buf, buf) == FC_ERR_INVALID_ARGUMENT, "null pool descriptor");
    EXPECT(fc_f32_gemm(FC_ISA_AUTO, 0, 0, 0, 1, 1, 1, buf, 1, buf, 1, 0, buf, 1) == FC_ERR_INVALID_ARGUMENT, "gemm m = 0");
    EXPECT(fc_f32_gemm(FC_ISA_AUTO, 0, 0, 2, 2, 2, 1, buf, 1, buf, 2, 0, buf, 2) == FC_ERR_INVALID_ARGUMENT, "gemm lda < k");
    EXPECT(fc_f32_gemm(FC_ISA_AUTO, 0, 0, 1, 1, 1, NAN, buf, 1, buf, 1, 0, buf, 1) == FC_ERR_INVALID_ARGUMENT, "gemm alpha NaN");
    EXPECT(fc_f32_relu_fwd(FC_ISA_AUTO, -1, buf, buf) == FC_ERR_INVALID_ARGUMENT, "relu negative count");
    EXPECT(fc_f32_bias_add_fwd(FC_ISA_AUTO, 1, 0, 1, buf, buf) == FC_ERR_INVALID_ARGUMENT, "bias c = 0");
    EXPECT(fc_f32_batch_norm_bwd(FC_ISA_AUTO, 1, 1, 1, buf, buf, buf, NULL, buf, buf, buf, buf, buf, 1) == FC_ERR_INVALID_ARGUMENT &&
               strstr(fc_last_error(), "beta is null") != NULL, "bn relu without beta: %s", fc_last_error());
    EXPECT(fc_f32_batch_norm_fwd_training(FC_ISA_AUTO, 1, 1, 1, buf, buf, buf, buf, buf, buf, buf, buf, 0.1f, 1e-5f, 2) ==
               FC_ERR_INVALID_ARGUMENT && strstr(fc_last_error(), "relu must be 0 or 1") != NULL, "bn relu 2: %s", fc_last_error());
    EXPECT(fc_f32_batch_norm_bwd(FC_ISA_AUTO, 1, 0, 1, buf, buf, buf, buf, buf, buf, buf, buf, buf, 0) == FC_ERR_INVALID_ARGUMENT &&
               strstr(fc_last_error(), "n, c and hw must be >= 1") != NULL, "bn c = 0: %s", fc_last_error());
    EXPECT(fc_f32_batch_norm_fwd_training(FC_ISA_AUTO, 1, 1, 1, buf, buf, buf, buf, buf, buf, buf, buf, 0.1f, 0.0f, 0) ==
               FC_ERR_INVALID_ARGUMENT && strstr(fc_last_error(), "epsilon") != NULL, "bn epsilon 0: %s", fc_last_error());
    EXPECT(fc_f32_batch_norm_fwd_training(FC_ISA_AUTO, 1, 1, 1, buf, buf, buf, buf, buf, buf, buf, buf, NAN, 1e-5f, 0) ==
               FC_ERR_INVALID_ARGUMENT && strstr(fc_last_error(), "momentum") != NULL, "bn momentum NaN: %s", fc_last_error());
    EXPECT(fc_f32_batch_norm_fwd_inference(FC_ISA_AUTO, 1, 1, 1, buf, buf, buf, buf, NULL, buf, 1e-5f, 0) == FC_ERR_INVALID_ARGUMENT &&
               strstr(fc_last_error(), "running_var is null") != NULL, "bn null running_var: %s", fc_last_error());
    EXPECT(fc_set_num_threads(0) == FC_ERR_INVALID_ARGUMENT, "0 threads");
    EXPECT(strcmp(fc_version(), "0.3.0") == 0, "version %s", fc_version());
}

int main(void)
{
    invalid_inputs();
    pool_table();
    const fc_isa isas[] = { FC_ISA_SCALAR, FC_ISA_AVX2, FC_ISA_AVX512 };
    for (size_t v = 0; v < sizeof isas / sizeof isas[0]; v++)
        if (fc_isa_supported(isas[v])) {
            workspace_follows_threads(isas[v]);
            fuzz_findings(isas[v]);
        }
    for (int t = 1; t <= 2; t++) {
        fc_set_num_threads(t);
        for (size_t v = 0; v < sizeof isas / sizeof isas[0]; v++) {
            fc_isa isa = isas[v];
            if (!fc_isa_supported(isa)) { printf("skip %s: not supported by this CPU\n", fc_isa_name(isa)); continue; }
            eltwise_list(isa);
            bnorm_cases(isa);
            /* n, c, h, w, k, r, s, stride h/w, pad h/w, dilation h/w, activation */
            fc_conv2d_desc convs[] = {
                { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0 },      /* one element */
                { 2, 3, 5, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1 },      /* odd sizes, padding, ReLU */
                { 3, 2, 9, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, 0 },     /* stride 2, K not a multiple of any MR */
                { 1, 4, 8, 8, 3, 3, 3, 1, 1, 0, 0, 2, 2, 0 },      /* dilation */
                { 2, 3, 7, 6, 4, 7, 6, 1, 1, 0, 0, 1, 1, 0 },      /* kernel as large as the input: 1x1 output */
                { 1, 2, 6, 6, 3, 2, 4, 3, 1, 2, 1, 1, 1, 0 },      /* rectangular, uneven strides */
                { 1, 37, 5, 5, 33, 1, 1, 1, 1, 0, 0, 1, 1, 0 },    /* 1x1, ragged M and N tiles */
                { 2, 19, 9, 7, 13, 1, 1, 1, 1, 0, 0, 1, 1, 1 },    /* 1x1 in place: a whole panel, a ragged one, M = 13, ReLU */
                { 1, 300, 8, 9, 9, 1, 1, 1, 1, 0, 0, 1, 1, 0 },    /* 1x1 in place with two k blocks (C = 300 > KC) */
                { 2, 19, 20, 17, 13, 1, 1, 1, 1, 0, 0, 1, 1, 0 },  /* 1x1, P = 340 > KC: backward-filter reads slices of x in place */
                { 1, 40, 12, 12, 17, 3, 3, 1, 1, 1, 1, 1, 1, 0 },  /* reduction 360 > KC: two k blocks */
                { 5, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1 },    /* several images per backward-filter item; direct paths */
                { 3, 2, 13, 21, 5, 5, 5, 1, 1, 0, 1, 1, 1, 0 },    /* direct 5x5 paths: uneven padding, a ragged second chunk */
                { 2, 2, 7, 6, 9, 5, 5, 1, 1, 2, 1, 1, 1, 1 },      /* direct forward: rows of 7 padded floats, 3 in a vector */
                { 1, 1, 40, 40, 2, 3, 3, 1, 1, 0, 0, 1, 1, 0 },    /* P = 1444 > NC: two column blocks */
                /* the AVX2 direct kernels (direct-avx2.inc): 8-lane flat positions, 6-channel forward panels, 2-channel x
                 * 6-tap filter-gradient tiles; output rows of 7, 8, 9, 13, 15, 16, 17 and 41 floats, ragged tails */
                { 1, 1, 11, 11, 7, 5, 5, 1, 1, 0, 0, 1, 1, 0 },    /* OW = 7, P = 49: one block split across threads */
                { 2, 1, 12, 12, 13, 5, 5, 1, 1, 0, 0, 1, 1, 1 },   /* OW = 8, K = 13 (panels 6 + 6 + 1), ReLU */
                { 1, 1, 13, 13, 5, 5, 5, 1, 1, 0, 0, 1, 1, 0 },    /* OW = 9, P = 81: a tail of one lane */
                { 1, 2, 9, 13, 5, 5, 5, 1, 1, 1, 2, 1, 1, 0 },     /* OW = 13, uneven padding, two channels */
                { 3, 1, 20, 19, 16, 5, 5, 1, 1, 0, 0, 1, 1, 0 },   /* OW = 15 */
                { 1, 1, 20, 20, 1, 5, 5, 1, 1, 0, 0, 1, 1, 1 },    /* OW = 16, one filter */
                { 2, 2, 21, 21, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1 },    /* OW = 17 */
                { 1, 1, 5, 5, 3, 5, 5, 1, 1, 0, 0, 1, 1, 0 },      /* one output position */
                { 2, 1, 6, 40, 4, 2, 6, 1, 1, 0, 3, 1, 1, 0 },     /* 2x6, OW = 41 */
                { 1, 2, 8, 9, 11, 4, 8, 1, 1, 2, 1, 1, 1, 0 },     /* C*R*S = 64, S = 8 */
                { 9, 1, 28, 28, 16, 5, 5, 1, 1, 0, 0, 1, 1, 0 },   /* filter gradient in two chunks of images (5 + 4) */
                { 3, 3, 12, 11, 9, 5, 5, 1, 1, 2, 2, 1, 1, 0 },    /* three channels, padding 2: C*R*S = 75 */
                { 2, 4, 10, 9, 17, 5, 5, 1, 1, 1, 2, 1, 1, 1 },    /* C*R*S = 100: 16 tap groups of 6 and one of 4; K = 17 */
                { 1, 3, 9, 10, 4, 7, 7, 1, 1, 3, 3, 1, 1, 0 },     /* 7x7 padding 3 on a plane smaller than 8x16 */
                { 3, 3, 40, 40, 5, 5, 5, 1, 1, 2, 2, 1, 1, 0 },    /* filter gradient: copies in chunks of 2 + 1 images */
                { 70, 1, 6, 6, 3, 3, 3, 1, 1, 0, 0, 1, 1, 0 },     /* filter gradient: steps of 48 + 22 images, P = 16 */
                /* backward-data with 16 input channels in the lanes (AVX-512 from 16 channels, not Winograd, not 1x1) */
                { 2, 17, 11, 13, 5, 3, 3, 2, 2, 1, 1, 1, 1, 0 },   /* stride 2, a second channel block of one */
                { 1, 16, 10, 19, 9, 3, 3, 1, 1, 2, 2, 2, 2, 1 },   /* dilation 2: output rows of 8 + 8 + 3 columns */
                { 2, 20, 9, 9, 6, 7, 7, 1, 1, 3, 3, 1, 1, 0 },     /* 7x7 padding 3: taps in the padding dropped */
                { 1, 32, 9, 9, 8, 1, 1, 2, 2, 0, 0, 1, 1, 0 },     /* 1x1 stride 2: inputs no tap reaches stay 0 */
                { 1, 16, 9, 8, 4, 3, 2, 2, 1, 1, 0, 1, 1, 0 },     /* uneven strides and padding */
                /* backward-filter (from K = 24 and C*R*S = 256) and, but for kernel splitting, forward with 32 output
                 * channels in the lanes */
                { 3, 11, 28, 28, 24, 5, 5, 1, 1, 2, 2, 1, 1, 1 },  /* two chunks of images: partial sums carried over */
                { 2, 16, 17, 19, 32, 3, 7, 1, 1, 2, 3, 2, 1, 0 },  /* 3x7, dilation 2x1: a kernel-row pair, 5 + 2 columns */
                { 2, 12, 16, 16, 33, 7, 7, 2, 2, 3, 3, 1, 1, 1 },  /* stride 2: a second block of one channel; ReLU */
            };
            for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) conv_case(isa, convs[i]);
            if (isa == FC_ISA_AVX2) { /* the shapes above reach the AVX2 direct kernels */
                fc_conv2d_plan* plan = NULL;
                EXPECT(fc_f32_conv2d_plan_create(&convs[15], isa, &plan) == FC_OK &&
                           strstr(fc_f32_conv2d_plan_implementation(plan), "fwd=direct-flat,") &&
                           strstr(fc_f32_conv2d_plan_implementation(plan), "bwd_filter=direct-flat"),
                       "AVX2 first layer: plan is %s", plan ? fc_f32_conv2d_plan_implementation(plan) : "none");
                fc_f32_conv2d_plan_destroy(plan);
            }
            /* Winograd F(2x2, 3x3) and the phase planes that feed it */
            fc_conv2d_desc winos[] = {
                { 2, 16, 7, 9, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1 },    /* odd output sizes, K not a multiple of MR, ReLU */
                { 1, 17, 6, 5, 16, 3, 3, 1, 1, 0, 0, 1, 1, 0 },    /* no padding: 4x3 output */
                { 1, 3, 5, 6, 4, 3, 3, 1, 1, 2, 2, 1, 1, 0 },      /* padding 2 (backward-data with padding 0) */
                { 2, 5, 6, 7, 3, 3, 3, 1, 1, 2, 0, 1, 1, 0 },      /* padding 2 x 0 */
                { 3, 20, 10, 40, 24, 3, 3, 1, 1, 1, 1, 1, 1, 0 },  /* 20 tiles a row: two vectors; blocks span images */
                { 1, 1, 3, 3, 1, 3, 3, 1, 1, 0, 0, 1, 1, 0 },      /* one output */
                { 1, 40, 34, 4, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1 },   /* many short rows, several blocks */
                { 1, 530, 6, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 0 },    /* C = 530 > 512: two reduction blocks in the GEMMs */
                /* space-to-depth: strided kernels 2s+1 .. 3s wide become 3x3 stride-1 over s*s phase planes */
                { 1, 3, 31, 27, 16, 11, 11, 4, 4, 0, 0, 1, 1, 1 }, /* AlexNet's first layer, small; ReLU */
                { 2, 4, 9, 10, 5, 5, 5, 2, 2, 1, 1, 1, 1, 0 },     /* 5x5 stride 2, padding */
                { 1, 2, 11, 9, 3, 6, 5, 2, 2, 2, 0, 1, 1, 0 },     /* 6x5 stride 2: taps past R are zeros; uneven padding */
                /* kernel splitting: stride-1 kernels of 4 to 6 taps as 2 x 2 blocks of 3x3 */
                { 3, 16, 12, 12, 32, 5, 5, 1, 1, 0, 0, 1, 1, 1 },  /* the training step's second layer, 3 images; ReLU */
                { 1, 3, 9, 8, 4, 4, 6, 1, 1, 1, 2, 1, 1, 0 },      /* 4x6, uneven padding */
                { 2, 5, 7, 7, 16, 5, 5, 1, 1, 2, 2, 1, 1, 0 },     /* 5x5 "same" */
            };
            for (size_t i = 0; i < sizeof winos / sizeof winos[0]; i++) conv_case(isa, winos[i]);
            /* the lane kernels (AVX2: 16 (or 8) input / 16 output channels in the lanes, AVX-512: 16 / 32): channel counts
             * around the lane widths, odd sizes, strides, padding, dilation, 1x1 */
            fc_conv2d_desc lanes[] = {
                { 2, 7, 9, 11, 9, 3, 3, 1, 1, 1, 1, 1, 1, 0 },     /* C 7, K 9: one partial block each way */
                { 1, 8, 7, 7, 8, 5, 5, 1, 1, 2, 2, 1, 1, 1 },      /* C 8, K 8, 5x5 "same", ReLU */
                { 2, 9, 10, 9, 7, 3, 5, 2, 2, 1, 2, 1, 1, 0 },     /* C 9: a second block of one; stride 2 */
                { 1, 15, 11, 13, 17, 3, 3, 1, 1, 2, 2, 2, 2, 1 },  /* dilation 2, K 17 */
                { 3, 16, 12, 12, 32, 5, 5, 1, 1, 0, 0, 1, 1, 0 },  /* the training step's second layer, 3 images */
                { 2, 17, 13, 9, 15, 4, 3, 2, 1, 0, 1, 1, 2, 0 },   /* uneven strides, padding and dilation */
                { 1, 24, 9, 9, 33, 7, 7, 1, 1, 3, 3, 1, 1, 0 },    /* 7x7 padding 3, K 33 */
                { 1, 33, 8, 10, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1 },   /* C 33, stride 2, ReLU */
                { 2, 16, 9, 9, 16, 1, 1, 2, 2, 0, 0, 1, 1, 0 },    /* 1x1 stride 2: inputs no tap reaches stay 0 */
                { 1, 9, 5, 5, 9, 1, 1, 1, 1, 0, 0, 1, 1, 0 },      /* 1x1 */
                { 1, 7, 1, 1, 7, 3, 3, 1, 1, 1, 1, 1, 1, 0 },      /* one pixel, padded */
                { 1, 8, 3, 20, 16, 3, 3, 1, 1, 0, 0, 1, 1, 0 },    /* one output row */
                { 5, 8, 40, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0 },   /* P = 1600: backward-filter in chunks of 2 images */
            };
            for (size_t i = 0; i < sizeof lanes / sizeof lanes[0]; i++) conv_case(isa, lanes[i]);
            { /* every entry on every case, at 1 and 2 threads */
                fc_conv2d_desc all[sizeof convs / sizeof convs[0] + sizeof winos / sizeof winos[0] + sizeof lanes / sizeof lanes[0]];
                size_t count = 0;
                for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) all[count++] = convs[i];
                for (size_t i = 0; i < sizeof winos / sizeof winos[0]; i++) all[count++] = winos[i];
                for (size_t i = 0; i < sizeof lanes / sizeof lanes[0]; i++) all[count++] = lanes[i];
                conv_entries(isa, all, count);
            }
            /* n, c, h, w, kh, kw, sh, sw, ph, pw */
            fc_pool2d_desc pools[] = {
                { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 },  { 2, 3, 4, 4, 2, 2, 2, 2, 0, 0 },  { 1, 2, 5, 7, 2, 2, 2, 2, 0, 0 },
                { 2, 2, 16, 16, 3, 3, 2, 2, 0, 0 }, { 1, 1, 7, 7, 3, 3, 2, 2, 1, 1 }, { 1, 2, 9, 40, 3, 3, 1, 1, 1, 1 },
                { 1, 1, 5, 70, 2, 5, 1, 3, 1, 2 },  { 1, 1, 3, 40, 1, 33, 1, 1, 0, 0 }, { 1, 1, 64, 66, 2, 2, 2, 2, 0, 0 },
                /* 2x2 stride 2: one row of 8 outputs, 17 (the last step overlaps), odd sizes (a row and a column no
                 * window covers), many planes (both threads) */
                { 1, 1, 4, 16, 2, 2, 2, 2, 0, 0 }, { 2, 3, 6, 34, 2, 2, 2, 2, 0, 0 }, { 1, 2, 7, 35, 2, 2, 2, 2, 0, 0 },
                { 2, 16, 32, 32, 2, 2, 2, 2, 0, 0 },
                /* small planes: 7 outputs a row (P3's shape), stride 1x2, 14 outputs of a 30-wide row (AVX-512 only),
                 * 68 output rows (too many), many planes */
                { 3, 5, 15, 15, 3, 3, 2, 2, 0, 0 }, { 1, 2, 12, 12, 2, 3, 1, 2, 0, 0 }, { 1, 2, 20, 30, 3, 3, 2, 2, 0, 0 },
                { 1, 1, 70, 12, 3, 3, 1, 1, 0, 0 }, { 64, 4, 16, 16, 3, 3, 2, 2, 0, 0 },
                /* chunked: windows 16 wide (AVX2: one output a chunk) and 17 (AVX-512 only), windows that tile the
                 * plane exactly, padding on every side over many planes */
                { 1, 1, 6, 30, 3, 16, 2, 1, 1, 8 }, { 1, 1, 9, 20, 2, 17, 1, 1, 0, 8 }, { 1, 2, 8, 12, 4, 4, 4, 4, 0, 0 },
                { 1, 4, 6, 9, 2, 3, 2, 3, 0, 0 },   { 2, 8, 33, 47, 3, 3, 2, 2, 1, 1 },
            };
            for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) pool_case(isa, pools[i]);
            gemm_case(isa, 0, 0, 1, 1, 1);
            gemm_case(isa, 0, 0, 13, 35, 7);
            gemm_case(isa, 1, 0, 9, 40, 330);
            gemm_case(isa, 0, 1, 17, 600, 3);
            gemm_case(isa, 1, 1, 8, 32, 64);
        }
    }
    /* every pool entry ran somewhere, and on every ISA this CPU runs that it is built for */
    for (int e = 0; e < fc_f32_pool2d_impl_count() && e < MAX_POOL_IMPLS; e++) {
        int any = 0;
        for (size_t v = 0; v < sizeof isas / sizeof isas[0]; v++) {
            fc_isa isa = isas[v];
            if (!fc_isa_supported(isa)) continue;
            any += pool_hits[e][isa];
            EXPECT(pool_hits[e][isa] > 0 || pool_not_built[e][isa], "pool entry %s applies to no %s case", fc_f32_pool2d_impl_name(e),
                   fc_isa_name(isa));
            printf("pool %-12s %-7s %3d runs%s\n", fc_f32_pool2d_impl_name(e), fc_isa_name(isa), pool_hits[e][isa],
                   pool_not_built[e][isa] ? " (not built)" : "");
        }
        EXPECT(any > 0, "pool entry %s ran on no case", fc_f32_pool2d_impl_name(e));
    }
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
