/* Pooling, AVX-512 variant: three entries of the implementation table (dispatch.c) besides the portable loops.
 * chunked (fc_pool_chunked__avx512): each output row 16 outputs (a "chunk") at a time: the input columns a chunk's
 *   windows cover (at most 32) are loaded with two masked loads per input row, and every window column s is picked
 *   out of them with one two-source permute (lane -> lane*stride + s). Max pooling keeps a per-lane "best so far" in
 *   scan order (strictly greater wins, so ties stay with the first maximum) and, for backward, the winning (r, s).
 *   Backward scatters each lane's gradient back with the inverse permute, window columns in descending order, which
 *   adds into every dx element in the reference's order (outputs row by row). Windows up to 32 columns wide.
 * 2x2s2 (fc_pool_2x2s2__avx512): the 2x2 stride-2 window without padding, by even/odd two-source permutes; backward
 *   writes each dx element once.
 * small-plane (fc_pool_small_plane__avx512): backward of unpadded planes up to 32 wide whose output rows are one
 *   chunk, each dx row built in registers and stored once.
 * Threads split the channel planes. */
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")
#include "../internal.h"
#include "../simd/avx512.h"
#include "pool2d.inc"

typedef struct chunking {
    int ch;                /* outputs per chunk */
    __m512i gather[32];    /* per window column s: lane -> lane*sw + s */
    __m512i inv_lo[32], inv_hi[32];  /* per s: segment column j -> lane (j - s)/sw */
    __mmask16 inv_mlo[32], inv_mhi[32];
    __m512i lane_sw;       /* lane * sw */
} chunking;

static int chunk_width(const fc_pool2d_desc* d) { return fc_pool_chunk(d, 32, 16); }

static void make_chunking(const fc_pool2d_desc* d, chunking* c)
{
    int sw = d->stride_w, ch = c->ch = chunk_width(d);
    int lane[16];
    for (int i = 0; i < 16; i++) lane[i] = i < ch ? i * sw : 0; /* lanes past the chunk are masked off (and i * sw may overflow) */
    c->lane_sw = _mm512_loadu_si512(lane);
    for (int s = 0; s < d->kernel_w; s++) {
        int g[16], lo[16], hi[16];
        unsigned mlo = 0, mhi = 0;
        for (int i = 0; i < 16; i++) g[i] = i < ch ? i * sw + s : 0;
        for (int j = 0; j < 32; j++) {
            int q = j - s, ok = q >= 0 && q % sw == 0 && q / sw < ch;
            int* t = j < 16 ? lo : hi;
            t[j & 15] = ok ? q / sw : 0;
            if (ok) { if (j < 16) mlo |= 1u << j; else mhi |= 1u << (j - 16); }
        }
        c->gather[s] = _mm512_loadu_si512(g);
        c->inv_lo[s] = _mm512_loadu_si512(lo);
        c->inv_hi[s] = _mm512_loadu_si512(hi);
        c->inv_mlo[s] = (__mmask16)mlo;
        c->inv_mhi[s] = (__mmask16)mhi;
    }
}

/* lanes j of [start, start+16) that fall inside [0, w) */
static inline __mmask16 col_mask(int start, int w)
{
    int lo = -start < 0 ? 0 : -start, hi = w - start > 16 ? 16 : w - start;
    if (hi <= lo) return 0;
    return (__mmask16)((((1u << hi) - 1u)) & ~((1u << lo) - 1u));
}

/* outputs of the chunk whose window column s lies inside the row */
static inline __mmask16 valid_lanes(const chunking* c, int base, int s, int w, __mmask16 lanes)
{
    __m512i col = _mm512_add_epi32(_mm512_set1_epi32(base + s), c->lane_sw);
    return lanes & _mm512_cmpge_epi32_mask(col, _mm512_setzero_si512()) & _mm512_cmplt_epi32_mask(col, _mm512_set1_epi32(w));
}

/* max over each window of a chunk, in scan order; arg gets r*kw + s of the first maximum. A chunk whose windows lie
 * wholly inside the plane (the common case) takes the first element as the start and needs no validity masks; the
 * chains of different chunks are independent, so the core overlaps them. */
static inline __attribute__((always_inline)) __m512 chunk_max_k(const fc_pool2d_desc* d, const chunking* c, const float* xp,
                                                                 int oh, int base, __mmask16 lanes, __m512i* arg, int kh,
                                                                 int kw)
{
    __m512 best = _mm512_setzero_ps();
    __m512i a = _mm512_setzero_si512();
    int covered = (__builtin_popcount(lanes) - 1) * d->stride_w + kw;
    int ih0 = oh * d->stride_h - d->pad_h;
    int interior = base >= 0 && base + covered <= d->w && ih0 >= 0 && ih0 + kh <= d->h;
    __mmask16 mlo = col_mask(base, d->w), mhi = covered > 16 ? col_mask(base + 16, d->w) : 0;
    if (interior) {
        for (int r = 0; r < kh; r++) {
            const float* row = xp + (int64_t)(ih0 + r) * d->w + base;
            __m512 lo = mlo == 0xFFFF ? _mm512_loadu_ps(row) : _mm512_maskz_loadu_ps(mlo, row);
            __m512 hi = mhi == 0xFFFF ? _mm512_loadu_ps(row + 16) : _mm512_maskz_loadu_ps(mhi, row + 16);
            for (int s = 0; s < kw; s++) {
                __m512 v = _mm512_permutex2var_ps(lo, c->gather[s], hi);
                if (r == 0 && s == 0) { best = v; continue; }
                __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
                best = _mm512_mask_mov_ps(best, take, v);
                a = _mm512_mask_mov_epi32(a, take, _mm512_set1_epi32(r * kw + s));
            }
        }
        *arg = a;
        return best;
    }
    __mmask16 have = 0;
    for (int r = 0; r < kh; r++) {
        int ih = ih0 + r;
        if (ih < 0 || ih >= d->h) continue;
        const float* row = xp + (int64_t)ih * d->w + base;
        __m512 lo = _mm512_maskz_loadu_ps(mlo, row), hi = _mm512_maskz_loadu_ps(mhi, row + 16);
        for (int s = 0; s < kw; s++) {
            __m512 v = _mm512_permutex2var_ps(lo, c->gather[s], hi);
            __mmask16 m = valid_lanes(c, base, s, d->w, lanes);
            __mmask16 take = m & (__mmask16)(~have | _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ));
            best = _mm512_mask_mov_ps(best, take, v);
            a = _mm512_mask_mov_epi32(a, take, _mm512_set1_epi32(r * kw + s));
            have |= m;
        }
    }
    *arg = a;
    return best;
}

/* the window size as constants for the common 3x3 (the loops unroll and the rows' chains overlap), else as given */
static inline __attribute__((always_inline)) __m512 chunk_max(const fc_pool2d_desc* d, const chunking* c, const float* xp,
                                                              int oh, int base, __mmask16 lanes, __m512i* arg)
{
    if (d->kernel_h == 3 && d->kernel_w == 3) return chunk_max_k(d, c, xp, oh, base, lanes, arg, 3, 3);
    return chunk_max_k(d, c, xp, oh, base, lanes, arg, d->kernel_h, d->kernel_w);
}

/* windows that neither overlap nor leave any input uncovered: backward writes dx once, without clearing it first */
static int tiles_exactly(const fc_pool2d_desc* d, const fc_pool_geom* g)
{
    return d->pad_h == 0 && d->pad_w == 0 && d->stride_h == d->kernel_h && d->stride_w == d->kernel_w &&
           g->oh * d->kernel_h == d->h && g->ow * d->kernel_w == d->w;
}

/* dx row segment (columns base .. base+31 of row ih) += the chunk's per-lane gradients g, where sel(s) picks the lanes */
static inline void scatter_row(const fc_pool2d_desc* d, const chunking* c, float* drow, int base, int covered,
                               int fresh, const __m512* contrib)
{
    __mmask16 mlo = col_mask(base, d->w), mhi = col_mask(base + 16, d->w);
    if (fresh) {
        /* only this chunk's columns: the neighbours' segments overlap the 32-column window */
        mlo &= covered >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << covered) - 1u);
        mhi &= covered <= 16 ? (__mmask16)0 : covered >= 32 ? (__mmask16)0xFFFF : (__mmask16)((1u << (covered - 16)) - 1u);
    }
    __m512 lo = fresh ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mlo, drow + base);
    for (int s = d->kernel_w - 1; s >= 0; s--)
        lo = _mm512_add_ps(lo, _mm512_maskz_permutexvar_ps(c->inv_mlo[s], c->inv_lo[s], contrib[s]));
    _mm512_mask_storeu_ps(drow + base, mlo, lo);
    if (covered <= 16) return; /* the chunk's windows end in the first 16 columns */
    __m512 hi = fresh ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mhi, drow + base + 16);
    for (int s = d->kernel_w - 1; s >= 0; s--)
        hi = _mm512_add_ps(hi, _mm512_maskz_permutexvar_ps(c->inv_mhi[s], c->inv_hi[s], contrib[s]));
    _mm512_mask_storeu_ps(drow + base + 16, mhi, hi);
}

/* The common 2x2 stride-2 window without padding, 16 outputs per step: two input rows, even and odd columns split
 * with two-source permutes, combined in scan order (strictly greater wins: the first maximum, as everywhere). */

static const int32_t even_idx[16] = { 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30 };

/* the four window elements of 16 outputs starting at column 2*ow of rows r0, r1 (n valid lanes) */
static inline void load_2x2(const float* r0, const float* r1, int ow, int n, __m512i even, __m512i odd, __m512 v[4])
{
    __m512 a0, a1, b0, b1;
    if (n == 16) {
        a0 = _mm512_loadu_ps(r0 + 2 * ow); a1 = _mm512_loadu_ps(r0 + 2 * ow + 16);
        b0 = _mm512_loadu_ps(r1 + 2 * ow); b1 = _mm512_loadu_ps(r1 + 2 * ow + 16);
    } else {
        __mmask16 lo = n >= 8 ? 0xFFFF : (__mmask16)((1u << (2 * n)) - 1u);
        __mmask16 hi = n > 8 ? (__mmask16)((1u << (2 * (n - 8))) - 1u) : 0;
        a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * ow); a1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * ow + 16);
        b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * ow); b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * ow + 16);
    }
    v[0] = _mm512_permutex2var_ps(a0, even, a1); v[1] = _mm512_permutex2var_ps(a0, odd, a1);
    v[2] = _mm512_permutex2var_ps(b0, even, b1); v[3] = _mm512_permutex2var_ps(b0, odd, b1);
}

/* forward, max or average: 16 outputs per step */
static void fwd2x2_plane(const fc_pool_geom* g, int max, const float* x, float* y)
{
    const __m512i even = _mm512_loadu_si512(even_idx), odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 four = _mm512_set1_ps(4.0f);
    int w = g->d.w;
    for (int oh = 0; oh < g->oh; oh++) {
        const float* r0 = x + (int64_t)2 * oh * w;
        float* o = y + (int64_t)oh * g->ow;
        for (int ow = 0; ow < g->ow; ow += 16) {
            int n = fc_min(16, g->ow - ow);
            __m512 v[4], m;
            load_2x2(r0, r0 + w, ow, n, even, odd, v);
            if (max) {
                m = v[0];
                m = _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(v[1], m, _CMP_GT_OQ), v[1]);
                m = _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(v[2], m, _CMP_GT_OQ), v[2]);
                m = _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(v[3], m, _CMP_GT_OQ), v[3]);
            } else {
                /* from +0, in scan order, as the reference sums */
                m = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_setzero_ps(), v[0]), v[1]), v[2]), v[3]);
                m = _mm512_div_ps(m, four);
            }
            if (n == 16) _mm512_storeu_ps(o + ow, m);
            else _mm512_mask_storeu_ps(o + ow, (__mmask16)((1u << n) - 1u), m);
        }
    }
}

/* backward: each dx element is written once: max, dy at the window's first maximum and 0 at the other three;
 * average, dy/4 at all four (0 + those, as the reference's clear-then-add makes a -0 gradient +0); the interleave is
 * the inverse permute of the split. Rows and columns no window covers are cleared. x null for average. */
static void bwd2x2_plane(const fc_pool_geom* g, const float* x, const float* dy, float* dx)
{
    const __m512i even = _mm512_loadu_si512(even_idx), odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 four = _mm512_set1_ps(4.0f), zero = _mm512_setzero_ps();
    int32_t lo_idx[16], hi_idx[16];
    for (int j = 0; j < 16; j++) { lo_idx[j] = j / 2 + (j % 2 ? 16 : 0); hi_idx[j] = 8 + j / 2 + (j % 2 ? 16 : 0); }
    const __m512i ilo = _mm512_loadu_si512(lo_idx), ihi = _mm512_loadu_si512(hi_idx);
    int w = g->d.w, h = g->d.h;
    if (h % 2 || w % 2) memset(dx, 0, (size_t)h * w * sizeof(float));
    for (int oh = 0; oh < g->oh; oh++) {
        const float* r0 = x ? x + (int64_t)2 * oh * w : NULL;
        float* d0 = dx + (int64_t)2 * oh * w;
        const float* go = dy + (int64_t)oh * g->ow;
        for (int ow = 0; ow < g->ow; ow += 16) {
            int n = fc_min(16, g->ow - ow);
            __mmask16 lanes = (__mmask16)((1u << n) - 1u);
            __m512 gv = _mm512_maskz_loadu_ps(lanes, go + ow), g0, g1, g2, g3;
            if (r0) {
                __m512 v[4];
                load_2x2(r0, r0 + w, ow, n, even, odd, v);
                __m512 m = v[0];
                __mmask16 t1 = _mm512_cmp_ps_mask(v[1], m, _CMP_GT_OQ); m = _mm512_mask_mov_ps(m, t1, v[1]);
                __mmask16 t2 = _mm512_cmp_ps_mask(v[2], m, _CMP_GT_OQ); m = _mm512_mask_mov_ps(m, t2, v[2]);
                __mmask16 t3 = _mm512_cmp_ps_mask(v[3], m, _CMP_GT_OQ);
                /* winner: 3 if t3, else 2 if t2, else 1 if t1, else 0 */
                __mmask16 w3 = t3, w2 = t2 & ~t3, w1 = t1 & ~t2 & ~t3, w0 = ~(t1 | t2 | t3);
                gv = _mm512_add_ps(zero, gv);
                g0 = _mm512_maskz_mov_ps(w0, gv); g1 = _mm512_maskz_mov_ps(w1, gv);
                g2 = _mm512_maskz_mov_ps(w2, gv); g3 = _mm512_maskz_mov_ps(w3, gv);
            } else {
                g0 = g1 = g2 = g3 = _mm512_add_ps(zero, _mm512_div_ps(gv, four));
            }
            __m512 top0 = _mm512_permutex2var_ps(g0, ilo, g1), top1 = _mm512_permutex2var_ps(g0, ihi, g1);
            __m512 bot0 = _mm512_permutex2var_ps(g2, ilo, g3), bot1 = _mm512_permutex2var_ps(g2, ihi, g3);
            float* p0 = d0 + 2 * ow;
            float* p1 = p0 + w;
            if (n == 16) {
                _mm512_storeu_ps(p0, top0); _mm512_storeu_ps(p0 + 16, top1);
                _mm512_storeu_ps(p1, bot0); _mm512_storeu_ps(p1 + 16, bot1);
            } else {
                __mmask16 lo = n >= 8 ? 0xFFFF : (__mmask16)((1u << (2 * n)) - 1u);
                __mmask16 hi = n > 8 ? (__mmask16)((1u << (2 * (n - 8))) - 1u) : 0;
                _mm512_mask_storeu_ps(p0, lo, top0); _mm512_mask_storeu_ps(p0 + 16, hi, top1);
                _mm512_mask_storeu_ps(p1, lo, bot0); _mm512_mask_storeu_ps(p1 + 16, hi, bot1);
            }
        }
    }
}

void fc_pool_2x2s2__avx512(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out)
{
    int64_t in_plane = (int64_t)g->d.h * g->d.w, out_plane = (int64_t)g->oh * g->ow;
    switch (op) {
    case FC_POOL_MAX_FWD:
    case FC_POOL_AVG_FWD:
        FOR_PLANES(fwd2x2_plane(g, op == FC_POOL_MAX_FWD, x + plane * in_plane, out + plane * out_plane););
        break;
    default:
        FOR_PLANES(bwd2x2_plane(g, op == FC_POOL_MAX_BWD ? x + plane * in_plane : NULL, dy + plane * out_plane,
                                 out + plane * in_plane););
        break;
    }
}

static void max_fwd(const fc_pool_geom* g, const float* x, float* y)
{
    const fc_pool2d_desc* d = &g->d;
    chunking c;
    make_chunking(d, &c);
    int64_t in_plane = (int64_t)d->h * d->w, out_plane = (int64_t)g->oh * g->ow;
    FOR_PLANES({
        const float* xp = x + plane * in_plane;
        float* yp = y + plane * out_plane;
        for (int oh = 0; oh < g->oh; oh++)
            for (int ow0 = 0; ow0 < g->ow; ow0 += c.ch) {
                int n = fc_min(c.ch, g->ow - ow0);
                __mmask16 lanes = (__mmask16)((1u << n) - 1u);
                __m512i arg;
                __m512 best = chunk_max(d, &c, xp, oh, ow0 * d->stride_w - d->pad_w, lanes, &arg);
                if (n == 16) _mm512_storeu_ps(yp + oh * g->ow + ow0, best); /* masked stores are slow on some cores */
                else _mm512_mask_storeu_ps(yp + oh * g->ow + ow0, lanes, best);
            }
    });
}

/* Backward for planes whose output rows are one chunk wide, without padding (3x3 stride-2 pooling of small maps, say):
 * the winners and gradients of every output row are found first, then each dx row is built in registers from the
 * output rows that cover it and stored once, so there is no clearing pass and no read-modify-write of dx. The order
 * of the additions into an element is still the reference's (output rows, then columns, ascending). */
static inline __attribute__((always_inline)) void small_plane_bwd_k(const fc_pool_geom* g, const chunking* c, const float* xp,
                                                                    const float* gp, float* dp, int kh, int kw)
{
    const fc_pool2d_desc* d = &g->d;
    __m512i arg[64];
    __m512 grad[64];
    __mmask16 lanes = (__mmask16)((1u << g->ow) - 1u);
    __m512 area = _mm512_set1_ps((float)(kh * kw));
    for (int oh = 0; oh < g->oh; oh++) {
        grad[oh] = _mm512_maskz_loadu_ps(lanes, gp + oh * g->ow);
        if (xp) chunk_max_k(d, c, xp, oh, 0, lanes, &arg[oh], kh, kw);
        else grad[oh] = _mm512_div_ps(grad[oh], area);
    }
    int covered = (g->ow - 1) * d->stride_w + kw;
    __mmask16 mlo = col_mask(0, d->w), mhi = covered > 16 ? col_mask(16, d->w) : 0;
    for (int ih = 0; ih < d->h; ih++) {
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        /* output rows whose windows hold row ih: oh*sh <= ih < oh*sh + kh */
        int oh0 = ih - kh + 1 <= 0 ? 0 : (int)(((int64_t)ih - kh + d->stride_h) / d->stride_h); /* 64 bits: stride may be near INT_MAX */
        int oh1 = fc_min(ih / d->stride_h, g->oh - 1);
        for (int oh = oh0; oh <= oh1; oh++) {
            int r = ih - oh * d->stride_h;
            for (int s = kw - 1; s >= 0; s--) {
                __m512 v = xp ? _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(arg[oh], _mm512_set1_epi32(r * kw + s)), grad[oh])
                              : grad[oh];
                lo = _mm512_add_ps(lo, _mm512_maskz_permutexvar_ps(c->inv_mlo[s], c->inv_lo[s], v));
                if (mhi) hi = _mm512_add_ps(hi, _mm512_maskz_permutexvar_ps(c->inv_mhi[s], c->inv_hi[s], v));
            }
        }
        float* row = dp + (int64_t)ih * d->w;
        _mm512_mask_storeu_ps(row, mlo, lo);
        if (d->w > 16) _mm512_mask_storeu_ps(row + 16, col_mask(16, d->w), hi);
    }
}

static void small_plane_bwd(const fc_pool_geom* g, const chunking* c, const float* xp, const float* gp, float* dp)
{
    if (g->d.kernel_h == 3 && g->d.kernel_w == 3) small_plane_bwd_k(g, c, xp, gp, dp, 3, 3);
    else small_plane_bwd_k(g, c, xp, gp, dp, g->d.kernel_h, g->d.kernel_w);
}

void fc_pool_small_plane__avx512(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out)
{
    chunking c;
    make_chunking(&g->d, &c);
    int64_t in_plane = (int64_t)g->d.h * g->d.w, out_plane = (int64_t)g->oh * g->ow;
    FOR_PLANES(small_plane_bwd(g, &c, op == FC_POOL_MAX_BWD ? x + plane * in_plane : NULL, dy + plane * out_plane,
                               out + plane * in_plane););
}

/* backward of any window that fits a chunk: x is null for average pooling (dy/area to every covered input),
 * else max pooling (dy to the first maximum, found again in x) */
static void window_bwd(const fc_pool_geom* g, const float* x, const float* dy, float* dx)
{
    const fc_pool2d_desc* d = &g->d;
    chunking c;
    make_chunking(d, &c);
    int fresh = tiles_exactly(d, g);
    __m512 area = _mm512_set1_ps((float)(d->kernel_h * d->kernel_w));
    int64_t in_plane = (int64_t)d->h * d->w, out_plane = (int64_t)g->oh * g->ow;
    FOR_PLANES({
        const float* xp = x ? x + plane * in_plane : NULL;
        const float* gp = dy + plane * out_plane;
        float* dp = dx + plane * in_plane;
        if (!fresh) memset(dp, 0, (size_t)in_plane * sizeof(float));
        __m512 contrib[32];
        for (int oh = 0; oh < g->oh; oh++)
            for (int ow0 = 0; ow0 < g->ow; ow0 += c.ch) {
                int n = fc_min(c.ch, g->ow - ow0), base = ow0 * d->stride_w - d->pad_w;
                __mmask16 lanes = (__mmask16)((1u << n) - 1u);
                __m512 grad = _mm512_maskz_loadu_ps(lanes, gp + oh * g->ow + ow0);
                __m512i arg = _mm512_setzero_si512();
                if (xp) chunk_max(d, &c, xp, oh, base, lanes, &arg);
                else for (int s = 0; s < d->kernel_w; s++) contrib[s] = _mm512_div_ps(grad, area);
                for (int r = 0; r < d->kernel_h; r++) {
                    int ih = oh * d->stride_h - d->pad_h + r;
                    if (ih < 0 || ih >= d->h) continue;
                    if (xp)
                        for (int s = 0; s < d->kernel_w; s++)
                            contrib[s] = _mm512_maskz_mov_ps(
                                _mm512_cmpeq_epi32_mask(arg, _mm512_set1_epi32(r * d->kernel_w + s)), grad);
                    scatter_row(d, &c, dp + (int64_t)ih * d->w, base, (n - 1) * d->stride_w + d->kernel_w, fresh, contrib);
                }
            }
    });
}

static void avg_fwd(const fc_pool_geom* g, const float* x, float* y)
{
    const fc_pool2d_desc* d = &g->d;
    chunking c;
    make_chunking(d, &c);
    __m512 area = _mm512_set1_ps((float)(d->kernel_h * d->kernel_w));
    int64_t in_plane = (int64_t)d->h * d->w, out_plane = (int64_t)g->oh * g->ow;
    FOR_PLANES({
        const float* xp = x + plane * in_plane;
        float* yp = y + plane * out_plane;
        for (int oh = 0; oh < g->oh; oh++)
            for (int ow0 = 0; ow0 < g->ow; ow0 += c.ch) {
                int n = fc_min(c.ch, g->ow - ow0), base = ow0 * d->stride_w - d->pad_w;
                __mmask16 lanes = (__mmask16)((1u << n) - 1u);
                __mmask16 mlo = col_mask(base, d->w), mhi = col_mask(base + 16, d->w);
                __m512 acc = _mm512_setzero_ps();
                for (int r = 0; r < d->kernel_h; r++) {
                    int ih = oh * d->stride_h - d->pad_h + r;
                    if (ih < 0 || ih >= d->h) continue;
                    const float* row = xp + (int64_t)ih * d->w + base;
                    __m512 lo = _mm512_maskz_loadu_ps(mlo, row), hi = _mm512_maskz_loadu_ps(mhi, row + 16);
                    for (int s = 0; s < d->kernel_w; s++)
                        acc = _mm512_mask_add_ps(acc, valid_lanes(&c, base, s, d->w, lanes), acc,
                                                 _mm512_permutex2var_ps(lo, c.gather[s], hi));
                }
                _mm512_mask_storeu_ps(yp + oh * g->ow + ow0, lanes, _mm512_div_ps(acc, area));
            }
    });
}

void fc_pool_chunked__avx512(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out)
{
    switch (op) {
    case FC_POOL_MAX_FWD: max_fwd(g, x, out); break;
    case FC_POOL_MAX_BWD: window_bwd(g, x, dy, out); break;
    case FC_POOL_AVG_FWD: avg_fwd(g, x, out); break;
    default: window_bwd(g, NULL, dy, out); break;
    }
}
