import XCTest
@testable import NeuralNet

/// The inference product's contract, to the bit: every element is its start plus `a₀b₀ + a₁b₁ + …`
/// in k order with a rounding after each multiply and add, whichever kernel runs (AVX2 in C or
/// Swift's SIMD8) and however many rows share the call. A batched read equals batch-1 reads, and
/// a forecast of this CPU equals one of a CPU without AVX2, only as long as this holds.
final class RowStableProductTests: XCTestCase {
    /// One product's operands, with padding past each width (lda, ldb, ldc larger than k, n, n)
    /// so that strides are exercised and stray writes show.
    struct Operands {
        var m, n, k, lda, ldb, ldc: Int
        var accumulate: Bool
        var a, b, c: [Float]

        init(m: Int, n: Int, k: Int, accumulate: Bool, rng: inout SeededGenerator) {
            self.m = m; self.n = n; self.k = k; self.accumulate = accumulate
            lda = k + Int(rng.next() % 4); ldb = n + Int(rng.next() % 11); ldc = n + Int(rng.next() % 9)
            // Mixed magnitudes, exact zeros and negative zeros, so that sums round in many places
            // and a -0 start or product has to come out as the scalar order gives it.
            func value(_ rng: inout SeededGenerator) -> Float {
                switch rng.next() % 16 {
                case 0: return 0
                case 1: return -0.0
                case 2: return Float(sign: rng.next() % 2 == 0 ? .plus : .minus, exponent: Int(rng.next() % 40) - 20,
                                     significand: 1 + rng.nextFloat())
                default: return 2 * rng.nextFloat() - 1
                }
            }
            a = (0..<(m * lda)).map { _ in value(&rng) }
            b = (0..<(k * ldb)).map { _ in value(&rng) }
            c = (0..<(m * ldc)).map { _ in value(&rng) }
        }

        /// C after the product through `kernel`, padding included.
        func run(_ kernel: (Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, Bool,
                            UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
            var out = c
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { c in
                        kernel(m, n, k, a.baseAddress!, lda, b.baseAddress!, ldb, accumulate, c.baseAddress!, ldc)
                    }
                }
            }
            return out
        }

        /// The contract written out one element at a time (Swift never fuses a multiply and an add).
        func reference() -> [Float] {
            var out = c
            for r in 0..<m {
                for j in 0..<n {
                    var s: Float = accumulate ? c[r * ldc + j] : 0
                    for p in 0..<k {
                        let product = a[r * lda + p] * b[p * ldb + j]
                        s = s + product
                    }
                    out[r * ldc + j] = s
                }
            }
            return out
        }
    }

    static func simd(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                     _ accumulate: Bool, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        rowStableProductSIMD(m, n, k, a, lda, b, ldb, accumulate: accumulate, c, ldc)
    }

    static func avx2(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                     _ accumulate: Bool, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        rowStableProductAVX2(m, n, k, a, lda, b, ldb, accumulate: accumulate, c, ldc)
    }

    static func dispatched(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                           _ accumulate: Bool, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        rowStableProduct(m, n, k, a, lda, b, ldb, accumulate: accumulate, c, ldc)
    }

    func assertSameBits(_ x: [Float], _ y: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(x.count, y.count, what, file: file, line: line)
        if x.count == y.count, let i = x.indices.first(where: { x[$0].bitPattern != y[$0].bitPattern }) {
            XCTFail("\(what): element \(i) is \(x[i]) (\(String(x[i].bitPattern, radix: 16))), expected \(y[i]) (\(String(y[i].bitPattern, radix: 16)))",
                    file: file, line: line)
        }
    }

    /// Every row and column blocking of both kernels: row counts past 2 blocks of 6 and every
    /// leftover, widths on and off multiples of 8 and 16 and past the widest column block (64).
    func testBothKernelsGiveTheScalarOrderOnEveryBlocking() throws {
        var rng = SeededGenerator(seed: 17)
        for m in 1...13 {
            for n in [1, 5, 8, 9, 16, 17, 24, 31, 32, 40, 48, 56, 63, 64, 65, 72, 88, 96, 120, 128, 136] {
                let ops = Operands(m: m, n: n, k: 1 + Int(rng.next() % 12), accumulate: rng.next() % 2 == 0, rng: &rng)
                let expected = ops.reference()
                let shape = "m \(m) n \(n) k \(ops.k) accumulate \(ops.accumulate)"
                assertSameBits(ops.run(Self.simd), expected, "Swift kernel, \(shape)")
                assertSameBits(ops.run(Self.dispatched), expected, "rowStableProduct, \(shape)")
                if rowStableHasAVX2 { assertSameBits(ops.run(Self.avx2), expected, "AVX2 kernel, \(shape)") }
            }
        }
    }

    /// The AVX2 kernel against the Swift kernel over random shapes up to the sizes of inference
    /// (k to 300: inputs + hidden + 1; n to 300: gates × hidden).
    func testAVX2KernelEqualsSwiftKernelOnRandomShapes() throws {
        try XCTSkipUnless(rowStableHasAVX2, "no AVX2 here: rowStableProduct runs the Swift kernel alone")
        var rng = SeededGenerator(seed: 23)
        for trial in 0..<400 {
            let m = 1 + Int(rng.next() % 37), n = 1 + Int(rng.next() % 300), k = 1 + Int(rng.next() % 300)
            let ops = Operands(m: m, n: n, k: k, accumulate: trial % 2 == 0, rng: &rng)
            assertSameBits(ops.run(Self.avx2), ops.run(Self.simd),
                           "trial \(trial): m \(m) n \(n) k \(k) lda \(ops.lda) ldb \(ops.ldb) ldc \(ops.ldc) accumulate \(ops.accumulate)")
        }
    }

    /// Row r of an m-row call is the 1-row call of row r, through whichever kernel runs.
    func testRowsDoNotDependOnTheRowCount() throws {
        var rng = SeededGenerator(seed: 29)
        for trial in 0..<80 {
            let m = 1 + Int(rng.next() % 37), n = 1 + Int(rng.next() % 300), k = 1 + Int(rng.next() % 300)
            let ops = Operands(m: m, n: n, k: k, accumulate: trial % 2 == 1, rng: &rng)
            let all = ops.run(Self.dispatched)
            for r in 0..<m {
                var one = ops
                one.m = 1
                one.a = Array(ops.a[(r * ops.lda)..<((r + 1) * ops.lda)])
                one.c = Array(ops.c[(r * ops.ldc)..<((r + 1) * ops.ldc)])
                assertSameBits(one.run(Self.dispatched), Array(all[(r * ops.ldc)..<((r + 1) * ops.ldc)]),
                               "trial \(trial): row \(r) of m \(m) n \(n) k \(k)")
            }
        }
    }
}
