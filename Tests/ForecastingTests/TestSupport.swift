import Foundation
import XCTest
@testable import Forecasting
import NeuralNet

/// An instant from calendar fields in `zone` (UTC by default).
func instant(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0,
             in zone: String = "UTC") -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: zone)!
    let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    return calendar.date(from: components)!
}

func grid(_ frequency: String, _ zone: String = "UTC") -> TimeGrid {
    try! TimeGrid(frequency: frequency, timeZone: zone)
}

/// The backtest, on a trend of slope 1, of a contender that misses step h by factors[w]·h in
/// window w (three windows of five steps): per-window losses made to order for the guard's choice.
func trendPool(_ factors: [Double]) -> AccuracyPool {
    let trend = (0..<400).map(Double.init)
    let levels = [0.1, 0.5, 0.9]
    let backtest = Backtest(horizon: 5, windows: 3, season: 5, levels: levels)
    let origins = backtest.origins(length: trend.count)
    let result = backtest.run(values: trend) { window in
        let f = factors[origins.firstIndex(of: window.origin)!]
        return QuantileForecast(levels: levels, values: (1...5).flatMap { h in
            let p = window.history.last! + Double(h) * (1 - f)
            return [p - 1, p, p + 1]
        })
    }
    var pool = AccuracyPool()
    pool.add(result)
    return pool
}

func row(_ key: String, _ time: Date, _ value: Double?) -> SourceRow {
    SourceRow(key: key, time: time, value: value)
}

/// Compares with NaN equal to NaN.
func assertValues(_ actual: [Double], _ expected: [Double], accuracy: Double = 1e-12,
                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "count", file: file, line: line)
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        if e.isNaN {
            XCTAssertTrue(a.isNaN, "[\(index)]: \(a) is not NaN", file: file, line: line)
        } else {
            XCTAssertEqual(a, e, accuracy: accuracy, "[\(index)]", file: file, line: line)
        }
    }
}

extension Array where Element == SeriesOutcome {
    subscript(key key: String) -> SeriesOutcome? { first { $0.key == key } }
}

/// The repository root, found from this file (also when the test folder is a symlink).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

extension SplitMix64 {
    mutating func uniform(in range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }
    mutating func normal() -> Double {
        let u = Double.random(in: Double.ulpOfOne...1, using: &self), v = Double.random(in: 0...1, using: &self)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
