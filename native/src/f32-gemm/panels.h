/* The row panels of a packed GEMM A operand, per ISA (included after the SIMD wrapper, simd/<isa>.h): fc_gemm_pack_a
 * writes them, the GEMM drivers (gemm.inc) and Winograd's filter packing (f32-conv2d/winograd.inc) walk them. */
#ifndef FC_GEMM_PANELS_H
#define FC_GEMM_PANELS_H

/* A's row panels (fc_gemm_pack_a): FC_MR rows each, a last partial one zero-padded; where the ISA has FC_MR_SHORT
 * (AVX2: 6 x 16 and 4 x 16), a remainder of 4 rows (m = 6q + 4) is one 4-row panel and one of 2 (m = 6q + 2, m >= 8)
 * takes the last 8 rows as two, so 16, 32 and 64 rows fill every panel (6-row panels alone spend 11 % of the
 * multiply-adds of 16 or 32 rows on padding, 3 % of 64's). No panel before the last is padded, so a panel's data
 * start at i0 * kd. */
#ifdef FC_MR_SHORT
_Static_assert(FC_MR == 6 && FC_MR_SHORT == 4, "fc_panel_rows splits remainders of 6-row panels into 4-row ones");
static inline int fc_short_rows_from(int m)
{
    int r = m % FC_MR;
    return r == 4 ? m - 4 : r == 2 && m >= 8 ? m - 8 : m;
}
static inline int fc_panel_rows(int m, int i0) { return i0 >= fc_short_rows_from(m) ? FC_MR_SHORT : FC_MR; }
#else
static inline int fc_panel_rows(int m, int i0)
{
    (void)m; (void)i0;
    return FC_MR;
}
#endif

#endif
