import ForecastStore
import Forecasting
import Foundation
import NeuralNet
import PostgresClient

/// One series' scores in a `forecastd backtest` run.
public struct SeriesBacktest: Sendable {
    public var series: String
    public var result: BacktestResult
}

/// `forecastd backtest JOB`: how well the job's settings forecast the latest data, out of sample.
///
/// The last `backtest_windows` horizons of every series are withheld: the network is trained on
/// the history before the first window only, so neither its weights nor its early stopping see
/// a window. It then reads each window's history up to the origin (the weights fixed) and
/// forecasts the window; seasonal naive is scored on the same windows. This differs from the
/// backtest that guards publication at training time, whose windows also serve as the
/// validation tail. Nothing is published: the scores go to `backtest_results` under the run.
extension JobRunner {
    public func backtest(on connection: PostgresConnection, onlySeries: String? = nil) async throws -> (RunSummary, [SeriesBacktest]) {
        try await backtest(storage: storage(connection), onlySeries: onlySeries)
    }

    /// `backtest` on any storage.
    public func backtest(storage: some JobStorage, onlySeries: String? = nil) async throws -> (RunSummary, [SeriesBacktest]) {
        let runID = try await storage.startRun(kind: .backtest, trigger: nil, note: nil)
        var summary = RunSummary(runID: runID, kind: .backtest, status: .running)
        var logger = self.logger
        logger[metadataKey: "run"] = "\(runID)"
        let end = now()
        let outcomes: [SeriesOutcome]
        do {
            let read = try await readSeries(from: plan.trainingStart(end: end), to: end, storage: storage)
            outcomes = read.outcomes.filter { onlySeries == nil || $0.key == onlySeries }
            summary.pointsRead = Int64(read.points)
        } catch let error as SourceError {
            summary.errors.append(error.description)
            return (try await finish(summary, status: .failed, storage: storage, logger: logger), [])
        }
        if outcomes.isEmpty {
            summary.errors.append(onlySeries.map { "series \"\($0)\" has no rows in the training window" } ?? "the source has no rows in the training window")
            return (try await finish(summary, status: .failed, storage: storage, logger: logger), [])
        }

        var ready: [RegularSeries] = []
        for outcome in outcomes {
            summary.seriesTotal += 1
            switch outcome {
            case .ready(let series): ready.append(series)
            case .skipped(let skipped):
                summary.seriesFailed += 1
                summary.errors.append("series \"\(skipped.key)\": skipped: \(skipped.reason)")
            }
        }
        let global = plan.scope(seriesCount: outcomes.count, observations: ready.map(\.observedCount)).global
        let units: [[RegularSeries]] = global ? (ready.isEmpty ? [] : [ready]) : ready.map { [$0] }
        var scored: [SeriesBacktest] = []
        for unit in units {
            let (results, errors) = evaluate(unit)
            scored += results
            summary.seriesFailed += errors.count
            summary.errors += errors
        }

        let rows = scored.flatMap { backtest in
            backtest.result.metrics.map {
                BacktestResultRow(series: backtest.series, metric: $0.name, value: $0.value.isFinite ? $0.value : nil,
                                  windows: backtest.result.windows.count)
            }
        }
        try await storage.writeBacktest(rows, runID: runID)
        let status: RunStatus = summary.seriesFailed == 0 ? .succeeded : (summary.seriesFailed < summary.seriesTotal ? .partial : .failed)
        return (try await finish(summary, status: status, storage: storage, logger: logger), scored)
    }

    /// Trains one unit on the history before its windows and scores it on them; the series
    /// that could not be scored come back as errors naming them.
    func evaluate(_ unit: [RegularSeries]) -> ([SeriesBacktest], [String]) {
        let windows = max(job.backtestWindows, 1), withheld = windows * job.horizon
        let training = unit.compactMap { $0.prefix(steps: $0.count - withheld) }
        let keys = unit.map(\.key).joined(separator: ", ")
        guard training.count == unit.count else {
            return ([], unit.map { "series \"\($0.key)\": shorter than its \(windows) backtest window(s) of \(job.horizon) steps plus a training history" })
        }
        let settings = plan.forecaster.resolvingEnsemble(for: training)
        let model: TrainedForecaster
        do {
            // As `UnitTraining.train`: an ensemble's networks train side by side.
            model = try RecurrentForecaster.trainEnsemble(series: training, settings: settings,
                                                          threads: unit.count > 1 || settings.ensembleSize > 1 ? ComputeThreads.perUnit : 1)
        } catch {
            return ([], ["series \(keys): training failed: \(error)"])
        }
        var results: [SeriesBacktest] = [], errors: [String] = []
        // The network reads every series once, many side by side (`readInFull`).
        let reads = model.readInFull(unit, backtest: { _ in windows }, season: plan.season, threads: unit.count > 1 ? ComputeThreads.perUnit : 1)
        for (series, read) in zip(unit, reads) {
            do {
                guard let result = read?.backtest else { throw ForecasterError.seriesTooShort(key: series.key, needed: 1, got: 0) }
                guard !result.windows.isEmpty else { throw BacktestError.noWindow }
                results.append(SeriesBacktest(series: series.key, result: result))
            } catch {
                errors.append("series \"\(series.key)\": \(error)")
            }
        }
        return (results, errors)
    }

    enum BacktestError: Error, CustomStringConvertible {
        case noWindow
        var description: String { "no backtest window could be scored (too little history before the windows)" }
    }
}

extension RegularSeries {
    /// The first `steps` steps; nil when that leaves nothing.
    func prefix(steps: Int) -> RegularSeries? {
        guard steps > 0 else { return nil }
        guard steps < count else { return self }
        return self.steps(0..<steps)
    }
}
