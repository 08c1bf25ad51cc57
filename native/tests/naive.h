/* The naive loops the C tests hold every ISA variant and implementation entry to (edge_tests.c, fuzz_conv.c): the
 * formulas as written, in float, summed in the order a reader would. With small-integer inputs every sum is exact,
 * so a fast path must equal them bit for bit. */
#ifndef FC_TESTS_NAIVE_H
#define FC_TESTS_NAIVE_H
#include <fastconv.h>
#include <math.h>
#include <stdint.h>
#include <string.h>


static inline void naive_conv(const fc_conv2d_desc* d, const float* x, const float* w, const float* b, float* y, int oh, int ow)
{
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    float acc = 0;
                    for (int c = 0; c < d->c; c++)
                        for (int r = 0; r < d->r; r++)
                            for (int s = 0; s < d->s; s++) {
                                int64_t ih = (int64_t)i * d->stride_h - d->pad_h + (int64_t)r * d->dilation_h;
                                int64_t iw = (int64_t)j * d->stride_w - d->pad_w + (int64_t)s * d->dilation_w;
                                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) continue;
                                acc += x[((n * d->c + c) * d->h + ih) * d->w + iw] * w[((k * d->c + c) * d->r + r) * d->s + s];
                            }
                    if (b) acc += b[k];
                    if (d->activation == FC_ACTIVATION_RELU && acc < 0) acc = 0;
                    y[((n * d->k + k) * oh + i) * ow + j] = acc;
                }
}

static inline void naive_conv_bwd(const fc_conv2d_desc* d, const float* x, const float* w, const float* dy, float* dx, float* dw,
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
                                int64_t ih = (int64_t)i * d->stride_h - d->pad_h + (int64_t)r * d->dilation_h;
                                int64_t iw = (int64_t)j * d->stride_w - d->pad_w + (int64_t)s * d->dilation_w;
                                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) continue;
                                int xi = (int)(((n * d->c + c) * d->h + ih) * d->w + iw), wi = ((k * d->c + c) * d->r + r) * d->s + s;
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                }
}

/* pooling: [0] max, [1] average; y[avg] the outputs, dx[avg] the input gradients of dy (dx zeroed here). Max takes a
 * window's first maximum in scan order, as every kernel must. */
static inline void naive_pool(const fc_pool2d_desc* dd, int oh, int ow, const float* x, const float* dy, float* y[2], float* dx[2])
{
    fc_pool2d_desc d = *dd;
    memset(dx[0], 0, sizeof(float) * d.n * d.c * d.h * d.w);
    memset(dx[1], 0, sizeof(float) * d.n * d.c * d.h * d.w);
    float area = (float)(d.kernel_h * d.kernel_w);
    for (int pl = 0; pl < d.n * d.c; pl++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int best = -1;
                float acc = 0, g = dy[(pl * oh + i) * ow + j], share = g / area;
                for (int r = 0; r < d.kernel_h; r++)
                    for (int s = 0; s < d.kernel_w; s++) {
                        int64_t ih = (int64_t)i * d.stride_h - d.pad_h + r, iw = (int64_t)j * d.stride_w - d.pad_w + s;
                        if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                        int idx = (int)((pl * d.h + ih) * d.w + iw);
                        if (best < 0 || x[idx] > x[best]) best = idx; /* the first maximum in scan order */
                        acc += x[idx];
                        dx[1][idx] += share;
                    }
                y[0][(pl * oh + i) * ow + j] = best < 0 ? -INFINITY : x[best]; /* a window of padding only */
                if (best >= 0) dx[0][best] += g;
                y[1][(pl * oh + i) * ow + j] = acc / area;
            }
}

#endif
