// Convolution, OpenCL C 1.2, written for CPUs (PoCL) first and correct on any device. A work-item computes 16
// neighbouring outputs of one row as a float16, so the SIMD width comes from the vector type (PoCL turns float16 into
// one AVX-512 register), there are no barriers and no local memory, and the accumulators stay in registers:
//   forward          a work-item: KT output channels x 16 output columns; per (c, r, s) one 16-wide load of an input
//                    row (gathered only at the edges) and KT broadcast weights from a panel packed per call
//   backward-data    stride 1, dilation 1: the forward kernel on dy with flipped, transposed weights (with one output
//                    channel: 4 output rows per work-item); else a gather
//   backward-filter  a work-item: one (k, c) pair, R*S float16 accumulators, a walk over all n, oh and columns
//                    (4 channels x one kernel row per work-item, sharing each row load, measured slower on PoCL:
//                    C3 0.78 vs 0.69 ms, a 32->64 3x3 layer 9.1 vs 6.9 ms)
// The kernel size is a compile-time constant (KR, KS), so the (r, s) loops unroll; tunables are #ifndef defaults the
// host sets with -D (one program per option set, cached).
// On GPUs the host takes the GEMM path at the end of this file instead: forward and backward-filter as implicit GEMMs
// tiled in work-groups (f32-tile.h) with the im2col operand gathered into local memory (split-K partial sums for
// backward-filter, reduced in split order), backward-data by the gather kernel.
#include "f32-tile.h"

#ifndef KT
#define KT 16
#endif
#ifndef KR
#define KR 3
#endif
#ifndef KS
#define KS 3
#endif

// the conv geometry, passed as one int array: c h w k r s sh sw ph pw dh dw oh ow
#define G_C g[0]
#define G_H g[1]
#define G_W g[2]
#define G_K g[3]
#define G_SH g[6]
#define G_SW g[7]
#define G_PH g[8]
#define G_PW g[9]
#define G_DH g[10]
#define G_DW g[11]
#define G_OH g[12]
#define G_OW g[13]

// row[start + j*step] for the 16 lanes j whose output column ow0 + j < ow_end and whose input column is inside [0, w);
// in longs: a lane past the output row (j >= valid) may lie beyond 2^31 with a large stride
inline float16 gather16(__global const float* row, int start, int step, int w, int valid)
{
    float v[16];
    for (int j = 0; j < 16; j++) {
        long iw = start + (long)j * step;
        v[j] = j < valid && iw >= 0 && iw < w ? row[iw] : 0.0f;
    }
    return vload16(0, v);
}

// the first `valid` lanes of v to out (all 16 with one store)
inline void store16(float16 v, __global float* out, int valid)
{
    if (valid == 16) { vstore16(v, 0, out); return; }
    float t[16];
    vstore16(v, 0, t);
    for (int j = 0; j < valid; j++) out[j] = t[j];
}

// the epilogue of the forward kernels: + bias, ReLU, store 16 columns of output row oh for every channel of the block
#define STORE_OUTPUTS(acc, oh)                                                                                          \
    for (int q = 0; q < KT; q++) {                                                                                      \
        int k = kb * KT + q;                                                                                            \
        if (k >= K) break;                                                                                              \
        float16 v = acc[q] + (float16)(has_bias ? bias[k] : 0.0f);                                                      \
        if (relu) v = select((float16)(0.0f), v, isgreater(v, (float16)(0.0f)));                                        \
        store16(v, y + (((long)n * K + k) * OH + (oh)) * OW + ow0, min(16, OW - ow0));                                  \
    }

// the sum of the 16 lanes
inline float sum16(float16 v)
{
    float t[16];
    vstore16(v, 0, t);
    float s = 0.0f;
    for (int j = 0; j < 16; j++) s += t[j];
    return s;
}

// wp[kb][c][r][s][KT] = w[kb*KT + q][c][r][s] (zero past K), or for backward-data (flipped) the weights of the
// transposed convolution: wp[cb][k][r][s][KT] = w[k][cb*KT + q][KR-1-r][KS-1-s]. global (blocks * CRS * KT)
__kernel void fc_f32_conv2d_pack_weights(int out_ch, int in_ch, int flipped, __global const float* w, __global float* wp)
{
    long i = get_global_id(0);
    const int rs = KR * KS;
    long per_block = (long)in_ch * rs * KT;
    int blocks = (out_ch + KT - 1) / KT;
    if (i >= blocks * per_block) return;
    int b = (int)(i / per_block);
    long t = i - b * per_block;
    int l = (int)(t / KT), q = (int)(t % KT);
    int o = b * KT + q, c = l / rs, u = l % rs;
    float v = 0.0f;
    if (o < out_ch) {
        if (flipped) v = w[((long)c * out_ch + o) * rs + (rs - 1 - u)];      /* w is [in_ch][out_ch][R][S] here */
        else v = w[((long)o * in_ch + c) * rs + u];
    }
    wp[i] = v;
}

// y[n][k][oh][ow] = act(sum over (c, r, s) of w[k][c][r][s] x[n][c][oh*sh - ph + r*dh][ow*sw - pw + s*dw] + bias[k])
// global (ceil(OW/16), OH, N * ceil(K/KT))
__kernel void fc_f32_conv2d_fwd(__constant int* g, __global const float* x, __global const float* wp,
                                __global const float* bias, int has_bias, int relu, __global float* y)
{
    const int chunk = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    const int C = G_C, H = G_H, W = G_W, K = G_K, OW = G_OW, OH = G_OH;
    const int blocks = (K + KT - 1) / KT, kb = z % blocks, n = z / blocks;
    const int ow0 = chunk * 16;
    if (ow0 >= OW || oh >= OH) return;
    const int valid = min(16, OW - ow0), iw0 = ow0 * G_SW - G_PW;
    const int inside = G_SW == 1 && valid == 16 && iw0 >= 0 && iw0 + 15 + (KS - 1) * G_DW < W;
    __global const float* xn = x + (long)n * C * H * W;
    __global const float* wb = wp + (long)kb * C * KR * KS * KT;
    float16 acc[KT];
    #pragma unroll
    for (int q = 0; q < KT; q++) acc[q] = (float16)(0.0f);
    for (int c = 0; c < C; c++)
        #pragma unroll
        for (int r = 0; r < KR; r++) {
            int ih = oh * G_SH - G_PH + r * G_DH;
            __global const float* wr = wb + ((long)c * KR + r) * KS * KT;
            if (ih < 0 || ih >= H) continue;
            __global const float* row = xn + ((long)c * H + ih) * W;
            #pragma unroll
            for (int s = 0; s < KS; s++) {
                float16 xv = inside ? vload16(0, row + iw0 + s * G_DW) : gather16(row, iw0 + s * G_DW, G_SW, W, valid);
                __global const float* ws = wr + s * KT;
                #pragma unroll
                for (int q = 0; q < KT; q++) acc[q] = fma((float16)(ws[q]), xv, acc[q]);
            }
        }
    #pragma unroll
    STORE_OUTPUTS(acc, oh)
}

// The stride-1 path copies the input once per call into a zero-bordered buffer xp [N][C][HP][WP], HP = H + 2 ph,
// WP = 16 * ceil(OW/16) + KS - 1, so every 16-wide row load is in bounds and needs no mask. A work-item copies 16
// columns of a row (one 16-wide load and store inside the image). global (ceil(WP/16), HP, N*C)
__kernel void fc_f32_conv2d_pad_input(__constant int* g, int hp, int wp, __global const float* x, __global float* xp)
{
    const int j0 = 16 * get_global_id(0), i = get_global_id(1), plane = get_global_id(2);
    if (j0 >= wp || i >= hp) return;
    const int ih = i - G_PH, iw0 = j0 - G_PW, n = min(16, wp - j0);
    __global float* out = xp + ((long)plane * hp + i) * wp + j0;
    if (ih < 0 || ih >= G_H) {
        for (int j = 0; j < n; j++) out[j] = 0.0f;
        return;
    }
    __global const float* row = x + ((long)plane * G_H + ih) * G_W;
    if (n == 16 && iw0 >= 0 && iw0 + 16 <= G_W) {
        vstore16(vload16(0, row + iw0), 0, out);
        return;
    }
    for (int j = 0; j < n; j++) {
        int iw = iw0 + j;
        out[j] = iw >= 0 && iw < G_W ? row[iw] : 0.0f;
    }
}

// forward on the padded input (stride 1, dilation 1); global (ceil(OW/16), OH, N * ceil(K/KT))
__kernel void fc_f32_conv2d_fwd_padded(__constant int* g, int hp, int wp, __global const float* xp, __global const float* wpk,
                                       __global const float* bias, int has_bias, int relu, __global float* y)
{
    const int chunk = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    const int C = G_C, K = G_K, OW = G_OW, OH = G_OH;
    const int blocks = (K + KT - 1) / KT, kb = z % blocks, n = z / blocks;
    const int ow0 = chunk * 16;
    if (ow0 >= OW || oh >= OH) return;
    __global const float* xn = xp + (long)n * C * hp * wp + (long)oh * wp + ow0;
    __global const float* wb = wpk + (long)kb * C * KR * KS * KT;
    float16 acc[KT];
    #pragma unroll
    for (int q = 0; q < KT; q++) acc[q] = (float16)(0.0f);
    for (int c = 0; c < C; c++)
        #pragma unroll
        for (int r = 0; r < KR; r++) {
            __global const float* row = xn + ((long)c * hp + r) * wp;
            __global const float* wr = wb + ((long)c * KR + r) * KS * KT;
            #pragma unroll
            for (int s = 0; s < KS; s++) {
                float16 xv = vload16(0, row + s);
                #pragma unroll
                for (int q = 0; q < KT; q++) acc[q] = fma((float16)(wr[s * KT + q]), xv, acc[q]);
            }
        }
    #pragma unroll
    STORE_OUTPUTS(acc, oh)
}

#ifndef ROWS
#define ROWS 4
#endif
// forward on the padded input with one output channel per work-item (KT = 1: a layer with few output channels, such
// as the backward-data of a first layer on grey images): ROWS output rows x 16 columns, so each input row loaded
// serves up to KR of them and each weight, held in registers, ROWS of them (with one row per work-item, C3's
// backward-data did one weight load and one row load per 16-wide FMA: 1.32 ms). The padded buffer has ROWS - 1
// extra zero rows. global (ceil(OW/16), ceil(OH/ROWS), N * K). Built only into the programs of KT = 1.
#if KT == 1
__kernel void fc_f32_conv2d_fwd_padded_rows(__constant int* g, int hp, int wp, __global const float* xp,
                                            __global const float* wpk, __global const float* bias, int has_bias,
                                            int relu, __global float* y)
{
    const int chunk = get_global_id(0), oh0 = get_global_id(1) * ROWS, z = get_global_id(2);
    const int C = G_C, K = G_K, OW = G_OW, OH = G_OH;
    const int kb = z % K, n = z / K, ow0 = chunk * 16; /* KT = 1: block kb is output channel kb */
    if (ow0 >= OW || oh0 >= OH) return;
    __global const float* xn = xp + (long)n * C * hp * wp + (long)oh0 * wp + ow0;
    __global const float* wb = wpk + (long)kb * C * KR * KS;
    float16 acc[ROWS];
    #pragma unroll
    for (int j = 0; j < ROWS; j++) acc[j] = (float16)(0.0f);
    for (int c = 0; c < C; c++) {
        float wv[KR * KS];
        #pragma unroll
        for (int i = 0; i < KR * KS; i++) wv[i] = wb[(long)c * KR * KS + i];
        #pragma unroll
        for (int t = 0; t < ROWS + KR - 1; t++) {
            __global const float* row = xn + ((long)c * hp + t) * wp;
            #pragma unroll
            for (int s = 0; s < KS; s++) {
                float16 xv = vload16(0, row + s);
                #pragma unroll
                for (int j = 0; j < ROWS; j++)
                    if (t - j >= 0 && t - j < KR) acc[j] = fma((float16)(wv[(t - j) * KS + s]), xv, acc[j]);
            }
        }
    }
    #pragma unroll
    for (int j = 0; j < ROWS; j++) {
        if (oh0 + j >= OH) break;
        STORE_OUTPUTS((&acc[j]), oh0 + j)
    }
}
#endif

// backward-filter on the padded input (stride 1, dilation 1); one work-item per (c, k); global (C, K)
__kernel void fc_f32_conv2d_bwd_filter_padded(__constant int* g, int n_images, int hp, int wp, __global const float* xp,
                                              __global const float* dy, __global float* dw)
{
    const int c = get_global_id(0), k = get_global_id(1);
    const int C = G_C, K = G_K, OW = G_OW, OH = G_OH;
    if (c >= C || k >= K) return;
    float16 acc[KR * KS];
    #pragma unroll
    for (int i = 0; i < KR * KS; i++) acc[i] = (float16)(0.0f);
    for (int n = 0; n < n_images; n++)
        for (int oh = 0; oh < OH; oh++) {
            __global const float* dyr = dy + (((long)n * K + k) * OH + oh) * OW;
            __global const float* xr = xp + (((long)n * C + c) * hp + oh) * wp;
            for (int ow0 = 0; ow0 < OW; ow0 += 16) {
                float16 gv = ow0 + 16 <= OW ? vload16(0, dyr + ow0) : gather16(dyr, ow0, 1, OW, OW - ow0);
                #pragma unroll
                for (int r = 0; r < KR; r++)
                    #pragma unroll
                    for (int s = 0; s < KS; s++)
                        acc[r * KS + s] = fma(gv, vload16(0, xr + (long)r * wp + ow0 + s), acc[r * KS + s]);
            }
        }
    __global float* out = dw + ((long)k * C + c) * KR * KS;
    #pragma unroll
    for (int i = 0; i < KR * KS; i++) out[i] = sum16(acc[i]);
}

// dx[n][c][h][w] = sum over (k, r, s) with h = oh*sh - ph + r*dh, w = ow*sw - pw + s*dw of dy[n][k][oh][ow] * w[k][c][r][s]
// (any stride and dilation); global (W*H, C, N) flattened as (H*W, C*N)
__kernel void fc_f32_conv2d_bwd_data(__constant int* g, __global const float* dy, __global const float* w, __global float* dx)
{
    int hw = get_global_id(0), cn = get_global_id(1);
    if (hw >= G_H * G_W) return;
    int c = cn % G_C, n = cn / G_C, h = hw / G_W, x = hw - h * G_W;
    int P = G_OH * G_OW;
    __global const float* dyn = dy + (long)n * G_K * P;
    float acc = 0.0f;
    for (int k = 0; k < G_K; k++)
        #pragma unroll
        for (int r = 0; r < KR; r++) {
            int th = h + G_PH - r * G_DH;
            if (th < 0 || th % G_SH) continue;
            int oh = th / G_SH;
            if (oh >= G_OH) continue;
            #pragma unroll
            for (int s = 0; s < KS; s++) {
                int tw = x + G_PW - s * G_DW;
                if (tw < 0 || tw % G_SW) continue;
                int ow = tw / G_SW;
                if (ow >= G_OW) continue;
                acc = fma(dyn[(long)k * P + oh * G_OW + ow], w[(((long)k * G_C + c) * KR + r) * KS + s], acc);
            }
        }
    dx[((long)n * G_C + c) * G_H * G_W + hw] = acc;
}

// dw[k][c][r][s] = sum over (n, oh, ow) of dy[n][k][oh][ow] x[n][c][oh*sh - ph + r*dh][ow*sw - pw + s*dw];
// one work-item per (c, k), KR*KS float16 accumulators; global (C, K)
__kernel void fc_f32_conv2d_bwd_filter(__constant int* g, int n_images, __global const float* x, __global const float* dy,
                                       __global float* dw)
{
    const int c = get_global_id(0), k = get_global_id(1);
    const int C = G_C, H = G_H, W = G_W, K = G_K, OW = G_OW, OH = G_OH;
    if (c >= C || k >= K) return;
    float16 acc[KR * KS];
    #pragma unroll
    for (int i = 0; i < KR * KS; i++) acc[i] = (float16)(0.0f);
    for (int n = 0; n < n_images; n++)
        for (int oh = 0; oh < OH; oh++) {
            __global const float* dyr = dy + (((long)n * K + k) * OH + oh) * OW;
            for (int ow0 = 0; ow0 < OW; ow0 += 16) {
                const int valid = min(16, OW - ow0), iw0 = ow0 * G_SW - G_PW;
                const int inside = G_SW == 1 && valid == 16 && iw0 >= 0 && iw0 + 15 + (KS - 1) * G_DW < W;
                float16 gv = valid == 16 ? vload16(0, dyr + ow0) : gather16(dyr, ow0, 1, OW, valid);
                #pragma unroll
                for (int r = 0; r < KR; r++) {
                    int ih = oh * G_SH - G_PH + r * G_DH;
                    if (ih < 0 || ih >= H) continue;
                    __global const float* row = x + (((long)n * C + c) * H + ih) * W;
                    #pragma unroll
                    for (int s = 0; s < KS; s++) {
                        float16 xv = inside ? vload16(0, row + iw0 + s * G_DW) : gather16(row, iw0 + s * G_DW, G_SW, W, valid);
                        acc[r * KS + s] = fma(gv, xv, acc[r * KS + s]);
                    }
                }
            }
        }
    __global float* out = dw + ((long)k * C + c) * KR * KS;
    #pragma unroll
    for (int i = 0; i < KR * KS; i++) out[i] = sum16(acc[i]);
}

// column-matrix element (row l = (c, r, s), column p = (oh, ow)) of one image
inline float im2col(__global const float* x, __constant int* g, int l, int p)
{
    int rs = KR * KS, c = l / rs, t = l - c * rs, r = t / KS, s = t - r * KS;
    int oh = p / G_OW, ow = p - oh * G_OW;
    int ih = oh * G_SH - G_PH + r * G_DH, iw = ow * G_SW - G_PW + s * G_DW;
    return ih >= 0 && ih < G_H && iw >= 0 && iw < G_W ? x[(c * G_H + ih) * G_W + iw] : 0.0f;
}

// ---- the GEMM path (GPUs: work-group tiles in local memory)

// y[n] (K x P) = act(w (K x CRS) . col(x[n]) (CRS x P) + bias); global (ceil(P/TS_N)*RTS_N, ceil(K/TS_M)*RTS_M, N)
__kernel __attribute__((reqd_work_group_size(RTS_N, RTS_M, 1)))
void fc_f32_conv2d_fwd_gemm(__constant int* g, __global const float* x, __global const float* w, __global const float* bias,
                       int has_bias, int relu, __global float* y)
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * RTS_N + tx;
    const int p0 = get_group_id(0) * TS_N, k0 = get_group_id(1) * TS_M, n = get_group_id(2);
    const int K = G_K, P = G_OH * G_OW, KD = G_C * KR * KS;
    x += (long)n * G_C * G_H * G_W;
    y += (long)n * K * P;
    __local float As[TS_K][TS_M];
    __local float Bs[TS_K][TS_N];
    float acc[WPT_M][WPT_N];
    TILE_ZERO(acc)
    for (int l0 = 0; l0 < KD; l0 += TS_K) {
        for (int e = tid; e < TS_K * TS_M; e += THREADS) {
            int l = e % TS_K, kk = e / TS_K;
            As[l][kk] = k0 + kk < K && l0 + l < KD ? w[(long)(k0 + kk) * KD + l0 + l] : 0.0f;
        }
        for (int e = tid; e < TS_K * TS_N; e += THREADS) {
            int l = e / TS_N, pp = e % TS_N;
            Bs[l][pp] = l0 + l < KD && p0 + pp < P ? im2col(x, g, l0 + l, p0 + pp) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_FMA(As, Bs, acc)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < WPT_M; i++) {
        int k = k0 + ty + i * RTS_M;
        if (k >= K) continue;
        float b = has_bias ? bias[k] : 0.0f;
        for (int j = 0; j < WPT_N; j++) {
            int p = p0 + tx + j * RTS_N;
            if (p >= P) continue;
            float v = acc[i][j] + b;
            y[(long)k * P + p] = relu && !(v > 0.0f) ? 0.0f : v;
        }
    }
}

// partial dW for one split of the reduction over (n, p): part[split] (K x CRS) = sum over q in the split of
// dy[n][k][p] * col(x[n])[l][p], q = n*P + p. global (ceil(CRS/TS_N)*RTS_N, ceil(K/TS_M)*RTS_M, splits)
__kernel __attribute__((reqd_work_group_size(RTS_N, RTS_M, 1)))
void fc_f32_conv2d_bwd_filter_gemm(__constant int* g, int n_images, int per_split, __global const float* x,
                              __global const float* dy, __global float* part)
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * RTS_N + tx;
    const int l0 = get_group_id(0) * TS_N, k0 = get_group_id(1) * TS_M, split = get_group_id(2);
    const int K = G_K, P = G_OH * G_OW, KD = G_C * KR * KS;
    const long image = (long)G_C * G_H * G_W, total = (long)n_images * P;
    const long q_begin = (long)split * per_split, q_end = min(q_begin + per_split, total);
    __local float As[TS_K][TS_M];
    __local float Bs[TS_K][TS_N];
    float acc[WPT_M][WPT_N];
    TILE_ZERO(acc)
    for (long q0 = q_begin; q0 < q_end; q0 += TS_K) {
        for (int e = tid; e < TS_K * TS_M; e += THREADS) {
            int qq = e % TS_K, kk = e / TS_K;
            long q = q0 + qq;
            float v = 0.0f;
            if (q < q_end && k0 + kk < K) {
                int n = (int)(q / P), p = (int)(q - (long)n * P);
                v = dy[((long)n * K + k0 + kk) * P + p];
            }
            As[qq][kk] = v;
        }
        for (int e = tid; e < TS_K * TS_N; e += THREADS) {
            int qq = e / TS_N, ll = e % TS_N;
            long q = q0 + qq;
            float v = 0.0f;
            if (q < q_end && l0 + ll < KD) {
                int n = (int)(q / P), p = (int)(q - (long)n * P);
                v = im2col(x + n * image, g, l0 + ll, p);
            }
            Bs[qq][ll] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_FMA(As, Bs, acc)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    __global float* out = part + (long)split * K * KD;
    for (int i = 0; i < WPT_M; i++) {
        int k = k0 + ty + i * RTS_M;
        if (k >= K) continue;
        for (int j = 0; j < WPT_N; j++) {
            int l = l0 + tx + j * RTS_N;
            if (l < KD) out[(long)k * KD + l] = acc[i][j];
        }
    }
}

// dw = sum of the splits' partial products, in split order (deterministic); global (K*CRS)
__kernel void fc_f32_conv2d_bwd_filter_reduce(int count, int splits, __global const float* part, __global float* dw)
{
    int i = get_global_id(0);
    if (i >= count) return;
    float s = 0.0f;
    for (int t = 0; t < splits; t++) s += part[(long)t * count + i];
    dw[i] = s;
}
