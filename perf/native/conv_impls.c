/* Times every implementation-table entry of each direction, forced one at a time through
 * fc_f32_conv2d_plan_create_with, on the ResNet-20 training step's convolutions (batch 128, 3x3, padding 1) or one
 * geometry given on the command line; the entry a default plan takes is starred. Medians of REPS runs after one
 * warm-up, GFLOP/s of the direct convolution's 2*N*K*C*R*S*OH*OW.
 *
 *   cmake -S . -B build/native && cmake --build build/native --target fastconv_conv_impls
 *   FASTCONV_THREADS=1 build/native/native/fastconv_conv_impls avx512|avx2 [REPS [N C HW K R STRIDE PAD]]
 *
 * What the "pays" rules in native/src/f32-conv2d/ cite comes from here. */
#include "fastconv.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void* a, const void* b) { double x = *(const double*)a, y = *(const double*)b; return x < y ? -1 : x > y; }

int main(int argc, char** argv)
{
    fc_isa isa = argc > 1 && !strcmp(argv[1], "avx2") ? FC_ISA_AVX2 : argc > 1 && !strcmp(argv[1], "scalar") ? FC_ISA_SCALAR : FC_ISA_AVX512;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1 || reps > 64 || (argc > 3 && argc != 10)) {
        fprintf(stderr, "usage: %s avx512|avx2|scalar [REPS (1-64) [N C HW K R STRIDE PAD]]\n", argv[0]);
        return 2;
    }
    if (!fc_isa_supported(isa)) {
        fprintf(stderr, "this CPU does not run the %s variant\n", fc_isa_name(isa));
        return 2;
    }
    struct { int c, k, hw, s; } L[] = { { 3, 16, 32, 1 }, { 16, 16, 32, 1 }, { 16, 32, 32, 2 }, { 32, 32, 16, 1 }, { 32, 64, 16, 2 }, { 64, 64, 8, 1 } };
    int custom = argc > 9;
    const char* dn[3] = { "fwd", "bwd_data", "bwd_filter" };
    for (size_t l = 0; l < (custom ? 1 : sizeof L / sizeof L[0]); l++) {
        fc_conv2d_desc d = { 128, L[l].c, L[l].hw, L[l].hw, L[l].k, 3, 3, L[l].s, L[l].s, 1, 1, 1, 1, 0 };
        if (custom) { /* n c hw k r stride pad */
            d = (fc_conv2d_desc){ atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), atoi(argv[7]),
                                  atoi(argv[8]), atoi(argv[8]), atoi(argv[9]), atoi(argv[9]), 1, 1, 0 };
            L[0].s = d.stride_h;
        }
        int oh, ow;
        if (fc_conv2d_output_size(&d, &oh, &ow) != FC_OK) {
            fprintf(stderr, "%s\n", fc_last_error());
            return 2;
        }
        size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.k * oh * ow, nw = (size_t)d.k * d.c * d.r * d.s;
        float *x = malloc(nx * 4), *y = malloc(ny * 4), *w = malloc(nw * 4), *b = malloc(d.k * 4);
        for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 7) - 3;
        for (size_t i = 0; i < ny; i++) y[i] = (float)(i % 5) - 2;
        for (size_t i = 0; i < nw; i++) w[i] = (float)(i % 3) - 1;
        double flop = 2.0 * d.n * d.k * oh * ow * d.c * d.r * d.s;
        for (int dir = 0; dir < 3; dir++)
            for (int i = 0; i < fc_f32_conv2d_impl_count(dir); i++) {
                const char* name = fc_f32_conv2d_impl_name(dir, i);
                const char* n3[3] = { 0, 0, 0 };
                n3[dir] = name;
                fc_conv2d_plan* p;
                if (fc_f32_conv2d_plan_create_with(&d, isa, n3[0], n3[1], n3[2], &p) != FC_OK) continue;
                fc_conv2d_plan* q;
                fc_f32_conv2d_plan_create(&d, isa, &q);
                const char* chosen = strstr(fc_f32_conv2d_plan_implementation(q), dn[dir]);
                int is_chosen = chosen && !strncmp(chosen + strlen(dn[dir]) + 1, name, strlen(name)) &&
                                (chosen[strlen(dn[dir]) + 1 + strlen(name)] == ',' || chosen[strlen(dn[dir]) + 1 + strlen(name)] == 0);
                fc_f32_conv2d_plan_destroy(q);
                double t[64];
                for (int r = -1; r < reps; r++) {
                    double t0 = now();
                    if (dir == 0) fc_f32_conv2d_fwd(p, x, w, b, y);
                    else if (dir == 1) fc_f32_conv2d_bwd_data(p, y, w, x);
                    else fc_f32_conv2d_bwd_filter(p, x, y, w, b);
                    if (r >= 0) t[r] = now() - t0;
                }
                qsort(t, reps, sizeof t[0], cmp);
                printf("C%-2d K%-2d %2dx%-2d s%d  %-10s %-24s %8.3f ms %6.1f GFLOP/s%s\n", d.c, d.k, d.h, d.w, L[l].s, dn[dir], name,
                       t[reps / 2] * 1e3, flop / t[reps / 2] * 1e-9, is_chosen ? "  *" : "");
                fc_f32_conv2d_plan_destroy(p);
            }
        free(x); free(y); free(w); free(b);
    }
    return 0;
}
