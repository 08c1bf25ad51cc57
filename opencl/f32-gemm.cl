// GEMM, OpenCL C 1.2: c [M x N] = alpha . op(a) . op(b) + beta . c, row-major. Tiled as the convolution: a work-group
// computes TS_M x TS_N of c from TS_K slabs of op(a) and op(b) staged in local memory. beta = 0 never reads c.
#include "f32-tile.h"

// global (ceil(N/TS_N)*RTS_N, ceil(M/TS_M)*RTS_M)
__kernel __attribute__((reqd_work_group_size(RTS_N, RTS_M, 1)))
void fc_f32_gemm(int M, int N, int K, int trans_a, int trans_b, float alpha, __global const float* a,
                 __global const float* b, float beta, __global float* c)
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * RTS_N + tx;
    const int j0 = get_group_id(0) * TS_N, i0 = get_group_id(1) * TS_M;
    __local float As[TS_K][TS_M];
    __local float Bs[TS_K][TS_N];
    float acc[WPT_M][WPT_N];
    TILE_ZERO(acc)
    for (int l0 = 0; l0 < K; l0 += TS_K) {
        for (int e = tid; e < TS_K * TS_M; e += THREADS) {
            int l = trans_a ? e / TS_M : e % TS_K, ii = trans_a ? e % TS_M : e / TS_K;
            int gi = i0 + ii, gl = l0 + l;
            As[l][ii] = gi < M && gl < K ? (trans_a ? a[(long)gl * M + gi] : a[(long)gi * K + gl]) : 0.0f;
        }
        for (int e = tid; e < TS_K * TS_N; e += THREADS) {
            int l = trans_b ? e % TS_K : e / TS_N, jj = trans_b ? e / TS_K : e % TS_N;
            int gj = j0 + jj, gl = l0 + l;
            Bs[l][jj] = gj < N && gl < K ? (trans_b ? b[(long)gj * K + gl] : b[(long)gl * N + gj]) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_FMA(As, Bs, acc)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < WPT_M; i++) {
        int gi = i0 + ty + i * RTS_M;
        if (gi >= M) continue;
        for (int j = 0; j < WPT_N; j++) {
            int gj = j0 + tx + j * RTS_N;
            if (gj >= N) continue;
            long o = (long)gi * N + gj;
            c[o] = alpha * acc[i][j] + (beta == 0.0f ? 0.0f : beta * c[o]);
        }
    }
}
