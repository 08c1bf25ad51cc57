/* The GEMM driver compiled for the scalar variant. */

#include "../internal.h"
#include "../simd/scalar.h"
#include "gemm.inc"
