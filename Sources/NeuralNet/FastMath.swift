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

/// tanh as Eigen's rational minimax approximation (odd degree-13 over even degree-6 polynomial
/// on [-7.9, 7.9], beyond which tanh rounds to ±1): one division and no exp, a few ulp.
@inline(__always)
func vtanh(_ x: V8) -> V8 {
    let xc = vmax(vmin(x, V8(repeating: 7.905_311_107_635_498)), V8(repeating: -7.905_311_107_635_498))
    let x2 = xc * xc
    var p = V8(repeating: -2.760_768_477_423_55e-16)
    p = p * x2 + 2.000_187_904_824_77e-13
    p = p * x2 - 8.604_671_522_137_35e-11
    p = p * x2 + 5.122_297_090_371_14e-08
    p = p * x2 + 1.485_722_357_179_79e-05
    p = p * x2 + 6.372_619_288_754_36e-04
    p = p * x2 + 4.893_524_558_917_86e-03
    p = p * xc
    var q = V8(repeating: 1.198_258_394_667_02e-06)
    q = q * x2 + 1.185_347_056_866_54e-04
    q = q * x2 + 2.268_434_632_439_00e-03
    q = q * x2 + 4.893_525_185_543_85e-03
    // Tiny |x|: tanh(x) = x to float precision (and keeps the sign of zero).
    let t = p / q
    return t.replacing(with: x, where: (x .< 4e-4) .& (x .> -4e-4))
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
