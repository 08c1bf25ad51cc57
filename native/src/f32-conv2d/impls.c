/* The convolution implementation tables, built from impls.def: per direction the entries in order, each with its
 * run, supports, pays and workspace functions per ISA it is built for (NULL elsewhere). */
#include "../internal.h"

#define FC_IF_0(...)
#define FC_IF_1(...) __VA_ARGS__
#define FC_VARIANT(dir, id, isa)                                                                                      \
    [FC_ISA_##isa] = { fc_conv_##dir##_##id##__##isa, fc_conv_##dir##_##id##_supports__##isa,                          \
                       fc_conv_##dir##_##id##_pays__##isa, fc_conv_##dir##_##id##_workspace__##isa },
#define FC_ENTRY(dir, id, name, phases, s_, a_, x_)                                                                 \
    { name, phases,                                                                                                    \
      { FC_IF_##s_(FC_VARIANT(dir, id, scalar)) FC_IF_##a_(FC_VARIANT(dir, id, avx2))                                  \
            FC_IF_##x_(FC_VARIANT(dir, id, avx512)) } },
#define FC_CONV_IMPL(dir, ...) FC_TAKE_##dir(FC_ENTRY(dir, __VA_ARGS__))

/* the scalar variant's fields are named SCALAR, AVX2, AVX512 in fc_isa */
#define FC_ISA_scalar FC_ISA_SCALAR
#define FC_ISA_avx2 FC_ISA_AVX2
#define FC_ISA_avx512 FC_ISA_AVX512

#define FC_TAKE_fwd(...) __VA_ARGS__
#define FC_TAKE_bwd_data(...)
#define FC_TAKE_bwd_filter(...)
static const fc_conv_impl fwd[] = {
#include "impls.def"
};
#undef FC_TAKE_fwd
#undef FC_TAKE_bwd_data
#define FC_TAKE_fwd(...)
#define FC_TAKE_bwd_data(...) __VA_ARGS__
static const fc_conv_impl bwd_data[] = {
#include "impls.def"
};
#undef FC_TAKE_bwd_data
#undef FC_TAKE_bwd_filter
#define FC_TAKE_bwd_data(...)
#define FC_TAKE_bwd_filter(...) __VA_ARGS__
static const fc_conv_impl bwd_filter[] = {
#include "impls.def"
};

const fc_conv_impl* const fc_conv_impls[3] = { fwd, bwd_data, bwd_filter };
const int fc_conv_impl_counts[3] = { sizeof fwd / sizeof fwd[0], sizeof bwd_data / sizeof bwd_data[0],
                                     sizeof bwd_filter / sizeof bwd_filter[0] };
