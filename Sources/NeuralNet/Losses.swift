/// Losses over many outputs per step, with a mask per output value: a 0 drops the value from
/// both the sum and the count (its target may then be NaN, e.g. a missing observation); other
/// mask values weight it. The loss is the weighted mean over the counted values.

/// The pinball (quantile) loss of one value at level `q`, for u = actual − forecast: q·u when
/// the actual lies above the forecast, (q − 1)·u when below. The one definition: the training
/// loss below, the forecaster's validation loss and Forecasting's `Metrics.pinball` call it.
@inlinable @inline(__always)
public func pinballLoss<T: FloatingPoint>(_ u: T, level q: T) -> T {
    u >= 0 ? q * u : (q - 1) * u
}

public enum Loss: Sendable, Equatable, Codable {
    /// Mean squared error, (y − t)².
    case mse
    /// Pinball (quantile) loss ρ_q(t − y) = max(q(t − y), (q − 1)(t − y)). Output `j` is scored
    /// at quantile `quantiles[j % quantiles.count]`: outputs are horizon-major, quantile fastest.
    case pinball(quantiles: [Float])

    public func validate(outputSize: Int) throws {
        if case .pinball(let qs) = self {
            guard !qs.isEmpty, outputSize % qs.count == 0 else {
                throw NetworkError.shapeMismatch("outputSize \(outputSize) is not a multiple of \(qs.count) quantiles")
            }
            guard qs.allSatisfy({ $0 > 0 && $0 < 1 }) else {
                throw NetworkError.invalidConfiguration("quantiles must lie in (0, 1)")
            }
        }
    }

    /// Sum of the (weighted) element losses over `rows × outputs` values; when `dy` is given it
    /// receives `scale × d(sum)/dy` (masked entries get 0).
    func sum(y: UnsafePointer<Float>, target: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
             rows: Int, outputs: Int, dy: UnsafeMutablePointer<Float>?, scale: Float) -> Double {
        var total = 0.0
        switch self {
        case .mse where mask == nil:
            // The benchmark's and the common unmasked case, vectorised.
            let n = rows * outputs
            var acc = V8(), i = 0
            let two = 2 * scale
            while i < n {
                let k = min(8, n - i)
                let d = ld(y + i, k) - ld(target + i, k)
                acc += d * d
                if let dy { st(two * d, dy + i, k) }
                i += 8
                if i & 4095 == 0 { total += Double(acc.sum()); acc = V8() }
            }
            total += Double(acc.sum())
        case .mse:
            for r in 0..<rows {
                var rowSum: Float = 0
                let o = r * outputs
                for j in 0..<outputs {
                    let m: Float = mask.map { $0[o + j] } ?? 1
                    if m == 0 { dy?[o + j] = 0; continue }
                    let d = y[o + j] - target[o + j]
                    rowSum += m * d * d
                    dy?[o + j] = 2 * m * d * scale
                }
                total += Double(rowSum)
            }
        case .pinball(let qs):
            // Output j is quantile j mod nq: walked one horizon step (nq outputs) at a time.
            let nq = qs.count
            qs.withUnsafeBufferPointer { levels in
                for r in 0..<rows {
                    var rowSum: Float = 0
                    for first in stride(from: r * outputs, to: (r + 1) * outputs, by: nq) {
                        for k in 0..<nq {
                            let i = first + k
                            let m: Float = mask.map { $0[i] } ?? 1
                            if m == 0 { dy?[i] = 0; continue }
                            let q = levels[k]
                            let u = target[i] - y[i]
                            rowSum += m * pinballLoss(u, level: q)
                            dy?[i] = u >= 0 ? -m * q * scale : m * (1 - q) * scale
                            if u.isNaN { rowSum = .nan }
                        }
                    }
                    total += Double(rowSum)
                }
            }
        }
        return total
    }

    /// The weighted mean loss of `outputs` against `targets` (equal shapes, any layout).
    public func value(outputs: [Float], targets: [Float], mask: [Float]? = nil) -> Double {
        precondition(outputs.count == targets.count && (mask == nil || mask!.count == outputs.count))
        let width: Int
        if case .pinball(let qs) = self { width = qs.count } else { width = 1 }
        let n = mask.map { m in m.reduce(0.0) { $0 + Double($1) } } ?? Double(outputs.count)
        guard n > 0 else { return 0 }
        return outputs.withUnsafeBufferPointer { yp in
            targets.withUnsafeBufferPointer { tp in
                let s: Double
                if let mask {
                    s = mask.withUnsafeBufferPointer { mp in
                        sum(y: yp.baseAddress!, target: tp.baseAddress!, mask: mp.baseAddress!,
                            rows: outputs.count / width, outputs: width, dy: nil, scale: 1)
                    }
                } else {
                    s = sum(y: yp.baseAddress!, target: tp.baseAddress!, mask: nil,
                            rows: outputs.count / width, outputs: width, dy: nil, scale: 1)
                }
                return s / n
            }
        }
    }
}
