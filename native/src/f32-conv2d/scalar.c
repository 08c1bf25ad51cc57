/* Convolution compiled for the scalar variant. */

#include "../internal.h"
#include "../simd/scalar.h"
#include "conv2d.inc"
