import ArgumentParser
import Forecasting
import Foundation
import NeuralNet

/// `forecastd bench accuracy`: a quick in-memory accuracy check on a CSV file, for choosing
/// defaults. Each rolling origin trains a fresh model on the data before it only, then its
/// median forecast is scored by MASE beside seasonal naive, through Forecasting's `Backtest`
/// (the windows, scaling and metrics the guard uses). The benchmark of record goes
/// through PostgreSQL (benchmarks/accuracy/); this one skips the database to iterate fast.
struct BenchAccuracy: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "accuracy",
        abstract: "Rolling-origin accuracy of the default forecaster on a CSV file (no database).")

    @Option(help: "CSV file with a header row.") var csv: String
    @Option(help: "Time column.") var timeColumn: String
    @Option(help: "Value column.") var valueColumn: String
    @Option(help: "Series column (optional).") var seriesColumn: String?
    @Option(help: "Keep only this series.") var series: String?
    @Option(help: "Frequency, e.g. 1h.") var frequency: String
    @Option(help: "Horizon in steps.") var horizon: Int
    @Option(help: "Rolling origins.") var origins: Int = 5
    @Option(help: "Keep only the last N steps of each series.") var last: Int?
    @Option(help: "Cell: lstm, gru or rnn.") var cell: CellKind?
    @Option(help: "Hidden size.") var hidden: Int?
    @Option(help: "Epochs.") var epochs: Int?
    @Option(help: "Learning rate.") var learningRate: Float?
    @Option(help: "Context (warm-up) steps.") var context: Int?
    @Option(help: "Batch size.") var batch: Int?
    @Option(help: "TBPTT length.") var tbptt: Int?
    @Option(help: "Layers.") var layers: Int?
    @Option(help: "Decoder: dense or recurrent (issue 13).") var decoder: DecoderKind?
    @Option(help: "Feedback: none or output (issue 13; needs the dense decoder).") var feedback: FeedbackKind?
    @Option(help: "Recurrent decoder: decode from every Nth scored step in training (default: chosen from tbptt and the horizon).") var decoderStride: Int?
    @Option(help: "Recurrent decoder and feedback: share of own forecasts fed in the last epoch (default 0.5).") var ownShare: Float?
    @Option(help: "Networks in the ensemble.") var ensemble: Int?
    @Option(help: "The networks' seed (default 1): another seed shows how far a result moves with the seed alone.") var seed: UInt64?
    @Option(help: "Backtest windows, as a job's backtest_windows (default 3): the network holds back that many horizons, and with --contenders the guard scores every contender on them.") var backtestWindows: Int = 3
    @Flag(help: "Print each epoch.") var verbose = false
    @Option(help: "Run the guard's whole contest at each origin instead of the network alone, and write every contender's backtest windows and forecast to this file (JSON lines), to compare rules of selection and combination on the held-out windows.")
    var contenders: String?
    @Flag(help: "With --contenders: one global model over every series at each origin (each series cut at its own origin).")
    var global = false

    func run() throws {
        let grid = try TimeGrid(frequency: frequency)
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        var lines = text.split(whereSeparator: \.isNewline)
        let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let ti = header.firstIndex(of: timeColumn), let vi = header.firstIndex(of: valueColumn) else {
            throw ValidationError("columns \(timeColumn)/\(valueColumn) not in \(header)")
        }
        let si = seriesColumn.flatMap { header.firstIndex(of: $0) }
        let iso = ISO8601DateFormatter()
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        var rows: [SourceRow] = []
        for line in lines {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let key = si.map { f[$0] } ?? "series"
            if let series, key != series { continue }
            guard let time = iso.date(from: f[ti]) ?? day.date(from: f[ti]) else { throw ValidationError("bad time \(f[ti])") }
            rows.append(SourceRow(key: key, time: time, value: Double(f[vi])))
        }
        let season = grid.frequency.defaultSeasonLength
        var overrides = ForecasterOverrides()
        overrides.cell = cell
        overrides.hiddenSize = hidden
        overrides.epochs = epochs
        overrides.learningRate = learningRate
        overrides.context = context
        overrides.batchSize = batch
        overrides.tbpttK1 = tbptt
        overrides.tbpttK2 = tbptt
        overrides.layers = layers
        overrides.decoder = decoder
        overrides.feedback = feedback
        overrides.decoderStride = decoderStride
        overrides.ownShare = ownShare
        overrides.ensemble = ensemble
        overrides.seed = seed
        if feedback == .output, decoder == .recurrent { throw ValidationError("--feedback output needs --decoder dense") }
        let settings = ForecasterSettings.resolved(frequency: grid.frequency, horizon: horizon, season: season,
                                                   backtestWindows: backtestWindows, overrides: overrides)
        // The product's own rolling-origin backtest and metrics: each origin trains a fresh
        // model on the history before it; seasonal naive and naive are scored on the same windows.
        let backtest = Backtest(horizon: horizon, windows: origins, season: season, levels: settings.quantiles)
        let built = SeriesBuilder.build(rows, settings: SeriesSettings(grid: grid))
        if let contenders {
            return try writeContenders(of: built.compactMap(\.series), settings: settings, season: season, to: contenders)
        }
        for outcome in built {
            guard var full = outcome.series else { print("\(outcome.key): skipped \(outcome.skipReason!)"); continue }
            if let last, full.count > last { full = full.suffix(last) }
            var seconds = 0.0
            // A series the network cannot train on is reported and skipped, as a job would.
            let result: BacktestResult
            do { result = try backtest.run(series: full) { window in
                let history = full.prefix(window.origin)
                let started = Date()
                let model = try RecurrentForecaster.train(series: [history], settings: settings) { record in
                    if verbose { print(String(format: "  epoch %d train %.4f val %.4f %.2fs", record.epoch, record.trainLoss, record.validationLoss, record.seconds)) }
                }
                seconds += Date().timeIntervalSince(started)
                if verbose { print("  origin \(window.origin): base \(model.settings.base!), best epoch \(model.bestEpoch)/\(model.history.count)") }
                return try model.forecast(history).0
            } } catch {
                print("\(full.key): skipped (\(error))")
                continue
            }
            let naive = backtest.run(series: full) { SeasonalNaive.naive.forecast(history: $0.history, horizon: horizon, levels: $0.levels) }
            if verbose {
                for w in result.windows {
                    print(String(format: "  origin %d: model %.3f seasonal naive %.3f", w.origin, w.model.mase, w.baseline.mase))
                }
            }
            print(String(format: "%@: MASE model %.3f  seasonal naive %.3f  naive %.3f  coverage %.2f  train %.1fs/origin",
                         full.key, result.model.mase, result.baseline.mase, naive.model.mase, result.model.coverage,
                         seconds / Double(max(result.windows.count, 1))))
        }
    }
}

extension BenchAccuracy {
    /// For each series and origin (the last `origins` horizons), the guard's contest on the
    /// history before it as `train --as-of` runs it with the defaults (`ModelGuard.everyContender`),
    /// one JSON line: the held-out actuals and their MASE scale, per contender its backtest
    /// windows (scale, actuals, point forecast, quantiles) and its forecast of the held-out horizon,
    /// and where the unit changes like a random walk (`ModelGuard.randomWalk`), the share of its
    /// change a linear forecast explains (`naive_presumed`; null where naive is not presumed).
    func writeContenders(of series: [RegularSeries], settings: ForecasterSettings, season: Int, to path: String) throws {
        let guardian = ModelGuard(settings: settings, season: season, backtestWindows: backtestWindows, fallbackAllowed: true,
                                  challengersBelow: ModelGuard.shortSeriesLength)
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let file = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
        defer { try? file.close() }
        let window = { (s: RegularSeries, origin: Int, point: [Double]) -> [String: Any] in
            let observed = s.observedValues
            return ["scale": Metrics.seasonalNaiveScale(training: Array(observed[..<origin]), season: season),
                    "actual": Array(observed[origin..<min(origin + horizon, observed.count)]).map { $0.isFinite ? $0 : -1e300 },
                    "point": point]
        }
        let scored = series.map { $0.suffix(last ?? $0.count) }
        let originsOf = scored.map { Backtest.origins(length: $0.count, horizon: horizon, windows: origins, minimumHistory: season + 1) }
        // Per unit: the series it trains on, each cut at its origin.
        var units: [[(series: RegularSeries, origin: Int)]] = []
        if global {
            for k in 0..<origins {
                units.append(zip(scored, originsOf).compactMap { s, o in
                    let i = k - (origins - o.count)
                    return i >= 0 ? (s, o[i]) : nil
                })
            }
        } else {
            units = zip(scored, originsOf).flatMap { s, o in o.map { [(s, $0)] } }
        }
        for unit in units where !unit.isEmpty {
            let histories = unit.map { $0.series.prefix($0.origin) }
            let started = Date()
            let reports = guardian.everyContender(histories, threads: ComputeThreads.perUnit)
            let seconds = Date().timeIntervalSince(started)
            let presumed: Any = guardian.randomWalk(histories).map(\.predictableShare) ?? NSNull()
            for (j, (full, origin)) in unit.enumerated() {
                let key = full.key
                let line: [String: Any] = [
                    "series": key, "origin": origin, "seconds": seconds, "naive_presumed": presumed,
                    "heldout": window(full, origin, []),
                    "contenders": reports.compactMap { report -> [String: Any]? in
                        guard let forecast = report.forecasts.first(where: { $0.series == key }), let backtest = report.backtests[key] else { return nil }
                        return ["code": report.code, "mase": report.mase.isFinite ? report.mase : -1,
                                "windows": backtest.windows.map { w -> [String: Any] in
                                    var scored = window(histories[j], w.origin, w.modelForecast.point)
                                    scored["quantiles"] = w.modelForecast.values
                                    return scored
                                },
                                "point": forecast.forecast.point, "levels": settings.quantiles, "quantiles": forecast.forecast.values]
                    }]
                file.write(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]))
                file.write(Data("\n".utf8))
            }
            print("\(unit.map(\.series.key).joined(separator: ",")) origin \(unit[0].origin): "
                  + reports.map { String(format: "%@ %.3f", $0.code, $0.mase) }.joined(separator: ", "))
        }
    }
}

extension RegularSeries {
    /// The last `n` steps as a series of their own.
    func suffix(_ n: Int) -> RegularSeries {
        steps(Swift.max(0, count - n)..<count)
    }

    func prefix(_ n: Int) -> RegularSeries {
        steps(0..<Swift.min(n, count))
    }
}

extension CellKind: ExpressibleByArgument {}
extension DecoderKind: ExpressibleByArgument {}
extension FeedbackKind: ExpressibleByArgument {}
