/* A libFuzzer target on the C API (FASTCONV_FUZZ=ON, clang): each input decodes into a convolution or pooling
 * descriptor and a thread count. Sizes are mostly small and sometimes extreme (0, negative, 2^16, 2^30, INT_MAX...),
 * the values overflow checks must catch. Every call must return, FC_OK or an error with a message; nothing may crash,
 * hang or touch memory outside its buffers (ASan, UBSan). Where the tensors are small, every entry point runs on every
 * ISA the CPU runs and must equal the naive loops (naive.h) bit for bit on small-integer inputs; a difference aborts.
 * .ci/run runs it for a fixed time; `build/fuzz/native/fastconv_fuzz -max_total_time=N` runs it as long as asked. */
#include <fastconv.h>
#include "naive.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bytes {
    const uint8_t* p;
    size_t n;
} bytes;

static uint8_t take(bytes* b)
{
    if (!b->n) return 0;
    b->n--;
    return *b->p++;
}

/* a field: small (0 .. range-1) for most bytes, else one of the values that break index arithmetic */
static int32_t field(bytes* b, int range)
{
    static const int32_t extreme[] = { 0, -1, 1 << 16, 1 << 20, 1 << 30, INT_MAX, INT_MIN, 65535, 4097, 1 << 24, 46341, 3 };
    uint8_t v = take(b);
    if (v < 232) return v % range;
    return extreme[(v - 232) % (sizeof extreme / sizeof extreme[0])];
}

static char current[256]; /* the case being run, for the report (FASTCONV_FUZZ_PRINT=1: every case) */

static void describe(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void describe(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(current, sizeof current, fmt, ap);
    va_end(ap);
    if (getenv("FASTCONV_FUZZ_PRINT")) fprintf(stderr, "fastconv_fuzz: %s\n", current);
}

static void fail(const char* what, const char* detail)
{
    fprintf(stderr, "fastconv_fuzz: %s%s%s\n  case: %s\n", what, detail ? ": " : "", detail ? detail : "", current);
    abort();
}

/* an error must carry its reason */
static void expect_status(fc_status st, const char* call)
{
    if (st != FC_OK && !fc_last_error()[0]) fail("an error without a message from", call);
}

static float* ints(int64_t n)
{
    float* p = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)((int)(i * 7919 % 9) - 4);
    return p;
}

static int equal(const float* a, const float* b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

/* a product of sizes, INT64_MAX where a factor is negative or it overflows */
static int64_t product(int count, const int64_t* f)
{
    int64_t p = 1;
    for (int i = 0; i < count; i++)
        if (f[i] < 0 || __builtin_mul_overflow(p, f[i], &p)) return INT64_MAX;
    return p;
}
#define PRODUCT(...) product(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t), (int64_t[]){ __VA_ARGS__ })

static const fc_isa isas[] = { FC_ISA_SCALAR, FC_ISA_AVX2, FC_ISA_AVX512 };

static void conv(bytes* b)
{
    fc_conv2d_desc d = { field(b, 5), field(b, 20), field(b, 20), field(b, 20), field(b, 20), field(b, 8), field(b, 8),
                         field(b, 5), field(b, 5), field(b, 5), field(b, 5), field(b, 4), field(b, 4), field(b, 3) };
    describe("conv2d N%d C%d %dx%d K%d %dx%d stride %dx%d pad %dx%d dilation %dx%d act %d, %d threads", d.n, d.c, d.h, d.w,
             d.k, d.r, d.s, d.stride_h, d.stride_w, d.pad_h, d.pad_w, d.dilation_h, d.dilation_w, d.activation, fc_get_num_threads());
    int32_t oh = 0, ow = 0;
    fc_status geometry = fc_conv2d_output_size(&d, &oh, &ow);
    expect_status(geometry, "fc_conv2d_output_size");
    int64_t nx = PRODUCT(d.n, d.c, d.h, d.w), nw = PRODUCT(d.k, d.c, d.r, d.s), ny = PRODUCT(d.n, d.k, oh, ow);
    int small = geometry == FC_OK && nx <= 1 << 15 && nw <= 1 << 15 && ny <= 1 << 15 && PRODUCT(ny, d.c, d.r, d.s) <= 1 << 22;
    float *x = NULL, *w = NULL, *bias = NULL, *dy = NULL, *ry = NULL, *rdx = NULL, *rdw = NULL, *out = NULL;
    if (small) {
        x = ints(nx); w = ints(nw); bias = ints(d.k); dy = ints(ny);
        ry = malloc((size_t)ny * 4 + 4); rdx = malloc((size_t)nx * 4 + 4); rdw = malloc((size_t)nw * 4 + 4);
        out = malloc((size_t)(nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw)) * 4 + 4);
        naive_conv(&d, x, w, bias, ry, oh, ow);
        naive_conv_bwd(&d, x, w, dy, rdx, rdw, oh, ow);
    }
    /* large valid geometries are only checked by fc_conv2d_output_size: their plans may rightly need gigabytes */
    int plannable = geometry != FC_OK || (nx <= 1 << 22 && nw <= 1 << 22 && ny <= 1 << 22);
    for (size_t v = 0; v < sizeof isas / sizeof isas[0] && plannable; v++) {
        if (!fc_isa_supported(isas[v])) continue;
        fc_conv2d_plan* plan = NULL;
        fc_status st = fc_f32_conv2d_plan_create(&d, isas[v], &plan);
        expect_status(st, "fc_f32_conv2d_plan_create");
        if (geometry != FC_OK && st == FC_OK) fail("a plan for a geometry fc_conv2d_output_size refuses", fc_f32_conv2d_plan_implementation(plan));
        if (st != FC_OK) continue;
        if (small) {
            const char* impl = fc_f32_conv2d_plan_implementation(plan);
            expect_status(st = fc_f32_conv2d_fwd(plan, x, w, bias, out), "fc_f32_conv2d_fwd");
            if (st != FC_OK || !equal(out, ry, ny)) fail("forward differs from the naive loops", impl);
            expect_status(st = fc_f32_conv2d_bwd_data(plan, dy, w, out), "fc_f32_conv2d_bwd_data");
            if (st != FC_OK || !equal(out, rdx, nx)) fail("backward-data differs from the naive loops", impl);
            expect_status(st = fc_f32_conv2d_bwd_filter(plan, x, dy, out, NULL), "fc_f32_conv2d_bwd_filter");
            if (st != FC_OK || !equal(out, rdw, nw)) fail("backward-filter differs from the naive loops", impl);
        }
        fc_f32_conv2d_plan_destroy(plan);
    }
    free(x); free(w); free(bias); free(dy); free(ry); free(rdx); free(rdw); free(out);
}

static void pool(bytes* b)
{
    fc_pool2d_desc d = { field(b, 4), field(b, 6), field(b, 24), field(b, 24), field(b, 6), field(b, 6),
                         field(b, 5), field(b, 5), field(b, 4), field(b, 4) };
    describe("pool2d N%d C%d %dx%d kernel %dx%d stride %dx%d pad %dx%d, %d threads", d.n, d.c, d.h, d.w, d.kernel_h,
             d.kernel_w, d.stride_h, d.stride_w, d.pad_h, d.pad_w, fc_get_num_threads());
    int32_t oh = 0, ow = 0;
    fc_status geometry = fc_pool2d_output_size(&d, &oh, &ow);
    expect_status(geometry, "fc_pool2d_output_size");
    int64_t nx = PRODUCT(d.n, d.c, d.h, d.w), ny = PRODUCT(d.n, d.c, oh, ow);
    int small = geometry == FC_OK && nx <= 1 << 16 && ny <= 1 << 16 && PRODUCT(ny, d.kernel_h, d.kernel_w) <= 1 << 22;
    if (!small) {
        /* a geometry the library refuses is refused by every entry point before it reads a pointer */
        static float one;
        for (size_t v = 0; v < sizeof isas / sizeof isas[0] && geometry != FC_OK; v++)
            if (fc_isa_supported(isas[v])) {
                fc_status st = fc_f32_maxpool2d_fwd(&d, isas[v], &one, &one);
                expect_status(st, "fc_f32_maxpool2d_fwd");
                if (st == FC_OK) fail("pooling ran a geometry fc_pool2d_output_size refuses", NULL);
            }
        return;
    }
    float *x = ints(nx), *dy = ints(ny), *y[2] = { malloc((size_t)ny * 4 + 4), malloc((size_t)ny * 4 + 4) };
    float *dx[2] = { malloc((size_t)nx * 4 + 4), malloc((size_t)nx * 4 + 4) }, *out = malloc((size_t)(nx > ny ? nx : ny) * 4 + 4);
    naive_pool(&d, oh, ow, x, dy, y, dx);
    for (size_t v = 0; v < sizeof isas / sizeof isas[0]; v++) {
        fc_isa isa = isas[v];
        if (!fc_isa_supported(isa)) continue;
        const char* impl = fc_f32_pool2d_implementation(&d, isa, 1);
        fc_status st;
        expect_status(st = fc_f32_maxpool2d_fwd(&d, isa, x, out), "fc_f32_maxpool2d_fwd");
        if (st != FC_OK || !equal(out, y[0], ny)) fail("max pooling forward differs from the naive loops", impl);
        expect_status(st = fc_f32_maxpool2d_bwd(&d, isa, x, dy, out), "fc_f32_maxpool2d_bwd");
        if (st != FC_OK || !equal(out, dx[0], nx)) fail("max pooling backward differs from the naive loops", impl);
        expect_status(st = fc_f32_avgpool2d_fwd(&d, isa, x, out), "fc_f32_avgpool2d_fwd");
        if (st != FC_OK || !equal(out, y[1], ny)) fail("average pooling forward differs from the naive loops", impl);
        expect_status(st = fc_f32_avgpool2d_bwd(&d, isa, dy, out), "fc_f32_avgpool2d_bwd");
        if (st != FC_OK || !equal(out, dx[1], nx)) fail("average pooling backward differs from the naive loops", impl);
    }
    free(x); free(dy); free(y[0]); free(y[1]); free(dx[0]); free(dx[1]); free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bytes b = { data, size };
    uint8_t head = take(&b);
    fc_set_num_threads(1 + (head >> 7));
    if (head & 1) pool(&b);
    else conv(&b);
    return 0;
}
