/* Pooling compiled for the avx2 variant: the portable loops of pool2d.inc. */
#pragma GCC target("avx2,fma")
#include "../internal.h"
#include "../simd/avx2.h"
#include "pool2d.inc"

const char* FC_SUFFIX(fc_pool2d_kind)(const fc_pool_geom* g, int max_pool)
{
    (void)g;
    (void)max_pool;
    return "direct";
}
