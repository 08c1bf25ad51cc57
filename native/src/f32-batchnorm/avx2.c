/* Batch normalisation compiled for the avx2 variant. */
#pragma GCC target("avx2,fma")
#include "../internal.h"
#include "../simd/avx2.h"
#include "batchnorm.inc"
