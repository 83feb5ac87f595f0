import Foundation
import NeuralNet

/// Where a trained network stands after reading a series up to some step: what lets the next
/// forecast read only the new points. Reading on from a saved state gives exactly what reading
/// the whole series again would, as long as the steps already read have not changed.
public struct SeriesState: Sendable, Codable, Equatable {
    public var key: String
    /// The grid bucket after the last step read.
    public var nextBucket: Int
    public var recurrent: RecurrentState
    /// The network's outputs at the last step read (scaled units).
    public var lastOutputs: [Float]
}

extension TrainedForecaster {
    /// The scaler of a series the model was trained on, or one fitted on this history for a
    /// series the (global) model has not seen.
    public func scaler(for series: RegularSeries) -> RobustScaler? {
        scalers[series.key] ?? RobustScaler(fitting: series.values.filter(\.isFinite))
    }

    func prepare(_ series: RegularSeries) throws -> PreparedSeries {
        guard let scaler = scaler(for: series) else { throw ForecasterError.seriesTooShort(key: series.key, needed: 1, got: 0) }
        return PreparedSeries(series, scaler: scaler, trainEnd: series.count)
    }

    /// Reads `series` from its first step, or from `state` on, and returns where it stands.
    public func read(_ series: RegularSeries, from state: SeriesState? = nil) throws -> SeriesState {
        let prepared = try prepare(series)
        var recurrent = state?.recurrent ?? RecurrentState(config: network.config, batch: 1)
        let startStep = state.map { $0.nextBucket - series.firstBucket } ?? 0
        guard (0...series.count).contains(startStep) else {
            throw ForecasterError.mismatchedSeries("the saved state of \"\(series.key)\" does not lie within the series")
        }
        guard startStep < series.count else { return state! }
        let steps = startStep..<series.count
        let inputs = features.inputs(series: prepared, steps: steps)
        let outputs = try network.forward(inputs: inputs, steps: steps.count, state: &recurrent)
        return SeriesState(key: series.key, nextBucket: series.endBucket, recurrent: recurrent,
                           lastOutputs: Array(outputs.suffix(settings.outputSize)))
    }

    /// The forecast from the end of `series` (reading on from `state` when given), quantiles
    /// in order and in the series' own units, with the state after the last step.
    public func forecast(_ series: RegularSeries, from state: SeriesState? = nil) throws -> (QuantileForecast, SeriesState) {
        let after = try read(series, from: state)
        let prepared = try prepare(series)
        return (quantileForecast(outputs: after.lastOutputs[...], at: series.count - 1, of: prepared), after)
    }

    /// The network's outputs at step t (residuals on the base, in scaled units), back in the
    /// series' units and in order.
    func quantileForecast(outputs: ArraySlice<Float>, at t: Int, of series: PreparedSeries) -> QuantileForecast {
        let q = settings.quantiles.count, base = settings.base ?? .level
        let calibration = settings.calibration ?? .identity
        let medianIndex = settings.quantiles.firstIndex(of: 0.5) ?? q / 2
        var values: [Double] = []
        values.reserveCapacity(outputs.count)
        for h in 0..<settings.horizon {
            let start = outputs.startIndex + h * q
            let stepBase = series.base(base, at: t, ahead: h + 1, season: settings.season)
            values += calibration.apply(base: stepBase, residuals: outputs[start..<(start + q)], medianIndex: medianIndex).map(series.scaler.inverse)
        }
        Quantiles.sortEachStep(&values, levelsPerStep: settings.quantiles.count)
        return QuantileForecast(levels: settings.quantiles, values: values)
    }

    /// Rolling-origin backtest of this model beside seasonal naive on the last `windows`
    /// horizons of `series`. The network reads the series once; the forecast of each origin is
    /// its output after the step before it, so no window sees its own future.
    public func backtest(_ series: RegularSeries, windows: Int, season: Int) throws -> BacktestResult {
        let prepared = try prepare(series)
        var recurrent = RecurrentState(config: network.config, batch: 1)
        let inputs = features.inputs(series: prepared, steps: 0..<series.count)
        let outputs = try network.forward(inputs: inputs, steps: series.count, state: &recurrent)
        let o = settings.outputSize
        let plan = Backtest(horizon: settings.horizon, windows: windows, season: season, levels: settings.quantiles)
        return plan.run(series: series) { window in
            let base = (window.origin - 1) * o
            return quantileForecast(outputs: outputs[base..<(base + o)], at: window.origin - 1, of: prepared)
        }
    }
}
