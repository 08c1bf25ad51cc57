/* Pooling, AVX2 variant: three entries of the implementation table (dispatch.c) besides the portable loops.
 *
 * 2x2s2 (fc_pool_2x2s2__avx2): the 2x2 stride-2 window without padding, 8 outputs per step. Two 8-float loads per
 *   input row are split into even and odd columns by one in-lane shuffle each; the lanes then hold the outputs in the
 *   order 0 1 4 5 | 2 3 6 7, which one cross-lane permute puts right for y (and dy into). Backward writes each dx
 *   element once (dy at the window's first maximum, 0 elsewhere, or 0 + dy/4), the two unpacks of the winners' values
 *   being exactly the interleave back, so it needs no clearing pass. A row's last step overlaps the one before (it
 *   rewrites the same values); rows narrower than 8 outputs run a scalar 2x2 scan.
 * chunked (fc_pool_chunked__avx2): any window up to 16 columns wide, ch = min(8, (16 - kw)/sw + 1) outputs at a time:
 *   the 16 input columns a chunk's windows cover are loaded as two vectors per input row, and window column s is
 *   picked out with two permutes and a blend (lane i <- column i*sw + s), AVX2's stand-in for AVX-512's two-source
 *   permute. Max keeps a per-lane best in scan order (strictly greater wins: the first maximum) and, backward, the
 *   winning r*kw + s; backward clears dx and adds each lane's gradient back into the 16-column segment by the inverse
 *   permute, window columns in descending order, i.e. outputs in ascending order, as the reference does.
 * small-plane (fc_pool_small_plane__avx2): backward of unpadded planes at most 16 wide whose output rows are one
 *   chunk: the winners and gradients of every output row first, then each dx row is summed in registers from the
 *   output rows that cover it (ascending) and stored once: no clearing pass, no read-modify-write.
 * Edges: loads and stores reach no column outside the row (masked loads and stores there); a store may run into the
 *   next row of the same plane only where that row is written afterwards. Threads split the channel planes. */
#pragma GCC target("avx2,fma")
#include "../internal.h"
#include "../simd/avx2.h"
#include "pool2d.inc"

/* ---- helpers */

/* lanes j with lo <= j < hi */
static inline __m256i lanes_in(int lo, int hi)
{
    __m256i j = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(j, _mm256_set1_epi32(lo - 1)), _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), j));
}

/* p[0..7], reading only lanes [lo, hi) (the others are 0) */
static inline __m256 load_part(const float* p, int lo, int hi)
{
    if (lo <= 0 && hi >= 8) return _mm256_loadu_ps(p);
    if (hi <= lo || hi <= 0 || lo >= 8) return _mm256_setzero_ps();
    return _mm256_maskload_ps(p, lanes_in(lo, hi));
}

/* p[lo..hi) = lanes [lo, hi) of v */
static inline void store_part(float* p, int lo, int hi, __m256 v)
{
    if (lo <= 0 && hi >= 8) _mm256_storeu_ps(p, v);
    else if (hi > lo && hi > 0 && lo < 8) _mm256_maskstore_ps(p, lanes_in(lo, hi), v);
}

static inline __m256 and_mask(__m256 v, __m256i m) { return _mm256_and_ps(v, _mm256_castsi256_ps(m)); }

/* ---- 2x2 stride 2 */

/* even and odd columns of p[0..15], lanes in output order 0 1 4 5 | 2 3 6 7 */
static inline void split2(const float* p, __m256* even, __m256* odd)
{
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    *even = _mm256_shuffle_ps(a, b, 0x88);
    *odd = _mm256_shuffle_ps(a, b, 0xDD);
}

/* output order 0 1 4 5 2 3 6 7 <-> 0..7 (swapping the middle 64-bit pairs is its own inverse) */
static inline __m256 reorder(__m256 v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8)); }

/* the first maximum of a, b, c, e in scan order (strictly greater wins); 0..3 */
static inline int first_of4(float a, float b, float c, float e, float* m)
{
    int arg = 0;
    float v = a;
    if (b > v) { v = b; arg = 1; }
    if (c > v) { v = c; arg = 2; }
    if (e > v) { v = e; arg = 3; }
    *m = v;
    return arg;
}

/* one output row: 8 at a time, the last step overlapping the one before; rows under 8 outputs by a scalar scan */
static void row_2x2s2(int op, int ow, const float* r0, const float* r1, const float* go, float* o0, float* o1)
{
    const __m256 zero = _mm256_setzero_ps(), four = _mm256_set1_ps(4.0f);
    if (ow < 8) {
        for (int j = 0; j < ow; j++) {
            int c = 2 * j;
            float m, g;
            switch (op) {
            case FC_POOL_MAX_FWD: first_of4(r0[c], r0[c + 1], r1[c], r1[c + 1], &m); o0[j] = m; break;
            case FC_POOL_AVG_FWD: o0[j] = (0.0f + r0[c] + r0[c + 1] + r1[c] + r1[c + 1]) / 4.0f; break;
            case FC_POOL_MAX_BWD: {
                int arg = first_of4(r0[c], r0[c + 1], r1[c], r1[c + 1], &m);
                g = 0.0f + go[j];
                o0[c] = arg == 0 ? g : 0.0f; o0[c + 1] = arg == 1 ? g : 0.0f;
                o1[c] = arg == 2 ? g : 0.0f; o1[c + 1] = arg == 3 ? g : 0.0f;
                break;
            }
            default:
                g = 0.0f + go[j] / 4.0f;
                o0[c] = o0[c + 1] = o1[c] = o1[c + 1] = g;
                break;
            }
        }
        return;
    }
    for (int j = 0;; j += 8) {
        if (j + 8 > ow) j = ow - 8;
        int c = 2 * j;
        __m256 a = zero, b = zero, e = zero, f = zero;
        if (op != FC_POOL_AVG_BWD) {
            split2(r0 + c, &a, &b);
            split2(r1 + c, &e, &f);
        }
        if (op == FC_POOL_MAX_FWD) {
            /* max(v, m) is v where v > m, else m: the first maximum, as the scan keeps it */
            __m256 m = _mm256_max_ps(f, _mm256_max_ps(e, _mm256_max_ps(b, a)));
            _mm256_storeu_ps(o0 + j, reorder(m));
        } else if (op == FC_POOL_AVG_FWD) {
            __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(zero, a), b), e), f);
            _mm256_storeu_ps(o0 + j, reorder(_mm256_div_ps(s, four)));
        } else {
            /* 0 + dy, as the reference's clear-then-add makes a -0 gradient +0 */
            __m256 gv = reorder(_mm256_loadu_ps(go + j)), g0, g1, g2, g3;
            if (op == FC_POOL_MAX_BWD) {
                gv = _mm256_add_ps(zero, gv);
                __m256 t1 = _mm256_cmp_ps(b, a, _CMP_GT_OQ), m = _mm256_max_ps(b, a);
                __m256 t2 = _mm256_cmp_ps(e, m, _CMP_GT_OQ);
                m = _mm256_max_ps(e, m);
                __m256 t3 = _mm256_cmp_ps(f, m, _CMP_GT_OQ);
                /* winner: 3 if t3, else 2 if t2, else 1 if t1, else 0 */
                __m256 t23 = _mm256_or_ps(t2, t3);
                g3 = _mm256_and_ps(t3, gv);
                g2 = _mm256_andnot_ps(t3, _mm256_and_ps(t2, gv));
                g1 = _mm256_andnot_ps(t23, _mm256_and_ps(t1, gv));
                g0 = _mm256_andnot_ps(_mm256_or_ps(t1, t23), gv);
            } else {
                g0 = g1 = g2 = g3 = _mm256_add_ps(zero, _mm256_div_ps(gv, four));
            }
            _mm256_storeu_ps(o0 + c, _mm256_unpacklo_ps(g0, g1));
            _mm256_storeu_ps(o0 + c + 8, _mm256_unpackhi_ps(g0, g1));
            _mm256_storeu_ps(o1 + c, _mm256_unpacklo_ps(g2, g3));
            _mm256_storeu_ps(o1 + c + 8, _mm256_unpackhi_ps(g2, g3));
        }
        if (j + 8 == ow) break;
    }
}

static void plane_2x2s2(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out)
{
    int w = g->d.w, h = g->d.h, bwd = op == FC_POOL_MAX_BWD || op == FC_POOL_AVG_BWD;
    for (int oh = 0; oh < g->oh; oh++) {
        const float* r0 = x ? x + (int64_t)2 * oh * w : NULL;
        if (!bwd) {
            row_2x2s2(op, g->ow, r0, r0 + w, NULL, out + (int64_t)oh * g->ow, NULL);
            continue;
        }
        float* d0 = out + (int64_t)2 * oh * w;
        row_2x2s2(op, g->ow, r0, r0 ? r0 + w : NULL, dy + (int64_t)oh * g->ow, d0, d0 + w);
        if (w % 2) d0[w - 1] = d0[2 * w - 1] = 0.0f; /* the column no window covers */
    }
    if (bwd && h % 2) memset(out + (int64_t)(h - 1) * w, 0, (size_t)w * sizeof(float));
}

void fc_pool_2x2s2__avx2(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out)
{
    int64_t in_plane = (int64_t)g->d.h * g->d.w, out_plane = (int64_t)g->oh * g->ow;
    int bwd = op == FC_POOL_MAX_BWD || op == FC_POOL_AVG_BWD;
    FOR_PLANES(plane_2x2s2(g, op, x ? x + plane * in_plane : NULL, bwd ? dy + plane * out_plane : NULL,
                           out + plane * (bwd ? in_plane : out_plane)););
}

/* ---- chunks of up to 8 outputs over a 16-column segment */

typedef struct chunking {
    int ch;                         /* outputs per chunk */
    __m256i pick[16], pick_hi[16];  /* per window column s: lane i <- segment column i*sw + s; whether that is >= 8 */
    __m256i inv_lo[16], inv_hi[16]; /* per s: segment column j (lo: 0..7, hi: 8..15) <- lane (j - s)/sw */
    __m256i inv_mlo[16], inv_mhi[16]; /* ... where that lane exists */
    __m256i lane_sw;                /* lane * sw */
} chunking;

static void make_chunking(const fc_pool2d_desc* d, chunking* c)
{
    int sw = d->stride_w, ch = c->ch = fc_pool_chunk(d, 16, 8);
    int lane[8];
    for (int i = 0; i < 8; i++) lane[i] = i < ch ? i * sw : 0; /* lanes past the chunk are masked off (and i * sw may overflow) */
    c->lane_sw = _mm256_loadu_si256((const __m256i*)lane);
    for (int s = 0; s < d->kernel_w; s++) {
        int p[8], ph[8], lo[8], hi[8], mlo[8], mhi[8];
        for (int i = 0; i < 8; i++) {
            p[i] = i < ch ? i * sw + s : 0;
            ph[i] = p[i] >= 8 ? -1 : 0;
        }
        for (int j = 0; j < 16; j++) {
            int q = j - s, ok = q >= 0 && q % sw == 0 && q / sw < ch;
            (j < 8 ? lo : hi)[j & 7] = ok ? q / sw : 0;
            (j < 8 ? mlo : mhi)[j & 7] = ok ? -1 : 0;
        }
        c->pick[s] = _mm256_loadu_si256((const __m256i*)p);
        c->pick_hi[s] = _mm256_loadu_si256((const __m256i*)ph);
        c->inv_lo[s] = _mm256_loadu_si256((const __m256i*)lo);
        c->inv_hi[s] = _mm256_loadu_si256((const __m256i*)hi);
        c->inv_mlo[s] = _mm256_loadu_si256((const __m256i*)mlo);
        c->inv_mhi[s] = _mm256_loadu_si256((const __m256i*)mhi);
    }
}

/* lane i <- segment column i*sw + s of (lo, hi) */
static inline __m256 pick(const chunking* c, int s, __m256 lo, __m256 hi)
{
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, c->pick[s]), _mm256_permutevar8x32_ps(hi, c->pick[s]),
                            _mm256_castsi256_ps(c->pick_hi[s]));
}

/* lanes (of the first n) whose window column s lies inside the row */
static inline __m256i valid_lanes(const chunking* c, int base, int s, int w, int n)
{
    __m256i col = _mm256_add_epi32(_mm256_set1_epi32(base + s), c->lane_sw);
    __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), col), _mm256_cmpgt_epi32(_mm256_set1_epi32(w), col));
    return _mm256_and_si256(in, lanes_in(0, n));
}

/* the segment (columns base .. base+15) of input row ih: columns outside the row read as 0 */
static inline void load_segment(const fc_pool2d_desc* d, const float* xp, int ih, int base, int covered, __m256* lo, __m256* hi)
{
    const float* row = xp + (int64_t)ih * d->w + base;
    *lo = load_part(row, -base, d->w - base);
    *hi = covered > 8 ? load_part(row + 8, -base - 8, d->w - base - 8) : _mm256_setzero_ps();
}

/* Max (max = 1) or sum over each window of a chunk of n outputs at column base, in scan order; for max, arg gets
 * r*kw + s of the first maximum. A chunk whose windows lie wholly inside the plane (the common case) needs no
 * validity masks: its first element starts the maximum. */
static inline __attribute__((always_inline)) __m256 chunk_reduce_k(const fc_pool2d_desc* d, const chunking* c, const float* xp,
                                                                    int oh, int base, int n, __m256i* arg, int max, int kh, int kw)
{
    __m256 best = _mm256_setzero_ps();
    __m256i a = _mm256_setzero_si256();
    int covered = (n - 1) * d->stride_w + kw;
    int ih0 = oh * d->stride_h - d->pad_h;
    if (base >= 0 && base + covered <= d->w && ih0 >= 0 && ih0 + kh <= d->h) {
        for (int r = 0; r < kh; r++) {
            __m256 lo, hi;
            load_segment(d, xp, ih0 + r, base, covered, &lo, &hi);
            for (int s = 0; s < kw; s++) {
                __m256 v = pick(c, s, lo, hi);
                if (!max) { best = _mm256_add_ps(best, v); continue; }
                if (r == 0 && s == 0) { best = v; continue; }
                __m256 take = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
                best = _mm256_max_ps(v, best); /* v where v > best, else best */
                a = _mm256_blendv_epi8(a, _mm256_set1_epi32(r * kw + s), _mm256_castps_si256(take));
            }
        }
        *arg = a;
        return best;
    }
    __m256i have = _mm256_setzero_si256();
    for (int r = 0; r < kh; r++) {
        int ih = ih0 + r;
        if (ih < 0 || ih >= d->h) continue;
        __m256 lo, hi;
        load_segment(d, xp, ih, base, covered, &lo, &hi);
        for (int s = 0; s < kw; s++) {
            __m256 v = pick(c, s, lo, hi);
            __m256i m = valid_lanes(c, base, s, d->w, n);
            /* the padding adds nothing: + 0 leaves a sum that started at +0 as it is */
            if (!max) { best = _mm256_add_ps(best, and_mask(v, m)); continue; }
            __m256i gt = _mm256_castps_si256(_mm256_cmp_ps(v, best, _CMP_GT_OQ));
            __m256i take = _mm256_and_si256(m, _mm256_or_si256(_mm256_xor_si256(have, _mm256_set1_epi32(-1)), gt));
            best = _mm256_blendv_ps(best, v, _mm256_castsi256_ps(take));
            a = _mm256_blendv_epi8(a, _mm256_set1_epi32(r * kw + s), take);
            have = _mm256_or_si256(have, m);
        }
    }
    *arg = a;
    return best;
}

/* the window size as constants for the common 3x3 (the loops unroll), else as given */
static inline __attribute__((always_inline)) __m256 chunk_reduce(const fc_pool2d_desc* d, const chunking* c, const float* xp, int oh,
                                                                  int base, int n, __m256i* arg, int max)
{
    if (d->kernel_h == 3 && d->kernel_w == 3) return chunk_reduce_k(d, c, xp, oh, base, n, arg, max, 3, 3);
    return chunk_reduce_k(d, c, xp, oh, base, n, arg, max, d->kernel_h, d->kernel_w);
}

static void chunked_fwd_plane(const fc_pool_geom* g, const chunking* c, int max, const float* xp, float* yp)
{
    const fc_pool2d_desc* d = &g->d;
    const __m256 area = _mm256_set1_ps((float)(d->kernel_h * d->kernel_w));
    int64_t out_plane = (int64_t)g->oh * g->ow;
    for (int oh = 0; oh < g->oh; oh++)
        for (int ow0 = 0; ow0 < g->ow; ow0 += c->ch) {
            int n = fc_min(c->ch, g->ow - ow0);
            __m256i arg;
            __m256 v = chunk_reduce(d, c, xp, oh, ow0 * d->stride_w - d->pad_w, n, &arg, max);
            if (!max) v = _mm256_div_ps(v, area);
            int64_t at = (int64_t)oh * g->ow + ow0;
            /* lanes past n land on outputs of this plane written after this one */
            if (at + 8 <= out_plane) _mm256_storeu_ps(yp + at, v);
            else store_part(yp + at, 0, n, v);
        }
}

/* dx row segment (columns base .. base+15) += the lanes' gradients contrib[s], by the inverse permutes, window columns
 * in descending order (outputs ascending); columns outside the row are neither read nor written */
static inline void scatter_row(const fc_pool2d_desc* d, const chunking* c, float* drow, int base, int covered, const __m256* contrib)
{
    int lo0 = -base, hi0 = d->w - base;
    __m256 lo = load_part(drow + base, lo0, hi0);
    for (int s = d->kernel_w - 1; s >= 0; s--)
        lo = _mm256_add_ps(lo, and_mask(_mm256_permutevar8x32_ps(contrib[s], c->inv_lo[s]), c->inv_mlo[s]));
    store_part(drow + base, lo0, hi0, lo);
    if (covered <= 8) return;
    __m256 hi = load_part(drow + base + 8, lo0 - 8, hi0 - 8);
    for (int s = d->kernel_w - 1; s >= 0; s--)
        hi = _mm256_add_ps(hi, and_mask(_mm256_permutevar8x32_ps(contrib[s], c->inv_hi[s]), c->inv_mhi[s]));
    store_part(drow + base + 8, lo0 - 8, hi0 - 8, hi);
}

/* dy of a chunk's n outputs at gp[at..], 0 past them */
static inline __m256 load_grad(const float* gp, int64_t at, int n, int64_t out_plane)
{
    if (at + 8 <= out_plane) return and_mask(_mm256_loadu_ps(gp + at), lanes_in(0, n));
    return load_part(gp + at, 0, n);
}

/* backward, x null for average pooling */
static void chunked_bwd_plane(const fc_pool_geom* g, const chunking* c, const float* xp, const float* gp, float* dp)
{
    const fc_pool2d_desc* d = &g->d;
    const __m256 area = _mm256_set1_ps((float)(d->kernel_h * d->kernel_w));
    int64_t out_plane = (int64_t)g->oh * g->ow;
    memset(dp, 0, (size_t)d->h * d->w * sizeof(float));
    __m256 contrib[16];
    for (int oh = 0; oh < g->oh; oh++)
        for (int ow0 = 0; ow0 < g->ow; ow0 += c->ch) {
            int n = fc_min(c->ch, g->ow - ow0), base = ow0 * d->stride_w - d->pad_w;
            __m256 grad = load_grad(gp, (int64_t)oh * g->ow + ow0, n, out_plane);
            __m256i arg = _mm256_setzero_si256();
            if (xp) chunk_reduce(d, c, xp, oh, base, n, &arg, 1);
            else
                for (int s = 0; s < d->kernel_w; s++) contrib[s] = _mm256_div_ps(grad, area);
            for (int r = 0; r < d->kernel_h; r++) {
                int ih = oh * d->stride_h - d->pad_h + r;
                if (ih < 0 || ih >= d->h) continue;
                if (xp)
                    for (int s = 0; s < d->kernel_w; s++)
                        contrib[s] = and_mask(grad, _mm256_cmpeq_epi32(arg, _mm256_set1_epi32(r * d->kernel_w + s)));
                scatter_row(d, c, dp + (int64_t)ih * d->w, base, (n - 1) * d->stride_w + d->kernel_w, contrib);
            }
        }
}

void fc_pool_chunked__avx2(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out)
{
    const fc_pool2d_desc* d = &g->d;
    chunking c;
    make_chunking(d, &c);
    int64_t in_plane = (int64_t)d->h * d->w, out_plane = (int64_t)g->oh * g->ow;
    switch (op) {
    case FC_POOL_MAX_FWD:
    case FC_POOL_AVG_FWD:
        FOR_PLANES(chunked_fwd_plane(g, &c, op == FC_POOL_MAX_FWD, x + plane * in_plane, out + plane * out_plane););
        break;
    default:
        FOR_PLANES(chunked_bwd_plane(g, &c, op == FC_POOL_MAX_BWD ? x + plane * in_plane : NULL, dy + plane * out_plane,
                                     out + plane * in_plane););
        break;
    }
}

/* ---- small planes, backward: each dx row built in registers and stored once */

static inline __attribute__((always_inline)) void small_plane_k(const fc_pool_geom* g, const chunking* c, const float* xp,
                                                                const float* gp, float* dp, int kh, int kw)
{
    const fc_pool2d_desc* d = &g->d;
    __m256i arg[64];
    __m256 grad[64];
    const __m256 area = _mm256_set1_ps((float)(kh * kw));
    int64_t out_plane = (int64_t)g->oh * g->ow, in_plane = (int64_t)d->h * d->w;
    for (int oh = 0; oh < g->oh; oh++) {
        grad[oh] = load_grad(gp, (int64_t)oh * g->ow, g->ow, out_plane);
        if (xp) chunk_reduce_k(d, c, xp, oh, 0, g->ow, &arg[oh], 1, kh, kw);
        else grad[oh] = _mm256_div_ps(grad[oh], area);
    }
    int covered = (g->ow - 1) * d->stride_w + kw;
    for (int ih = 0; ih < d->h; ih++) {
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        /* output rows whose windows hold row ih: oh*sh <= ih < oh*sh + kh */
        int oh0 = ih - kh + 1 <= 0 ? 0 : (int)(((int64_t)ih - kh + d->stride_h) / d->stride_h); /* 64 bits: stride may be near INT_MAX */
        int oh1 = fc_min(ih / d->stride_h, g->oh - 1);
        for (int oh = oh0; oh <= oh1; oh++) {
            int r = ih - oh * d->stride_h;
            for (int s = kw - 1; s >= 0; s--) {
                __m256 v = xp ? and_mask(grad[oh], _mm256_cmpeq_epi32(arg[oh], _mm256_set1_epi32(r * kw + s))) : grad[oh];
                lo = _mm256_add_ps(lo, and_mask(_mm256_permutevar8x32_ps(v, c->inv_lo[s]), c->inv_mlo[s]));
                if (covered > 8) hi = _mm256_add_ps(hi, and_mask(_mm256_permutevar8x32_ps(v, c->inv_hi[s]), c->inv_mhi[s]));
            }
        }
        float* row = dp + (int64_t)ih * d->w;
        /* columns past the row are 0 here and land on the next row of the plane, written after this one */
        if ((int64_t)ih * d->w + 16 <= in_plane) {
            _mm256_storeu_ps(row, lo);
            if (d->w > 8) _mm256_storeu_ps(row + 8, hi);
        } else {
            store_part(row, 0, d->w, lo);
            store_part(row + 8, 0, d->w - 8, hi);
        }
    }
}

void fc_pool_small_plane__avx2(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out)
{
    const fc_pool2d_desc* d = &g->d;
    chunking c;
    make_chunking(d, &c);
    int64_t in_plane = (int64_t)d->h * d->w, out_plane = (int64_t)g->oh * g->ow;
    int max = op == FC_POOL_MAX_BWD;
    if (d->kernel_h == 3 && d->kernel_w == 3)
        FOR_PLANES(small_plane_k(g, &c, max ? x + plane * in_plane : NULL, dy + plane * out_plane, out + plane * in_plane, 3, 3););
    else
        FOR_PLANES(small_plane_k(g, &c, max ? x + plane * in_plane : NULL, dy + plane * out_plane, out + plane * in_plane,
                                 d->kernel_h, d->kernel_w););
}
