#ifndef CROWSTABLE_H
#define CROWSTABLE_H

#include <stddef.h>

/// Whether `crowstable_product_avx2` may run here: an x86-64 CPU (and OS) with AVX2. Always 0 on
/// other architectures, where the Swift kernel runs.
int crowstable_has_avx2(void);

/// `rowStableProduct` (NeuralNet/RowStableProduct.swift) in AVX2: C = A B, or C += A B when
/// `accumulate` is non-zero, row-major, every element its start (C or 0) plus a0*b0 + a1*b1 + ...
/// in k order, a rounding after each multiply and each add. Call only where
/// `crowstable_has_avx2()` is 1.
void crowstable_product_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                             const float *_Nonnull a, ptrdiff_t lda,
                             const float *_Nonnull b, ptrdiff_t ldb, int accumulate,
                             float *_Nonnull c, ptrdiff_t ldc);

#endif
