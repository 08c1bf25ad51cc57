/* Convolution compiled for the avx2 variant. */
#pragma GCC target("avx2,fma")
#include "../internal.h"
#include "../simd/avx2.h"
#include <omp.h>
#include <string.h>
#include "direct-common.inc"
#include "direct-avx2.inc"
#include "transpose-avx2.inc"
#include "lanes-avx2.inc"
#include "conv2d.inc"
