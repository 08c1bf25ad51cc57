/* SIMD wrapper: AVX2 + FMA (8 floats). */
#include <immintrin.h>
#define FC_ISA_TAG avx2
#define FC_SUFFIX(name) name##__avx2
#define VLEN 8
typedef __m256 vf;
#define vzero() _mm256_setzero_ps()
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps((p), (v))
#define vset1(x) _mm256_set1_ps(x)
#define vfma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define vadd(a, b) _mm256_add_ps((a), (b))
#define vsub(a, b) _mm256_sub_ps((a), (b))
#define vmax(a, b) _mm256_max_ps((a), (b))
/* 6 x 16: 12 accumulators of the 16 ymm registers; 4 x 16 (8) for the last 4 or 8 rows of A (gemm.inc: fc_panel_rows) */
#define FC_MR 6
#define FC_MR_SHORT 4
#define FC_NV 2
#define vrelu_grad(x, dy) _mm256_and_ps(_mm256_cmp_ps((x), _mm256_setzero_ps(), _CMP_GT_OQ), (dy))
