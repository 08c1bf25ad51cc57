// Convolution, OpenCL C 1.2. Forward and backward-filter are tiled implicit GEMMs: a work-group computes a
// TS_M x TS_N tile of the output (channels x positions, or channels x reduction rows), each work-item a
// WPT_M x WPT_N register tile, and the im2col operand is gathered into local memory one TS_K slab at a time, so the
// column matrix never exists. Backward-data of a stride-1, dilation-1 convolution runs the forward kernel on dy with
// flipped, transposed weights; any other backward-data uses the gather kernel. Tunables are #ifndef defaults the host
// may set with -D.
#ifndef TS_M
#define TS_M 64
#endif
#ifndef TS_N
#define TS_N 64
#endif
#ifndef TS_K
#define TS_K 16
#endif
#ifndef WPT_M
#define WPT_M 4
#endif
#ifndef WPT_N
#define WPT_N 4
#endif
#define RTS_M (TS_M / WPT_M)
#define RTS_N (TS_N / WPT_N)
#define THREADS (RTS_M * RTS_N)

// the conv geometry, passed as one int array: c h w k r s sh sw ph pw dh dw oh ow
#define G_C g[0]
#define G_H g[1]
#define G_W g[2]
#define G_K g[3]
#define G_R g[4]
#define G_S g[5]
#define G_SH g[6]
#define G_SW g[7]
#define G_PH g[8]
#define G_PW g[9]
#define G_DH g[10]
#define G_DW g[11]
#define G_OH g[12]
#define G_OW g[13]

// column-matrix element (row l = (c, r, s), column p = (oh, ow)) of one image
inline float im2col(__global const float* x, __constant int* g, int l, int p)
{
    int rs = G_R * G_S, c = l / rs, t = l - c * rs, r = t / G_S, s = t - r * G_S;
    int oh = p / G_OW, ow = p - oh * G_OW;
    int ih = oh * G_SH - G_PH + r * G_DH, iw = ow * G_SW - G_PW + s * G_DW;
    return ih >= 0 && ih < G_H && iw >= 0 && iw < G_W ? x[(c * G_H + ih) * G_W + iw] : 0.0f;
}

// y[n] (K x P) = act(w (K x CRS) . col(x[n]) (CRS x P) + bias); global (ceil(P/TS_N)*RTS_N, ceil(K/TS_M)*RTS_M, N)
__kernel __attribute__((reqd_work_group_size(RTS_N, RTS_M, 1)))
void fc_f32_conv2d_fwd(__constant int* g, __global const float* x, __global const float* w, __global const float* bias,
                       int has_bias, int relu, __global float* y)
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * RTS_N + tx;
    const int p0 = get_group_id(0) * TS_N, k0 = get_group_id(1) * TS_M, n = get_group_id(2);
    const int K = G_K, P = G_OH * G_OW, KD = G_C * G_R * G_S;
    x += (long)n * G_C * G_H * G_W;
    y += (long)n * K * P;
    __local float As[TS_K][TS_M];
    __local float Bs[TS_K][TS_N];
    float acc[WPT_M][WPT_N];
    for (int i = 0; i < WPT_M; i++)
        for (int j = 0; j < WPT_N; j++) acc[i][j] = 0.0f;
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
        for (int l = 0; l < TS_K; l++) {
            float a[WPT_M], b[WPT_N];
            for (int i = 0; i < WPT_M; i++) a[i] = As[l][ty + i * RTS_M];
            for (int j = 0; j < WPT_N; j++) b[j] = Bs[l][tx + j * RTS_N];
            for (int i = 0; i < WPT_M; i++)
                for (int j = 0; j < WPT_N; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
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

// wt[c][k][r][s] = w[k][c][R-1-r][S-1-s]: the weights of backward-data as a forward convolution; global (K*C*R*S)
__kernel void fc_f32_conv2d_flip_weights(__constant int* g, __global const float* w, __global float* wt)
{
    int i = get_global_id(0), rs = G_R * G_S, total = G_K * G_C * rs;
    if (i >= total) return;
    int c = i / (G_K * rs), t = i - c * G_K * rs, k = t / rs, u = t - k * rs, r = u / G_S, s = u - r * G_S;
    wt[i] = w[((long)k * G_C + c) * rs + (G_R - 1 - r) * G_S + (G_S - 1 - s)];
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
        for (int r = 0; r < G_R; r++) {
            int th = h + G_PH - r * G_DH;
            if (th < 0 || th % G_SH) continue;
            int oh = th / G_SH;
            if (oh >= G_OH) continue;
            for (int s = 0; s < G_S; s++) {
                int tw = x + G_PW - s * G_DW;
                if (tw < 0 || tw % G_SW) continue;
                int ow = tw / G_SW;
                if (ow >= G_OW) continue;
                acc = fma(dyn[(long)k * P + oh * G_OW + ow], w[(((long)k * G_C + c) * G_R + r) * G_S + s], acc);
            }
        }
    dx[((long)n * G_C + c) * G_H * G_W + hw] = acc;
}

// partial dW for one split of the reduction over (n, p): part[split] (K x CRS) = sum over q in the split of
// dy[n][k][p] * col(x[n])[l][p], q = n*P + p. global (ceil(CRS/TS_N)*RTS_N, ceil(K/TS_M)*RTS_M, splits)
__kernel __attribute__((reqd_work_group_size(RTS_N, RTS_M, 1)))
void fc_f32_conv2d_bwd_filter(__constant int* g, int n_images, int per_split, __global const float* x,
                              __global const float* dy, __global float* part)
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * RTS_N + tx;
    const int l0 = get_group_id(0) * TS_N, k0 = get_group_id(1) * TS_M, split = get_group_id(2);
    const int K = G_K, P = G_OH * G_OW, KD = G_C * G_R * G_S;
    const long image = (long)G_C * G_H * G_W, total = (long)n_images * P;
    const long q_begin = (long)split * per_split, q_end = min(q_begin + per_split, total);
    __local float As[TS_K][TS_M];
    __local float Bs[TS_K][TS_N];
    float acc[WPT_M][WPT_N];
    for (int i = 0; i < WPT_M; i++)
        for (int j = 0; j < WPT_N; j++) acc[i][j] = 0.0f;
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
        for (int qq = 0; qq < TS_K; qq++) {
            float a[WPT_M], b[WPT_N];
            for (int i = 0; i < WPT_M; i++) a[i] = As[qq][ty + i * RTS_M];
            for (int j = 0; j < WPT_N; j++) b[j] = Bs[qq][tx + j * RTS_N];
            for (int i = 0; i < WPT_M; i++)
                for (int j = 0; j < WPT_N; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
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
