import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// The `.profile` base of issue 12, item 1: a season averaged over the training part, put on
/// the mean deseasonalised level of the last season.
final class SeasonalProfileTests: XCTestCase {
    let pattern: [Double] = [3, -1, 4, -1, -5, 0]

    /// A level plus `pattern` (period 6) by grid bucket, with a little deterministic noise.
    func additive(count: Int, firstBucket: Int, level: Double = 50, noise: Double = 0.1) -> [Double] {
        (0..<count).map { t -> Double in
            let season: Double = pattern[(firstBucket + t) % 6]
            return level + season + noise * sin(Double(t) * 1.7)
        }
    }

    func testAnAdditiveSeasonIsRecoveredByGridBucket() throws {
        // The first step is bucket 6003 (phase 3), so array positions and phases differ.
        let values = additive(count: 60, firstBucket: 6003)
        let profile = try XCTUnwrap(SeasonalProfile(fitting: values[...], firstBucket: 6003, period: 6))
        XCTAssertEqual(profile.mode, .additive)
        let mean = pattern.reduce(0, +) / 6
        for phase in 0..<6 {
            XCTAssertEqual(profile.factor(ofBucket: 6000 + phase), pattern[phase] - mean, accuracy: 0.05, "phase \(phase)")
            XCTAssertEqual(profile.factor(ofBucket: -6 + phase), profile.factor(ofBucket: phase), "negative buckets wrap")
        }
    }

    func testAMultiplicativeSeasonIsChosenWhereTheSwingGrowsWithTheLevel() throws {
        let growing = (0..<96).map { t in (10 + 0.5 * Double(t)) * (1 + 0.3 * sin(2 * Double.pi * Double(t) / 12)) }
        let profile = try XCTUnwrap(SeasonalProfile(fitting: growing[...], firstBucket: 0, period: 12))
        XCTAssertEqual(profile.mode, .multiplicative)
        XCTAssertEqual(profile.factors.reduce(0, +) / 12, 1, accuracy: 1e-9, "factors average 1")
        XCTAssertEqual(profile.factor(ofBucket: 3), 1.3, accuracy: 0.02)
        let steady = (0..<96).map { t in 100 + 0.5 * Double(t) + 3 * sin(2 * Double.pi * Double(t) / 12) }
        XCTAssertEqual(SeasonalProfile(fitting: steady[...], firstBucket: 0, period: 12)?.mode, .additive)
    }

    func testTooFewCyclesOrObservationsGiveNoProfile() {
        let values = additive(count: 60, firstBucket: 0)
        XCTAssertNil(SeasonalProfile(fitting: values[..<17], firstBucket: 0, period: 6), "under three cycles")
        XCTAssertNil(SeasonalProfile(fitting: values[...], firstBucket: 0, period: 1), "no season")
        var sparse = values
        for t in stride(from: 0, to: 60, by: 2) { sparse[t] = .nan }
        XCTAssertNil(SeasonalProfile(fitting: sparse[...], firstBucket: 0, period: 6), "half of the steps missing")
        XCTAssertNotNil(SeasonalProfile(fitting: values[...], firstBucket: 0, period: 6))
    }

    /// On a series that is exactly level + season, the base forecasts every step exactly, and
    /// a missing step inside the last season leaves the level as it is.
    func testTheProfileBaseIsTheLevelWithTheSeasonPutIn() throws {
        var values = additive(count: 48, firstBucket: 12, noise: 0)
        values[45] = .nan
        let series = RegularSeries(key: "s", grid: grid("1h"), firstBucket: 12, values: values,
                                   states: values.map { $0.isFinite ? .observed : .missing }, rows: RowCounts())
        let profile = try XCTUnwrap(SeasonalProfile(fitting: values[..<40], firstBucket: 12, period: 6))
        let scaler = try XCTUnwrap(RobustScaler(fitting: values[..<40]))
        let prepared = PreparedSeries(series, scaler: scaler, trainEnd: 40, profile: profile)
        for h in 1...6 {
            let expected = scaler.transform(50 + pattern[(12 + 47 + h) % 6])
            XCTAssertEqual(prepared.base(.profile, at: 47, ahead: h, season: 6), expected, accuracy: 1e-9, "h \(h)")
        }
        XCTAssertEqual(prepared.tailError(of: .profile, horizon: 6, season: 6), 0, accuracy: 1e-9)
        let withoutProfile = PreparedSeries(series, scaler: scaler, trainEnd: 40)
        XCTAssertEqual(withoutProfile.base(.profile, at: 47, ahead: 1, season: 6), withoutProfile.base(.seasonal, at: 47, ahead: 1, season: 6),
                       "without a profile the base is seasonal naive's")
    }

    /// Hourly series of a daily sine and uniform noise: seasonal naive copies yesterday's noise,
    /// the profile averages it away, so training picks the profile and forecasts better.
    func noisyPanel(count: Int, days: Int) -> [RegularSeries] {
        var generator = SplitMix64(seed: 42)
        return (0..<count).map { s in
            let values = (0..<(days * 24)).map { h in
                10 * sin(2 * Double.pi * Double(h) / 24 + Double(s)) + Double(s % 17) + Double(generator.next() % 10_000) / 10_000
            }
            return RegularSeries(key: "s\(s)", grid: grid("1h"), firstBucket: 480_000, values: values,
                                 states: values.map { _ in .observed }, rows: RowCounts())
        }
    }

    func testANoisySeasonPicksTheProfileAndForecastsBelowSeasonalNaive() throws {
        let panel = noisyPanel(count: 6, days: 40)
        var settings = smallForecasterSettings(horizon: 24)
        settings.epochs = 4
        let history = panel.map { $0.prefix($0.count - 24) }
        let model = try RecurrentForecaster.train(series: history, settings: settings)
        XCTAssertEqual(model.settings.base, .profile)
        XCTAssertEqual(Set(model.profiles.keys), Set(panel.map(\.key)))
        var modelError = 0.0, naiveError = 0.0
        for (full, past) in zip(panel, history) {
            let forecast = try model.forecast(past).0
            for h in 0..<24 {
                let actual = full.values[past.count + h]
                modelError += abs(forecast.point[h] - actual)
                naiveError += abs(past.values[past.count - 24 + h] - actual)
            }
        }
        XCTAssertLessThan(modelError, 0.9 * naiveError, "model \(modelError / 144), seasonal naive \(naiveError / 144)")
    }

    /// With the profile base, a read on from a saved state gives every bit of a full read, for
    /// a trained series and for one the global model never saw (its profile kept in the state),
    /// and states and models keep their profiles through their archives.
    func testReadingOnWithTheProfileBaseEqualsAFullRead() throws {
        let panel = noisyPanel(count: 3, days: 30)
        var settings = smallForecasterSettings(horizon: 6)
        settings.epochs = 2
        settings.base = .profile
        let model = try RecurrentForecaster.train(series: Array(panel.prefix(2)), settings: settings)
        let decoded = try ModelArchive.decode(try ModelArchive.encode(model))
        XCTAssertEqual(decoded.profiles, model.profiles)
        for full in [panel[0], panel[2]] {
            let (reread, finalState) = try model.forecast(full)
            XCTAssertNotNil(finalState?.profile)
            for cut in [full.count - 17, full.count - 1, 30] {
                let (_, saved) = try model.forecast(full.prefix(cut))
                let bytes = SeriesStateArchive.encode(try XCTUnwrap(saved))
                let restored = try SeriesStateArchive.decode(bytes, key: full.key, config: model.network.config)
                XCTAssertEqual(restored, saved)
                let (incremental, state) = try decoded.forecast(continuing: restored, with: full.dropFirst(cut), maxGap: 3)
                if full.key == panel[0].key {
                    XCTAssertEqual(incremental, reread, "\(full.key) bit for bit, cut at \(cut)")
                    XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(state)), SeriesStateArchive.encode(try XCTUnwrap(finalState)))
                } else {
                    // An unseen series keeps the profile of its first read, as it keeps its scaler.
                    XCTAssertEqual(state?.profile, saved?.profile, "\(full.key) cut at \(cut)")
                }
            }
        }
    }

    /// States saved before profiles existed (version 1) still read.
    func testAVersionOneStateStillDecodes() throws {
        let recurrent = RecurrentState(batch: 1, hidden: [[0.5, -0.5]], cell: [[0.25, 0]])
        let state = SeriesState(key: "s", nextBucket: 100, scaler: RobustScaler(center: 1, scale: 2), recurrent: recurrent,
                                tail: [1, 2, 3], levelBeforeTail: 0.5)
        var bytes = SeriesStateArchive.encode(state)
        XCTAssertEqual(Array(bytes.suffix(12)), [UInt8](repeating: 0, count: 12), "no profile (version 2), no feedback (version 3), no covariates (version 4)")
        bytes.removeLast(12)
        bytes.replaceSubrange(4..<8, with: [1, 0, 0, 0])
        let config = NetworkConfig(cell: .lstm, inputSize: 3, hiddenSize: 2, layers: 1, outputSize: 3)
        XCTAssertEqual(try SeriesStateArchive.decode(bytes, key: "s", config: config), state)
    }
}
