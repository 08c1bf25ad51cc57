/* Pooling compiled for the scalar variant: the portable loops of pool2d.inc (the "loops" entry). */

#include "../internal.h"
#include "../simd/scalar.h"
#include "pool2d.inc"
