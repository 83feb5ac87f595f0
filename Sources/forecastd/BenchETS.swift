import ArgumentParser
import Forecasting
import Foundation
import NeuralNet

/// `forecastd bench ets`: the statistical challenger's cost per series, the work that publishing
/// ETS for a panel of short series does (`ETS.autoCombination`: every candidate fitted, the
/// Akaike-weighted combination of the best) and that a predict cycle does for each series that
/// got new rows (the recorded combination fitted again). The series follow the formula of
/// `benchmarks/accuracy/short_panel_speed.sh`'s monthly panel (a trend, a seasonal swing,
/// uniform noise, here from a seeded generator of its own); `--csv` writes them for
/// `benchmarks/ets_vs_statsforecast.sh`, which times statsforecast's AutoETS on the same values
/// in the same run.
struct BenchETS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ets",
        abstract: "Measure ETS fits per second on synthetic monthly series (automatic choice, and the chosen models refitted)."
    )

    @Option(help: "Series.") var series: Int = 1000
    @Option(help: "Observations per series.") var points: Int = 120
    @Option(help: "Season.") var season: Int = 12
    @Option(help: "Threads (series split across them).") var threads: Int = 1
    @Option(help: "Also write the series to this CSV (series,t,value) for the peer script.") var csv: String?
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard series >= 1, points >= 2 * season + 2, season >= 1, threads >= 1 else {
            throw ValidationError("--series, --threads and --season must be at least 1, --points at least 2 × season + 2")
        }
    }

    /// Series `s`: (100 + s mod 50 + t/2)(1 + 0.2 sin(2πt/season + s)) + 5·U(0,1), seeded.
    static func panel(series: Int, points: Int, season: Int) -> [[Double]] {
        var random = SeededGenerator(seed: 0x5EED)
        return (0..<series).map { s in
            (0..<points).map { t in
                let level = 100 + Double(s % 50) + 0.5 * Double(t)
                let swing = 1 + 0.2 * sin(2 * Double.pi * Double(t) / Double(season) + Double(s))
                return level * swing + 5 * random.nextDouble()
            }
        }
    }

    func run() throws {
        let values = Self.panel(series: series, points: points, season: season)
        if let csv {
            var text = "series,t,value\n"
            for (s, y) in values.enumerated() { for (t, v) in y.enumerated() { text += "s\(s),\(t),\(v)\n" } }
            try text.write(toFile: csv, atomically: true, encoding: .utf8)
        }
        ComputeThreads.configure(concurrentUnits: 1)
        let season = self.season
        var started = Date()
        let chosen = ComputeThreads.map(values.count, threads: threads) { i in (try? ETS.autoCombination(values[i], season: season, horizon: season))?.spec }
        let automatic = Date().timeIntervalSince(started)
        started = Date()
        let refitted = ComputeThreads.map(values.count, threads: threads) { i -> [Double]? in
            guard let specs = chosen[i]?.split(separator: "+").compactMap({ ETSSpec(String($0)) }) else { return nil }
            return (try? ETS.combination(values[i], season: season, specs: specs, horizon: season))?.forecast(horizon: season, levels: [0.5]).point
        }
        let refit = Date().timeIntervalSince(started)
        let members = chosen.compactMap { $0?.split(separator: "+").count }
        let fields: [(String, String)] = [
            ("series", "\(series)"), ("points", "\(points)"), ("season", "\(season)"), ("threads", "\(threads)"),
            ("fitted", "\(chosen.compactMap { $0 }.count)"), ("refitted", "\(refitted.compactMap { $0 }.count)"),
            ("mean_members", fmt(Double(members.reduce(0, +)) / Double(max(1, members.count)), 2)),
            ("auto_seconds", fmt(automatic, 3)), ("auto_ms_per_series", fmt(1000 * automatic / Double(series), 3)),
            ("refit_seconds", fmt(refit, 3)), ("refit_ms_per_series", fmt(1000 * refit / Double(series), 3)),
            // The same work gives the same numbers: a change meant to be only faster keeps this to the bit.
            ("forecast_sum", "\"\(refitted.compactMap { $0 }.joined().reduce(0, +))\""),
            ("models", "\"\(Dictionary(grouping: chosen.compactMap { $0 }, by: { $0 }).mapValues(\.count).sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))\""),
        ]
        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            for (k, v) in fields { print("\(k): \(v)") }
        }
    }
}
