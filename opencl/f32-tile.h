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
