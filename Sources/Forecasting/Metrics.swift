import NeuralNet

/// Point and interval accuracy, named as in the `model_metrics` table.
///
/// Conventions shared by every function here:
/// - a NaN actual is a missing step and is skipped; a NaN forecast is scored (it makes the
///   metric NaN), because a model that cannot forecast a step must not look better for it;
/// - percentages are fractions: MAPE 0.12 means 12 %;
/// - a metric with nothing to score (no actuals, only zero actuals for MAPE, a zero MASE
///   scale) is NaN, for the writer to store as NULL.
public enum Metrics {
    /// Mean absolute error.
    public static func mae(actual: [Double], forecast: [Double]) -> Double {
        mean(pairs(actual, forecast).map { abs($0.forecast - $0.actual) })
    }

    /// Root mean squared error.
    public static func rmse(actual: [Double], forecast: [Double]) -> Double {
        mean(pairs(actual, forecast).map { ($0.forecast - $0.actual) * ($0.forecast - $0.actual) }).squareRoot()
    }

    /// Mean absolute percentage error as a fraction: mean of |f − a| / |a|, skipping zero
    /// actuals (their percentage error is undefined).
    public static func mape(actual: [Double], forecast: [Double]) -> Double {
        mean(pairs(actual, forecast).filter { $0.actual != 0 }.map { abs($0.forecast - $0.actual) / abs($0.actual) })
    }

    /// Symmetric MAPE as a fraction between 0 and 2: mean of 2·|f − a| / (|a| + |f|), skipping
    /// steps where actual and forecast are both 0 (a perfect forecast of zero, 0/0).
    public static func smape(actual: [Double], forecast: [Double]) -> Double {
        mean(pairs(actual, forecast).compactMap(smapeTerm))
    }

    /// Mean absolute scaled error: MAE divided by `scale`, the in-sample seasonal-naive MAE
    /// of the training series (`seasonalNaiveScale`). NaN when the scale is zero or undefined.
    public static func mase(actual: [Double], forecast: [Double], scale: Double) -> Double {
        guard scale > 0, scale.isFinite else { return .nan }
        return mae(actual: actual, forecast: forecast) / scale
    }

    /// The in-sample MAE of the seasonal-naive forecast on `training`: mean |y[t] − y[t − season]|
    /// over pairs where both are known. A training series no longer than a season is scaled by
    /// the naive (lag 1) error instead; NaN when no pair exists. Zero for a constant series,
    /// which `mase` then refuses.
    public static func seasonalNaiveScale(training: [Double], season: Int) -> Double {
        precondition(season >= 1, "a season is at least one step")
        let lag = training.count > season ? season : 1
        guard training.count > lag else { return .nan }
        var sum = 0.0, count = 0
        for t in lag..<training.count {
            let error = abs(training[t] - training[t - lag])
            if error.isFinite { sum += error; count += 1 }
        }
        return count == 0 ? .nan : sum / Double(count)
    }

    /// The fraction of actuals within [lower, upper] (bounds included).
    public static func coverage(actual: [Double], lower: [Double], upper: [Double]) -> Double {
        precondition(actual.count == lower.count && actual.count == upper.count, "one bound per actual")
        var inside = 0, count = 0
        for (index, value) in actual.enumerated() where !value.isNaN {
            count += 1
            if value >= lower[index] && value <= upper[index] { inside += 1 }
        }
        return count == 0 ? .nan : Double(inside) / Double(count)
    }

    /// The pinball (quantile) loss of one value: level·(a − q) when the actual lies above the
    /// quantile, (1 − level)·(q − a) when below (NeuralNet's `pinballLoss`).
    @inline(__always)
    public static func pinball(actual: Double, quantile: Double, level: Double) -> Double {
        pinballLoss(actual - quantile, level: level)
    }

    /// The mean pinball loss over every step and level of `forecast`.
    public static func pinball(actual: [Double], forecast: QuantileForecast) -> Double {
        precondition(actual.count == forecast.horizon, "one actual per forecast step")
        var sum = 0.0, count = 0
        for (step, value) in actual.enumerated() where !value.isNaN {
            for (index, level) in forecast.levels.enumerated() {
                sum += pinball(actual: value, quantile: forecast.value(atStep: step, level: index), level: level)
                count += 1
            }
        }
        return count == 0 ? .nan : sum / Double(count)
    }

    /// 1 − mase / baseline_mase: positive when the model beats the baseline, 0 when it ties,
    /// negative when it loses; −∞ when the baseline was perfect and the model was not.
    public static func skill(mase: Double, baselineMase: Double) -> Double {
        guard !mase.isNaN, !baselineMase.isNaN else { return .nan }
        if baselineMase == 0 { return mase == 0 ? 0 : -.infinity }
        return 1 - mase / baselineMase
    }

    // MARK: - Helpers

    static func pairs(_ actual: [Double], _ forecast: [Double]) -> [(actual: Double, forecast: Double)] {
        precondition(actual.count == forecast.count, "one forecast per actual")
        return zip(actual, forecast).filter { !$0.0.isNaN }.map { (actual: $0.0, forecast: $0.1) }
    }

    @inline(__always)
    static func smapeTerm(_ pair: (actual: Double, forecast: Double)) -> Double? {
        let denominator = abs(pair.actual) + abs(pair.forecast)
        if denominator == 0 { return nil }
        return 2 * abs(pair.forecast - pair.actual) / denominator
    }

    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }
}

/// Every metric of one forecaster over one or more windows. Errors are pooled over the
/// scored steps; MASE divides each window's errors by that window's own scale.
public struct AccuracyReport: Sendable, Hashable {
    public var mae: Double
    public var rmse: Double
    public var mape: Double
    public var smape: Double
    public var mase: Double
    public var coverage: Double
    public var pinball: Double
    /// Steps scored (actuals that were observed).
    public var count: Int

    /// The metrics under their `model_metrics` names, with `prefix` (e.g. "baseline_").
    public func named(prefix: String = "") -> [(name: String, value: Double)] {
        [("mae", mae), ("rmse", rmse), ("mape", mape), ("smape", smape), ("mase", mase),
         ("coverage", coverage), ("pinball", pinball)].map { (name: prefix + $0.0, value: $0.1) }
    }

    /// 1 − mase / baseline.mase. When MASE is undefined for both (a zero in-sample scale), the
    /// scale cancels out and the ratio of MAEs on the same windows is used instead.
    public func skill(against baseline: AccuracyReport) -> Double {
        if mase.isNaN && baseline.mase.isNaN {
            return Metrics.skill(mase: mae, baselineMase: baseline.mae)
        }
        return Metrics.skill(mase: mase, baselineMase: baseline.mase)
    }
}

/// Sums that make an `AccuracyReport`, window by window.
public struct AccuracyAccumulator: Sendable {
    private var absoluteSum = 0.0, squaredSum = 0.0, count = 0
    private var percentageSum = 0.0, percentageCount = 0
    private var symmetricSum = 0.0, symmetricCount = 0
    private var scaledSum = 0.0, scaledCount = 0
    private var insideCount = 0, intervalCount = 0
    private var pinballSum = 0.0, pinballCount = 0

    public init() {}

    /// Scores one window: `actual` has one value per step (NaN where not observed); `scale`
    /// is the window's MASE scale (its training data's seasonal-naive MAE).
    public mutating func add(actual: [Double], forecast: QuantileForecast, scale: Double) {
        precondition(actual.count == forecast.horizon, "one actual per forecast step")
        let scaleIsUsable = scale > 0 && scale.isFinite
        let hasInterval = forecast.levels.count >= 2
        for (step, value) in actual.enumerated() where !value.isNaN {
            let point = forecast.point[step]
            let error = point - value
            count += 1
            absoluteSum += abs(error)
            squaredSum += error * error
            if value != 0 {
                percentageSum += abs(error) / abs(value)
                percentageCount += 1
            }
            if let term = Metrics.smapeTerm((actual: value, forecast: point)) {
                symmetricSum += term
                symmetricCount += 1
            }
            if scaleIsUsable {
                scaledSum += abs(error) / scale
                scaledCount += 1
            }
            if hasInterval {
                intervalCount += 1
                let lower = forecast.value(atStep: step, level: 0)
                let upper = forecast.value(atStep: step, level: forecast.levels.count - 1)
                if value >= lower && value <= upper { insideCount += 1 }
            }
            for (index, level) in forecast.levels.enumerated() {
                pinballSum += Metrics.pinball(actual: value, quantile: forecast.value(atStep: step, level: index), level: level)
                pinballCount += 1
            }
        }
    }

    public var report: AccuracyReport {
        func ratio(_ sum: Double, _ count: Int) -> Double { count == 0 ? .nan : sum / Double(count) }
        return AccuracyReport(
            mae: ratio(absoluteSum, count),
            rmse: ratio(squaredSum, count).squareRoot(),
            mape: ratio(percentageSum, percentageCount),
            smape: ratio(symmetricSum, symmetricCount),
            mase: ratio(scaledSum, scaledCount),
            coverage: ratio(Double(insideCount), intervalCount),
            pinball: ratio(pinballSum, pinballCount),
            count: count)
    }
}
