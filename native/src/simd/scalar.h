/* SIMD wrapper: portable scalar C (one float per "vector"), for CPUs without AVX2; a multiply and an add. */
#define FC_ISA_TAG scalar
#define FC_SUFFIX(name) name##__scalar
#define VLEN 1
typedef float vf;
#define vzero() 0.0f
#define vload(p) (*(p))
#define vstore(p, v) (*(p) = (v))
#define vset1(x) (x)
#define vfma(a, b, c) ((a) * (b) + (c))
#define vadd(a, b) ((a) + (b))
#define vsub(a, b) ((a) - (b))
#define vmax(a, b) ((a) > (b) ? (a) : (b))
/* 4 x 8 scalar accumulators */
#define FC_MR 4
#define FC_NV 8
#define vrelu_grad(x, dy) ((x) > 0.0f ? (dy) : 0.0f)
