import NeuralNet

/// The network's input at each step: the scaled value (0 where missing), a missing flag, and
/// the calendar features of the step's bucket. Targets at step t are the next `horizon`
/// scaled values, repeated once per quantile (outputs are horizon-major, quantile fastest).
public struct FeatureLayout: Sendable, Equatable {
    public let calendar: CalendarFeatures
    public var inputSize: Int { 2 + calendar.count }

    public init(grid: TimeGrid) {
        calendar = CalendarFeatures(grid: grid)
    }

    /// Inputs of steps `steps` of a series, step-major, written at `offset` with `stride` floats between steps.
    func fillInputs(_ buffer: inout [Float], scaled: [Double], firstBucket: Int, steps: Range<Int>, offset: Int, stride: Int) {
        calendar.fill(&buffer, buckets: (firstBucket + steps.lowerBound)..<(firstBucket + steps.upperBound), offset: offset + 2, stride: stride)
        var position = offset
        for t in steps {
            let v = scaled[t]
            buffer[position] = v.isFinite ? Float(v) : 0
            buffer[position + 1] = v.isFinite ? 0 : 1
            position += stride
        }
    }

    public func inputs(scaled: [Double], firstBucket: Int, steps: Range<Int>) -> [Float] {
        var buffer = [Float](repeating: 0, count: steps.count * inputSize)
        fillInputs(&buffer, scaled: scaled, firstBucket: firstBucket, steps: steps, offset: 0, stride: inputSize)
        return buffer
    }
}

/// One series prepared for the network: scaled on its own training part.
struct PreparedSeries {
    let key: String
    let firstBucket: Int
    let scaler: RobustScaler
    /// Scaled values, NaN where missing.
    let scaled: [Double]
    /// Steps `0..<trainEnd` provide targets for training.
    let trainEnd: Int
}
