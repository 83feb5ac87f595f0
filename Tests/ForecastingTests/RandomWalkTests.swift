import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// The random-walk evidence on series whose answer is known, and the presumption of naive it
/// gives the guard's choice.
final class RandomWalkTests: XCTestCase {
    func series(_ values: [Double], frequency: String = "1d", key: String = "s") -> RegularSeries {
        RegularSeries(key: key, grid: grid(frequency), firstBucket: 1000, values: values,
                      states: Array(repeating: .observed, count: values.count), rows: RowCounts())
    }

    /// Steps of `change(previous change, noise)` from 100.
    func walk(_ count: Int, seed: UInt64, change: (Double, Double) -> Double) -> [Double] {
        var generator = SplitMix64(state: seed)
        var values = [100.0], last = 0.0
        for _ in 1..<count {
            last = change(last, Double.random(in: -1...1, using: &generator))
            values.append(values.last! + last)
        }
        return values
    }

    /// A random walk's change is noise: nothing explains it (the adjusted share is about zero,
    /// either side). Changes that carry on (each half the last one plus noise) are explained
    /// beyond the limit (about 8% of a change over five steps), and a daily cycle under hourly
    /// noise in large part: lags of two days see it.
    func testTheShareOfTheChangeAForecastExplains() throws {
        let randomWalk = try XCTUnwrap(RandomWalkEvidence.predictableShare(of: walk(2000, seed: 3) { $1 }, horizon: 5, lags: 10))
        XCTAssertEqual(randomWalk, 0, accuracy: 0.01)
        let momentum = try XCTUnwrap(RandomWalkEvidence.predictableShare(of: walk(2000, seed: 3) { 0.5 * $0 + $1 }, horizon: 5, lags: 10))
        XCTAssertGreaterThan(momentum, 2 * RandomWalkEvidence.limit)
        var generator = SplitMix64(state: 5)
        let cycle = (0..<2000).map { 10 * sin(2 * Double.pi * Double($0) / 24) + Double.random(in: -3...3, using: &generator) }
        let daily = try XCTUnwrap(RandomWalkEvidence.predictableShare(of: cycle, horizon: 6, lags: RandomWalkEvidence.lags(season: 24)))
        XCTAssertGreaterThan(daily, 0.5)
        XCTAssertEqual(RandomWalkEvidence.lags(season: 24), 48)
        XCTAssertEqual(RandomWalkEvidence.lags(season: 5), 10)
        XCTAssertEqual(RandomWalkEvidence.lags(season: 288), RandomWalkEvidence.maximumLags, "five-minute data: capped")
        // The units do not matter; missing steps are left out; too few rows, or no spread, tell nothing.
        let scaled = try XCTUnwrap(RandomWalkEvidence.predictableShare(of: walk(2000, seed: 3) { 0.5 * $0 + $1 }.map { $0 * 1e6 }, horizon: 5, lags: 10))
        XCTAssertEqual(scaled, momentum, accuracy: 1e-6)
        var gappy = walk(2000, seed: 3) { $1 }
        for i in stride(from: 100, to: 2000, by: 97) { gappy[i] = .nan }
        XCTAssertEqual(try XCTUnwrap(RandomWalkEvidence.predictableShare(of: gappy, horizon: 5, lags: 10)), 0, accuracy: 0.015)
        XCTAssertNil(RandomWalkEvidence.predictableShare(of: walk(100, seed: 3) { $1 }, horizon: 5, lags: 10))
        XCTAssertNil(RandomWalkEvidence.predictableShare(of: [Double](repeating: 4, count: 500), horizon: 5, lags: 10))
    }

    /// The guard presumes naive for a long random walk, and only where a baseline may be
    /// published and the stronger baseline is the last value; not for a short series, nor for a
    /// series whose change a forecast explains. The evidence is the median over the series.
    func testTheGuardPresumesNaiveOnlyForALongRandomWalk() throws {
        func guarded(fallback: Bool = true, season: Int = 5) -> ModelGuard {
            ModelGuard(settings: .defaults(frequency: Frequency(.day), horizon: 5, season: season, backtestWindows: 3),
                       season: season, backtestWindows: 3, fallbackAllowed: fallback)
        }
        let long = walk(1500, seed: 8) { $1 }
        let evidence = try XCTUnwrap(guarded().randomWalk([series(long)]))
        XCTAssertTrue(evidence.presumesNaive)
        XCTAssertEqual(evidence.lags, 10)
        XCTAssertNil(guarded(fallback: false).randomWalk([series(long)]), "naive may not be published")
        XCTAssertNil(guarded().randomWalk([series(Array(long.prefix(ModelGuard.shortSeriesLength - 1)))]), "a short series")
        XCTAssertNil(guarded().randomWalk([series(walk(1500, seed: 8) { 0.5 * $0 + $1 })]), "changes that carry on")
        var generator = SplitMix64(state: 2)
        let weekly = (0..<1500).map { 20 * Double($0 % 7 == 0 ? 1 : 0) + Double.random(in: -1...1, using: &generator) }
        XCTAssertNil(guarded(season: 7).randomWalk([series(weekly)]), "seasonal naive is the stronger baseline")
        let unit = [series(long, key: "a"), series(walk(1500, seed: 9) { $1 }, key: "b"), series(walk(1500, seed: 8) { 0.5 * $0 + $1 }, key: "c")]
        XCTAssertNotNil(guarded().randomWalk(unit), "two of three series are random walks")
    }

    /// Presumed, naive is published wherever it ties with the best by the test alone: against a
    /// network 15% better on average but not consistently (beyond the 2% a cheaper contender may
    /// give away), and where naive is best and the network, cheaper to serve, ties with it. A
    /// network consistently better still wins. The reason says why naive was presumed.
    func testAPresumedNaiveIsPublishedWhereverItTies() throws {
        let naive = Contender(kind: .naive, pool: trendPool([1, 1, 1]))
        let lucky = Contender(kind: .network, pool: trendPool([0.6, 1.2, 0.75]))
        let evidence = RandomWalkEvidence(predictableShare: 0.012, lags: 10)
        XCTAssertEqual(try XCTUnwrap(Selection([naive, lucky])).chosen.kind, .network, "without the presumption")
        let presumed = try XCTUnwrap(Selection([naive, lucky], randomWalk: evidence))
        XCTAssertEqual(presumed.chosen.kind, .naive)
        XCTAssertEqual(presumed.best.kind, .network)
        XCTAssertTrue(presumed.reason.hasPrefix("backtest MASE 0.600 ties with the best, the network ("), presumed.reason)
        XCTAssertTrue(presumed.reason.hasSuffix("and the series change like a random walk (a forecast of the change over the horizon "
                                                + "from the last 10 changes explains 1.2% of its variance, at most 4.0%), so naive is presumed"),
                      presumed.reason)
        let tying = Contender(kind: .network, pool: trendPool([1.05, 0.97, 1.0]))
        XCTAssertEqual(try XCTUnwrap(Selection([naive, tying])).chosen.kind, .network, "cheaper, it ties")
        let best = try XCTUnwrap(Selection([naive, tying], randomWalk: evidence))
        XCTAssertEqual(best.chosen.kind, .naive)
        XCTAssertTrue(best.reason.hasPrefix("backtest MASE 0.600; runner-up the network"), best.reason)
        XCTAssertTrue(best.reason.hasSuffix("so naive is presumed"), best.reason)
        let consistent = Contender(kind: .network, pool: trendPool([0.9, 0.88, 0.91]))
        XCTAssertEqual(try XCTUnwrap(Selection([naive, consistent], randomWalk: evidence)).chosen.kind, .network)
    }
}
