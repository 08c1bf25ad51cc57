/* Batch normalisation compiled for the scalar variant. */

#include "../internal.h"
#include "../simd/scalar.h"
#include "batchnorm.inc"
