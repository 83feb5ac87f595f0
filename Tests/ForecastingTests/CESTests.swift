import XCTest
@testable import Forecasting

/// CES against statsforecast's (CESReference.swift, on StatsforecastReference.swift's histories).
/// statsforecast keeps CES's states in single precision, so the optimiser can stop at slightly
/// other parameters: points agree within a few percent, not to the digit.
final class CESTests: XCTestCase {
    func history(of c: CESReferenceCase) throws -> ReferenceCase {
        try XCTUnwrap(StatsforecastReference.cases.first { $0.set == c.set && $0.key == c.key }, c.key)
    }

    func testEveryTypeAgreesWithStatsforecast() throws {
        for c in CESReference.cases {
            let h = try history(of: c)
            for (code, reference) in c.fits.sorted(by: { $0.key < $1.key }) {
                let kind = try XCTUnwrap(CESKind(rawValue: code))
                let model = try CES.auto(h.history, season: h.season, kinds: [kind])
                let point = ETSTests.relativeDifference(model.pointForecast(horizon: h.horizon), reference.mean)
                print(String(format: "CES %@/%@ %@: point %.3f%%, AICc %.2f (statsforecast %.2f), α %.3f%+.3fi β %.3f%+.3fi (%.3f%+.3fi %.3f%+.3fi)",
                             c.set, c.key, code, 100 * point, model.aicc, reference.aicc, model.alpha0, model.alpha1,
                             model.beta0, model.beta1, reference.parameters[0], reference.parameters[1],
                             reference.parameters[2], reference.parameters[3]))
                XCTAssertEqual(model.kind, kind)
                // Where single precision stopped statsforecast's search short of the optimum
                // (souvenir_sales, S: AICc 1859.25 against 1855.70), the forecasts may differ.
                guard model.aicc > reference.aicc - 1 else { continue }
                XCTAssertLessThanOrEqual(point, 0.03, "\(c.key) \(code): point forecasts")
                XCTAssertEqual(model.aicc, reference.aicc, accuracy: max(1, 0.001 * abs(reference.aicc)), "\(c.key) \(code): AICc")
            }
        }
    }

    func testAutoChoosesStatsforecastsType() throws {
        var same = 0
        for c in CESReference.cases {
            let h = try history(of: c)
            let model = try CES.auto(h.history, season: h.season)
            if model.kind.rawValue == c.auto { same += 1 } else { print("CES \(c.key): \(model.kind.rawValue), statsforecast \(c.auto)") }
        }
        XCTAssertGreaterThanOrEqual(same, CESReference.cases.count - 1, "the automatic choice")
    }

    func testIntervalsWidenAroundThePoint() throws {
        let air = try XCTUnwrap(StatsforecastReference.cases.first { $0.key == "airpassengers" })
        let f = try CES.auto(air.history, season: 12).forecast(horizon: 12, levels: [0.1, 0.5, 0.9])
        for step in 0..<12 {
            XCTAssertLessThan(f.lower[step], f.point[step])
            XCTAssertGreaterThan(f.upper[step], f.point[step])
            XCTAssertEqual(f.values[3 * step + 1], f.point[step], accuracy: 1e-9, "the median is the point")
        }
        XCTAssertGreaterThan(f.upper[11] - f.lower[11], f.upper[0] - f.lower[0])
    }

    /// The response to one innovation is what the recursion makes of it: for N with α = 2 + 1i
    /// the level reads ℓ_t = ℓ_{t−1} + e_t whatever c is, a random walk, so every step on keeps
    /// the innovation in full and the h-step variance is h·σ².
    func testTheInnovationResponseOfARandomWalk() {
        let model = CESModel(kind: .none, season: 1, alpha0: 2, alpha1: 1, beta0: 0, beta1: 0, aicc: 0, sigma2: 4,
                             lastStates: [[10, 0]])
        let f = model.forecast(horizon: 4, levels: [0.5, 0.9])
        XCTAssertEqual(f.point, [10, 10, 10, 10])
        let z = Numerics.normalQuantile(0.9)
        for step in 0..<4 {
            XCTAssertEqual(f.values[2 * step + 1] - 10, z * (4 * Double(step + 1)).squareRoot(), accuracy: 1e-9)
        }
    }

    /// What a published model records and predict fits again: the seasonal type chosen, refitted
    /// on the history as recorded, and eased to N where the history became too short for it.
    func testTheRecordedTypeIsWhatPredictFitsAgain() throws {
        let air = try XCTUnwrap(StatsforecastReference.cases.first { $0.key == "airpassengers" })
        let template = StatisticalModel.challenger(.ces, season: 12, week: nil)
        let chosen = try template.fit(history: air.history, spec: nil, horizon: 12, levels: [0.1, 0.5, 0.9])
        XCTAssertEqual(chosen.spec, "F")
        let recorded = template.recording(["airpassengers": chosen.spec])
        XCTAssertEqual(recorded.name, "CES(F)")
        XCTAssertEqual(try recorded.forecast(history: air.history, key: "airpassengers", horizon: 12, levels: [0.1, 0.5, 0.9]),
                       chosen.forecast, "predict forecasts what training published")
        let short = try recorded.fit(history: air.history.suffix(20), spec: "F", horizon: 12, levels: [0.5])
        XCTAssertEqual(short.spec, "N", "twenty months allow no seasonal type")
        XCTAssertThrowsError(try recorded.fit(history: air.history, spec: "Q", horizon: 12, levels: [0.5]))
    }

    func testMissingValuesConstantAndShortSeries() throws {
        var y = (0..<48).map { 100 + 10 * sin(2 * Double.pi * Double($0) / 12) + Double($0) }
        let whole = try CES.auto(y, season: 12).pointForecast(horizon: 6)
        y[20] = .nan
        let gap = try CES.auto([.nan, .nan] + y, season: 12).pointForecast(horizon: 6)
        XCTAssertEqual(ETSTests.relativeDifference(gap, whole), 0, accuracy: 0.01, "an interpolated gap changes little")
        let flat = try CES.auto([Double](repeating: 5, count: 30), season: 12).pointForecast(horizon: 3)
        for value in flat { XCTAssertEqual(value, 5, accuracy: 1e-6) }
        XCTAssertThrowsError(try CES.auto([1, 2], season: 1)) { error in
            XCTAssertEqual(error as? CESError, .tooShort(got: 2, needs: 2))
        }
        XCTAssertThrowsError(try CES.auto([.nan, .nan], season: 12))
    }
}
