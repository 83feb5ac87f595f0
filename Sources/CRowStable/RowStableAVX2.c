// The row-stable product in 256-bit AVX registers: the Swift kernel's per-lane operations (a
// multiply, rounded, then an add, rounded, in k order), so the same bits, 8 lanes per
// instruction where Swift's baseline x86-64 target gets 4. Never contract a multiply and an add
// into an FMA: it rounds once, so its bits would differ from the Swift kernel and from CPUs
// without FMA. Hence no "fma" target, FP_CONTRACT off here and -ffp-contract=off in Package.swift.
#pragma STDC FP_CONTRACT OFF

#include "CRowStable.h"

#if defined(__x86_64__)

#include <immintrin.h>

int crowstable_has_avx2(void) {
    // Also false where the OS does not save the YMM registers (the runtime checks XGETBV).
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

#define AVX2 __attribute__((target("avx2")))
#define INLINE static inline __attribute__((always_inline))

// R rows × W·8 columns, R·W accumulators held in registers over all of k; R and W are constants
// at every call, so the loops unroll and the arrays become registers. Each accumulator starts
// from C or from +0 and adds each product, like the Swift kernel (starting from the first
// product instead would turn a -0 sum into -0 where Swift gives +0).
INLINE AVX2 void block(const int R, const int W, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, int accumulate, float *c, ptrdiff_t ldc) {
    __m256 s[6][8];
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++)
            s[r][w] = accumulate ? _mm256_loadu_ps(c + r * ldc + 8 * w) : _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        __m256 bv[8];
        for (int w = 0; w < W; w++) bv[w] = _mm256_loadu_ps(bp + 8 * w);
        for (int r = 0; r < R; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r * lda + p);
            for (int w = 0; w < W; w++) s[r][w] = _mm256_add_ps(s[r][w], _mm256_mul_ps(av, bv[w]));
        }
    }
    for (int r = 0; r < R; r++)
        for (int w = 0; w < W; w++) _mm256_storeu_ps(c + r * ldc + 8 * w, s[r][w]);
}

// Columns from..<n of R rows, lane by lane: the vector lanes' operations one at a time.
INLINE void tail(const int R, ptrdiff_t from, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                 const float *b, ptrdiff_t ldb, int accumulate, float *c, ptrdiff_t ldc) {
    for (int r = 0; r < R; r++) {
        const float *ar = a + r * lda;
        float *cr = c + r * ldc;
        for (ptrdiff_t j = from; j < n; j++) {
            float s = accumulate ? cr[j] : 0.0f;
            for (ptrdiff_t p = 0; p < k; p++) {
                const float product = ar[p] * b[p * ldb + j];
                s = s + product;
            }
            cr[j] = s;
        }
    }
}

// All n columns of R rows: blocks of WMAX vectors, then what is left of the 8-column blocks in
// narrower blocks, then the lanes past the last multiple of 8.
INLINE AVX2 void rows(const int R, const int WMAX, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                      const float *b, ptrdiff_t ldb, int accumulate, float *c, ptrdiff_t ldc) {
    const ptrdiff_t full = n & ~(ptrdiff_t)7;
    ptrdiff_t j = 0;
    for (; j + 8 * WMAX <= full; j += 8 * WMAX) block(R, WMAX, k, a, lda, b + j, ldb, accumulate, c + j, ldc);
    const ptrdiff_t left = (full - j) / 8;  // < WMAX: at most one block of each of 4, 2 and 1 vectors
    if (WMAX > 4 && (left & 4)) { block(R, 4, k, a, lda, b + j, ldb, accumulate, c + j, ldc); j += 32; }
    if (WMAX > 2 && (left & 2)) { block(R, 2, k, a, lda, b + j, ldb, accumulate, c + j, ldc); j += 16; }
    if (WMAX > 1 && (left & 1)) { block(R, 1, k, a, lda, b + j, ldb, accumulate, c + j, ldc); j += 8; }
    if (full < n) tail(R, full, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

// Row blocks of 6 × 16 columns: 12 accumulators, two B vectors, a broadcast and a product fill
// the 16 YMM registers, and B streams from cache once per 6 rows. Fewer rows take wider column
// blocks, so the adds still have 8–12 independent chains to hide their latency (one row alone
// would otherwise wait on 2); no wider than keeps accumulators and B vectors in registers
// (4 rows × 24 columns, say, spilled).
AVX2 void crowstable_product_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                  const float *b, ptrdiff_t ldb, int accumulate, float *c, ptrdiff_t ldc) {
    if (m <= 0 || n <= 0) return;
    ptrdiff_t r = 0;
    for (; r + 6 <= m; r += 6) rows(6, 2, n, k, a + r * lda, lda, b, ldb, accumulate, c + r * ldc, ldc);
    const float *ar = a + r * lda;
    float *cr = c + r * ldc;
    switch (m - r) {
    case 0: break;
    case 1: rows(1, 8, n, k, ar, lda, b, ldb, accumulate, cr, ldc); break;
    case 2: rows(2, 4, n, k, ar, lda, b, ldb, accumulate, cr, ldc); break;
    case 3: rows(3, 3, n, k, ar, lda, b, ldb, accumulate, cr, ldc); break;
    case 4: rows(4, 2, n, k, ar, lda, b, ldb, accumulate, cr, ldc); break;
    default: rows(5, 2, n, k, ar, lda, b, ldb, accumulate, cr, ldc); break;
    }
}

#else

int crowstable_has_avx2(void) { return 0; }

void crowstable_product_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                             const float *b, ptrdiff_t ldb, int accumulate, float *c, ptrdiff_t ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)accumulate; (void)c; (void)ldc;
    __builtin_trap();
}

#endif
