/// Centres a series on its median and divides by its interquartile range (scaled to match
/// the standard deviation of a normal distribution).
///
/// Why robust: sensor spikes and stuck readings are common in the data forecastd reads. A
/// single spike of 1e6 makes a mean/standard-deviation scaler squash every normal value to
/// nearly zero, and a min/max scaler is ruined by it entirely; the median and the IQR do not
/// move. Fitted on the training part only, so nothing of the validation or backtest windows
/// leaks into the inputs.
///
/// When the IQR is zero (more than half of the values are equal, so the median absolute
/// deviation is zero as well), the scale falls back to the mean absolute deviation from the
/// median, and for a truly constant series to |median| (or 1 for a zero series), so scaling
/// never divides by zero.
public struct RobustScaler: Sendable, Hashable, Codable {
    public let center: Double
    public let scale: Double

    /// IQR of the standard normal distribution: dividing by it makes the scale comparable
    /// to a standard deviation.
    static let normalIQR = 1.3489795003921634
    /// Mean absolute deviation of the standard normal distribution, inverted (√(π/2)).
    static let normalMeanADFactor = 1.2533141373155003

    public init(center: Double, scale: Double) {
        precondition(center.isFinite && scale.isFinite && scale > 0, "a scaler needs a finite centre and a positive scale")
        self.center = center
        self.scale = scale
    }

    /// Fits on the finite values of `training` (NaN marks missing steps); `nil` when there
    /// are none.
    public init?(fitting training: some Sequence<Double>) {
        var sorted = training.filter { $0.isFinite }
        guard !sorted.isEmpty else { return nil }
        sorted.sort()
        let median = Quantiles.sortedQuantile(sorted, 0.5)
        // A spread counts when it is not lost in rounding next to the level of the series.
        let negligible = abs(median) * 1e-12
        var scale = (Quantiles.sortedQuantile(sorted, 0.75) - Quantiles.sortedQuantile(sorted, 0.25)) / Self.normalIQR
        if !(scale > negligible) {
            let deviations = sorted.lazy.map { abs($0 - median) }.reduce(0, +)
            scale = deviations / Double(sorted.count) * Self.normalMeanADFactor
        }
        if !(scale > negligible) || !scale.isFinite {
            scale = median == 0 ? 1 : abs(median)
        }
        self.init(center: median, scale: scale)
    }

    @inline(__always)
    public func transform(_ value: Double) -> Double { (value - center) / scale }

    @inline(__always)
    public func inverse(_ scaled: Double) -> Double { scaled * scale + center }

    /// The scalers of a series' covariates, each fitted on its first `end` steps (the training
    /// part) like the value's; the identity for a covariate without a value there (its steps
    /// are then flagged missing anyway until one arrives).
    public static func covariates(of series: RegularSeries, end: Int) -> [RobustScaler] {
        series.covariates.map { RobustScaler(fitting: $0.values[..<Swift.min(end, $0.values.count)]) ?? RobustScaler(center: 0, scale: 1) }
    }

    /// NaN stays NaN.
    public func transform(_ values: [Double]) -> [Double] { values.map(transform) }
    public func inverse(_ values: [Double]) -> [Double] { values.map(inverse) }

    /// Into Float32 network inputs, with missing steps as 0 (the mask tells the network).
    public func transformForNetwork(_ values: ArraySlice<Double>, into buffer: inout [Float], at offset: Int = 0, stride: Int = 1) {
        var position = offset
        for value in values {
            buffer[position] = value.isFinite ? Float(transform(value)) : 0
            position += stride
        }
    }
}
