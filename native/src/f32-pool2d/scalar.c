/* Pooling compiled for the scalar variant: the portable loops of pool2d.inc. */

#include "../internal.h"
#include "../simd/scalar.h"
#include "pool2d.inc"

const char* FC_SUFFIX(fc_pool2d_kind)(const fc_pool_geom* g, int max_pool)
{
    (void)g;
    (void)max_pool;
    return "direct";
}
