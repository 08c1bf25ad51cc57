// Work-group tiling shared by the GEMM-shaped kernels (f32-gemm.cl, and f32-conv2d.cl's GEMM path): a work-group
// computes TS_M x TS_N outputs from TS_K slabs staged in local memory, each work-item WPT_M x WPT_N of them.
// Included by the host, which inlines #include "f32-tile.h" lines before building.
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

// acc (WPT_M x WPT_N, private) += the TS_K slab As [TS_K][TS_M] x Bs [TS_K][TS_N] staged in local memory;
// work-item (tx, ty) owns rows ty + i*RTS_M and columns tx + j*RTS_N of the tile
#define TILE_FMA(As, Bs, acc)                                                                                           \
    for (int l_ = 0; l_ < TS_K; l_++) {                                                                                 \
        float a_[WPT_M], b_[WPT_N];                                                                                     \
        for (int i_ = 0; i_ < WPT_M; i_++) a_[i_] = As[l_][ty + i_ * RTS_M];                                            \
        for (int j_ = 0; j_ < WPT_N; j_++) b_[j_] = Bs[l_][tx + j_ * RTS_N];                                            \
        for (int i_ = 0; i_ < WPT_M; i_++)                                                                              \
            for (int j_ = 0; j_ < WPT_N; j_++) acc[i_][j_] = fma(a_[i_], b_[j_], acc[i_][j_]);                          \
    }

// acc = 0
#define TILE_ZERO(acc)                                                                                                  \
    for (int i_ = 0; i_ < WPT_M; i_++)                                                                                  \
        for (int j_ = 0; j_ < WPT_N; j_++) acc[i_][j_] = 0.0f;
