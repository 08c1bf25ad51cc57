/* Convolution compiled for the avx2 variant. */
#pragma GCC target("avx2,fma")
#include "../internal.h"
#include "../simd/avx2.h"
#include <omp.h>
#include <string.h>
#define FC_DIRECT_AVX2 1
#include "direct-common.inc"
#include "direct-avx2.inc"
#include "conv2d.inc"
