/* SIMD wrapper: AVX-512 (16 floats). Included by the avx512.c file of each op, after its target pragma. */
#include <immintrin.h>
#define FC_ISA_TAG avx512
#define FC_SUFFIX(name) name##__avx512
#define VLEN 16
typedef __m512 vf;
#define vzero() _mm512_setzero_ps()
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps((p), (v))
#define vset1(x) _mm512_set1_ps(x)
#define vfma(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define vadd(a, b) _mm512_add_ps((a), (b))
#define vsub(a, b) _mm512_sub_ps((a), (b))
#define vmax(a, b) _mm512_max_ps((a), (b))
/* GEMM register tile: MR rows of NV vectors (8 x 32: 16 accumulators) */
#define FC_MR 8
#define FC_NV 2
/* dy where x > 0, else 0 */
#define vrelu_grad(x, dy) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((x), _mm512_setzero_ps(), _CMP_GT_OQ), (dy))
