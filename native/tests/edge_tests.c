/* Edge shapes and invalid descriptors for every ISA variant this CPU runs, against naive loops written here.
 * Built with AddressSanitizer and UndefinedBehaviorSanitizer (FASTCONV_TESTS=ON) and run by CTest and .ci/run:
 * every buffer is allocated at its exact size, so any read or write past an edge fails the run. */
#include <fastconv.h>

#include <math.h>
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

static int out_dim(int in, int k, int s, int p, int d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

static void naive_conv(const fc_conv2d_desc* d, const float* x, const float* w, const float* b, float* y, int oh, int ow)
{
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    float acc = 0;
                    for (int c = 0; c < d->c; c++)
                        for (int r = 0; r < d->r; r++)
                            for (int s = 0; s < d->s; s++) {
                                int ih = i * d->stride_h - d->pad_h + r * d->dilation_h;
                                int iw = j * d->stride_w - d->pad_w + s * d->dilation_w;
                                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) continue;
                                acc += x[((n * d->c + c) * d->h + ih) * d->w + iw] * w[((k * d->c + c) * d->r + r) * d->s + s];
                            }
                    if (b) acc += b[k];
                    if (d->activation == FC_ACTIVATION_RELU && acc < 0) acc = 0;
                    y[((n * d->k + k) * oh + i) * ow + j] = acc;
                }
}

static void naive_conv_bwd(const fc_conv2d_desc* d, const float* x, const float* w, const float* dy, float* dx, float* dw,
                           int oh, int ow)
{
    memset(dx, 0, sizeof(float) * d->n * d->c * d->h * d->w);
    memset(dw, 0, sizeof(float) * d->k * d->c * d->r * d->s);
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    float g = dy[((n * d->k + k) * oh + i) * ow + j];
                    for (int c = 0; c < d->c; c++)
                        for (int r = 0; r < d->r; r++)
                            for (int s = 0; s < d->s; s++) {
                                int ih = i * d->stride_h - d->pad_h + r * d->dilation_h;
                                int iw = j * d->stride_w - d->pad_w + s * d->dilation_w;
                                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) continue;
                                int xi = ((n * d->c + c) * d->h + ih) * d->w + iw, wi = ((k * d->c + c) * d->r + r) * d->s + s;
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                }
}

static int same(const float* a, const float* b, size_t n, size_t* at)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) { *at = i; return 0; }
    return 1;
}

static void conv_case(fc_isa isa, fc_conv2d_desc d)
{
    int oh = out_dim(d.h, d.r, d.stride_h, d.pad_h, d.dilation_h), ow = out_dim(d.w, d.s, d.stride_w, d.pad_w, d.dilation_w);
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.k * d.c * d.r * d.s, ny = (size_t)d.n * d.k * oh * ow;
    float *x = filled(nx), *w = filled(nw), *b = filled(d.k), *dy = filled(ny);
    float *y = malloc(ny * 4), *ry = malloc(ny * 4), *dx = malloc(nx * 4), *rdx = malloc(nx * 4);
    float *dw = malloc(nw * 4), *rdw = malloc(nw * 4), *db = malloc(d.k * 4);
    fc_conv2d_plan* plan = NULL;
    fc_status st = fc_f32_conv2d_plan_create(&d, isa, &plan);
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
    }
    fc_f32_conv2d_plan_destroy(plan);
    free(x); free(w); free(b); free(dy); free(y); free(ry); free(dx); free(rdx); free(dw); free(rdw); free(db);
}

static void pool_case(fc_isa isa, fc_pool2d_desc d)
{
    int oh = (d.h + 2 * d.pad_h - d.kernel_h) / d.stride_h + 1, ow = (d.w + 2 * d.pad_w - d.kernel_w) / d.stride_w + 1;
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * oh * ow;
    float *x = filled(nx), *dy = filled(ny), *y = malloc(ny * 4), *ry = malloc(ny * 4), *dx = malloc(nx * 4), *rdx = calloc(nx, 4);
    /* naive max pool, first maximum in scan order */
    for (int pl = 0; pl < d.n * d.c; pl++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int best = -1;
                for (int r = 0; r < d.kernel_h; r++)
                    for (int s = 0; s < d.kernel_w; s++) {
                        int ih = i * d.stride_h - d.pad_h + r, iw = j * d.stride_w - d.pad_w + s;
                        if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                        int idx = (pl * d.h + ih) * d.w + iw;
                        if (best < 0 || x[idx] > x[best]) best = idx;
                    }
                ry[(pl * oh + i) * ow + j] = x[best];
                rdx[best] += dy[(pl * oh + i) * ow + j];
            }
    size_t at = 0;
    EXPECT(fc_f32_maxpool2d_fwd(&d, isa, x, y) == FC_OK, "maxpool fwd: %s", fc_last_error());
    EXPECT(same(y, ry, ny, &at), "%s maxpool fwd %dx%d k%dx%d s%d p%d: y[%zu] = %g, expected %g", fc_isa_name(isa), d.h, d.w,
           d.kernel_h, d.kernel_w, d.stride_h, d.pad_h, at, y[at], ry[at]);
    EXPECT(fc_f32_maxpool2d_bwd(&d, isa, x, dy, dx) == FC_OK, "maxpool bwd: %s", fc_last_error());
    EXPECT(same(dx, rdx, nx, &at), "%s maxpool bwd %dx%d k%dx%d s%d p%d: dx[%zu] = %g, expected %g", fc_isa_name(isa), d.h, d.w,
           d.kernel_h, d.kernel_w, d.stride_h, d.pad_h, at, dx[at], rdx[at]);
    /* average pool: sums of small integers are exact, one division each */
    float area = (float)(d.kernel_h * d.kernel_w);
    memset(rdx, 0, nx * 4);
    for (int pl = 0; pl < d.n * d.c; pl++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                float acc = 0, share = dy[(pl * oh + i) * ow + j] / area;
                for (int r = 0; r < d.kernel_h; r++)
                    for (int s = 0; s < d.kernel_w; s++) {
                        int ih = i * d.stride_h - d.pad_h + r, iw = j * d.stride_w - d.pad_w + s;
                        if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                        acc += x[(pl * d.h + ih) * d.w + iw];
                        rdx[(pl * d.h + ih) * d.w + iw] += share;
                    }
                ry[(pl * oh + i) * ow + j] = acc / area;
            }
    EXPECT(fc_f32_avgpool2d_fwd(&d, isa, x, y) == FC_OK, "avgpool fwd: %s", fc_last_error());
    EXPECT(same(y, ry, ny, &at), "%s avgpool fwd %dx%d k%dx%d: y[%zu] = %g, expected %g", fc_isa_name(isa), d.h, d.w, d.kernel_h,
           d.kernel_w, at, y[at], ry[at]);
    EXPECT(fc_f32_avgpool2d_bwd(&d, isa, dy, dx) == FC_OK, "avgpool bwd: %s", fc_last_error());
    EXPECT(same(dx, rdx, nx, &at), "%s avgpool bwd %dx%d k%dx%d s%d p%d: dx[%zu] = %g, expected %g", fc_isa_name(isa), d.h, d.w,
           d.kernel_h, d.kernel_w, d.stride_h, d.pad_h, at, dx[at], rdx[at]);
    free(x); free(dy); free(y); free(ry); free(dx); free(rdx);
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
    EXPECT(fc_set_num_threads(0) == FC_ERR_INVALID_ARGUMENT, "0 threads");
    EXPECT(strcmp(fc_version(), "0.3.0") == 0, "version %s", fc_version());
}

int main(void)
{
    invalid_inputs();
    const fc_isa isas[] = { FC_ISA_SCALAR, FC_ISA_AVX2, FC_ISA_AVX512 };
    for (int t = 1; t <= 2; t++) {
        fc_set_num_threads(t);
        for (size_t v = 0; v < sizeof isas / sizeof isas[0]; v++) {
            fc_isa isa = isas[v];
            if (!fc_isa_supported(isa)) { printf("skip %s: not supported by this CPU\n", fc_isa_name(isa)); continue; }
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
            /* Winograd F(2x2, 3x3), forced on every ISA (and chosen by itself for AVX-512 from 16 channels) */
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
            for (int forced = 0; forced < 2; forced++) {
                if (forced) setenv("FASTCONV_CONV_ALGO", "winograd", 1);
                for (size_t i = 0; i < sizeof winos / sizeof winos[0]; i++) conv_case(isa, winos[i]);
                if (forced) {
                    fc_conv2d_plan* plan = NULL;
                    EXPECT(fc_f32_conv2d_plan_create(&winos[0], isa, &plan) == FC_OK && strstr(fc_f32_conv2d_plan_implementation(plan), "winograd"),
                           "FASTCONV_CONV_ALGO=winograd: %s plan is %s", fc_isa_name(isa), plan ? fc_f32_conv2d_plan_implementation(plan) : "none");
                    fc_f32_conv2d_plan_destroy(plan);
                    unsetenv("FASTCONV_CONV_ALGO");
                }
            }
            /* n, c, h, w, kh, kw, sh, sw, ph, pw */
            fc_pool2d_desc pools[] = {
                { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 },  { 2, 3, 4, 4, 2, 2, 2, 2, 0, 0 },  { 1, 2, 5, 7, 2, 2, 2, 2, 0, 0 },
                { 2, 2, 16, 16, 3, 3, 2, 2, 0, 0 }, { 1, 1, 7, 7, 3, 3, 2, 2, 1, 1 }, { 1, 2, 9, 40, 3, 3, 1, 1, 1, 1 },
                { 1, 1, 5, 70, 2, 5, 1, 3, 1, 2 },  { 1, 1, 3, 40, 1, 33, 1, 1, 0, 0 }, { 1, 1, 64, 66, 2, 2, 2, 2, 0, 0 },
            };
            for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) pool_case(isa, pools[i]);
            gemm_case(isa, 0, 0, 1, 1, 1);
            gemm_case(isa, 0, 0, 13, 35, 7);
            gemm_case(isa, 1, 0, 9, 40, 330);
            gemm_case(isa, 0, 1, 17, 600, 3);
            gemm_case(isa, 1, 1, 8, 32, 64);
        }
    }
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
