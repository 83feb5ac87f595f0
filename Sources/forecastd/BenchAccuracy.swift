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
    @Flag(help: "Print each epoch.") var verbose = false

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
        if feedback == .output, decoder == .recurrent { throw ValidationError("--feedback output needs --decoder dense") }
        let settings = ForecasterSettings.resolved(frequency: grid.frequency, horizon: horizon, season: season,
                                                   backtestWindows: 3, overrides: overrides)
        // The product's own rolling-origin backtest and metrics: each origin trains a fresh
        // model on the history before it; seasonal naive and naive are scored on the same windows.
        let backtest = Backtest(horizon: horizon, windows: origins, season: season, levels: settings.quantiles)
        for outcome in SeriesBuilder.build(rows, settings: SeriesSettings(grid: grid)) {
            guard var full = outcome.series else { print("\(outcome.key): skipped \(outcome.skipReason!)"); continue }
            if let last, full.count > last { full = full.suffix(last) }
            var seconds = 0.0
            let result = try backtest.run(series: full) { window in
                let history = full.prefix(window.origin)
                let started = Date()
                let model = try RecurrentForecaster.train(series: [history], settings: settings) { record in
                    if verbose { print(String(format: "  epoch %d train %.4f val %.4f %.2fs", record.epoch, record.trainLoss, record.validationLoss, record.seconds)) }
                }
                seconds += Date().timeIntervalSince(started)
                if verbose { print("  origin \(window.origin): base \(model.settings.base!), best epoch \(model.bestEpoch)/\(model.history.count)") }
                return try model.forecast(history).0
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
