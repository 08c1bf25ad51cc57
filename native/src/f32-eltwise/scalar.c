/* Element-wise ops compiled for the scalar variant. */

#include "../internal.h"
#include "../simd/scalar.h"
#include "eltwise.inc"
