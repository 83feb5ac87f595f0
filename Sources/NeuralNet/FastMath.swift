/// Vectorised exp, sigmoid and tanh for the fused gate loops. libm's scalar tanhf/expf would
/// dominate a small-hidden step (a few thousand transcendental calls per time step); these
/// Cephes-style polynomials run 8 lanes at a time and stay within a few ulp (about 2e-7
/// relative), far below what the Float32 gradient checks can see.

typealias V8 = SIMD8<Float>

@inline(__always)
func vmin(_ a: V8, _ b: V8) -> V8 { a.replacing(with: b, where: b .< a) }
@inline(__always)
func vmax(_ a: V8, _ b: V8) -> V8 { a.replacing(with: b, where: b .> a) }

@inline(__always)
func vexp(_ x: V8) -> V8 {
    // Clamp so that 2^n stays a normal float; exp(-87) ~ 1.6e-38 is indistinguishable from 0 here.
    let xc = vmax(vmin(x, V8(repeating: 88.0)), V8(repeating: -87.0))
    // n = round(x / ln 2) by adding 1.5 * 2^23: the sum's low mantissa bits then hold n, so
    // neither a rounding instruction nor a float-to-int conversion is needed.
    let magic = V8(repeating: 12_582_912.0)
    let shifted = xc * 1.442_695_04 + magic
    let n = shifted - magic
    var r = xc - n * 0.693_359_375
    r = r - n * (-2.121_944_4e-4)
    var p = V8(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let r2 = r * r
    let y = p * r2 + r + 1
    let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let bits = (ni &+ 127) &<< 23
    return y * unsafeBitCast(bits, to: V8.self)
}

@inline(__always)
func vsigmoid(_ x: V8) -> V8 { 1 / (1 + vexp(-x)) }

@inline(__always)
func vtanh(_ x: V8) -> V8 {
    let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: V8.self)
    // Large |x|: 1 - 2 / (exp(2|x|) + 1), with the sign put back; saturates cleanly.
    let e = vexp(2 * vmin(ax, V8(repeating: 10)))
    var big = 1 - 2 / (e + 1)
    big.replace(with: -big, where: x .< 0)
    // Small |x|: odd polynomial, which keeps relative accuracy where 1 - 2/(e+1) would cancel.
    let z = x * x
    var p = V8(repeating: -5.704_988_72e-3)
    p = p * z + 2.063_908_88e-2
    p = p * z - 5.373_971_56e-2
    p = p * z + 1.333_144_22e-1
    p = p * z - 3.333_328_19e-1
    let small = p * z * x + x
    return small.replacing(with: big, where: ax .>= 0.625)
}

/// Loads `count` (< 8) floats into the low lanes; the rest are zero.
@inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ count: Int) -> V8 {
    var v = V8()
    for i in 0..<count { v[i] = p[i] }
    return v
}

@inline(__always)
func storePartial(_ v: V8, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    for i in 0..<count { p[i] = v[i] }
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> V8 {
    // Eight scalar loads, which LLVM merges into one unaligned vector load.
    V8(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
}

@inline(__always)
func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
    p[0] = v[0]; p[1] = v[1]; p[2] = v[2]; p[3] = v[3]; p[4] = v[4]; p[5] = v[5]; p[6] = v[6]; p[7] = v[7]
}

/// Runs `body(j, lanes)` over `0..<n` in blocks of 8, where the last block may be partial;
/// the body uses `ld`/`st` helpers that honour `lanes`.
@inline(__always)
func ld(_ p: UnsafePointer<Float>, _ lanes: Int) -> V8 { lanes == 8 ? load8(p) : loadPartial(p, lanes) }
@inline(__always)
func st(_ v: V8, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 { store8(v, p) } else { storePartial(v, p, lanes) }
}

/// Scalar entry points for code outside the hot loops (tests, inference helpers).
public enum FastMath {
    public static func tanh(_ x: Float) -> Float { vtanh(V8(repeating: x))[0] }
    public static func sigmoid(_ x: Float) -> Float { vsigmoid(V8(repeating: x))[0] }
    public static func exp(_ x: Float) -> Float { vexp(V8(repeating: x))[0] }
}
