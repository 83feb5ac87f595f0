import XCTest
@testable import Forecasting

/// The accuracy protocol of issue 12 on monthly_seven and aus_arrivals with the Swift ETS and
/// Theta: the last `origins` blocks of one horizon each, every origin fitted only on the data
/// before it, MASE of the point forecast scaled by the in-sample seasonal-naive error, averaged
/// over the series; beside statsforecast's figures on the same windows (StatsforecastReference).
final class StatisticalAccuracyTests: XCTestCase {
    func testRollingOriginMASEMatchesStatsforecast() throws {
        for set in ["monthly_seven", "aus_arrivals"] {
            let references = StatsforecastReference.mase.filter { $0.set == set }
            var ets: [Double] = [], theta: [Double] = []
            for reference in references {
                let history = try XCTUnwrap(StatsforecastReference.cases.first { $0.set == set && $0.key == reference.key }).history
                var etsScores: [Double] = [], thetaScores: [Double] = []
                for k in stride(from: reference.origins, through: 1, by: -1) {
                    let origin = history.count - k * reference.horizon
                    let train = Array(history[..<origin]), test = Array(history[origin..<(origin + reference.horizon)])
                    let scale = Metrics.seasonalNaiveScale(training: train, season: reference.season)
                    let etsModel = try ETS.auto(train, season: reference.season)
                    print("  \(reference.key) origin \(origin): ETS(\(etsModel.spec)) AICc \(etsModel.aicc)")
                    let e = etsModel.pointForecast(horizon: reference.horizon)
                    let t = try Theta.auto(train, season: reference.season).pointForecast(horizon: reference.horizon)
                    etsScores.append(Metrics.mase(actual: test, forecast: e, scale: scale))
                    thetaScores.append(Metrics.mase(actual: test, forecast: t, scale: scale))
                }
                let e = etsScores.reduce(0, +) / Double(etsScores.count), t = thetaScores.reduce(0, +) / Double(thetaScores.count)
                ets.append(e)
                theta.append(t)
                print(String(format: "MASE %@/%@: ETS %.3f (statsforecast %.3f), Theta %.3f (statsforecast %.3f)",
                             set, reference.key, e, reference.autoETS, t, reference.autoTheta))
            }
            let meanETS = ets.reduce(0, +) / Double(ets.count), meanTheta = theta.reduce(0, +) / Double(theta.count)
            let referenceETS = references.map(\.autoETS).reduce(0, +) / Double(references.count)
            let referenceTheta = references.map(\.autoTheta).reduce(0, +) / Double(references.count)
            print(String(format: "MASE %@ mean: ETS %.3f (statsforecast %.3f), Theta %.3f (statsforecast %.3f)",
                         set, meanETS, referenceETS, meanTheta, referenceTheta))
            XCTAssertEqual(meanETS, referenceETS, accuracy: 0.05, "\(set): ETS")
            XCTAssertEqual(meanTheta, referenceTheta, accuracy: 0.05, "\(set): Theta")
        }
    }
}
