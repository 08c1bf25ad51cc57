/* Convolution compiled for the avx512 variant. */
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")
#include "../internal.h"
#include "../simd/avx512.h"
#include <omp.h>
#include <string.h>
#include "direct-common.inc"
#include "transpose-avx2.inc"
#include "direct-avx512.inc"
#include "conv2d.inc"
