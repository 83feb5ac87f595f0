import Foundation
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastReport
import Forecasting

/// The report page built from hand-made report models: escaping of user data, the interval
/// band, axes and their labels, and what an empty, short or untrained series looks like.
final class ReportPageTests: XCTestCase {
    static let hostile = "<script>&\"x\""
    let zone = TimeZone(identifier: "America/New_York")!
    /// 2023-11-14 22:00 UTC, 17:00 in New York.
    let origin = Date(timeIntervalSince1970: 1_700_000_000 - 1_700_000_000.truncatingRemainder(dividingBy: 3600))

    func model(cell: ModelCell = .lstm, reason: String? = nil) -> StoredModel {
        StoredModel(modelID: 7, job: "j", series: Self.hostile, version: 3, cell: cell, hyperparameters: "{}", status: .active,
                    reason: reason, trainedAt: origin, dataStart: origin - 86_400 * 10, dataEnd: origin, trainSeconds: 1.5,
                    epochs: 4, weights: nil)
    }

    func series(key: String = hostile, historySteps: Int = 48, horizon: Int = 6) -> SeriesReport {
        let history = (0..<historySteps).map { (i: Int) -> HistoryPoint in
            let time = origin - Double(historySteps - 1 - i) * 3600
            let value: Double = 10 + 5 * sin(Double(i) / 24 * 2 * Double.pi)
            return HistoryPoint(time: time, value: i == 10 ? nil : value)
        }
        let forecast = (1...horizon).map { step in
            ForecastPoint(target: origin + Double(step) * 3600, median: 12, lower: 9, upper: 15)
        }
        return SeriesReport(key: key, history: history, forecast: forecast, issuedAt: origin, confidenceLevel: 0.8, model: model(),
                            metrics: [.backtest: ["mae": 1.25, "baseline_mae": 2.5, "rmse": 1.5, "baseline_rmse": 3, "mase": 0.5,
                                                  "baseline_mase": 1, "smape": 0.1, "baseline_smape": 0.2, "coverage": 0.78,
                                                  "baseline_coverage": 0.6, "pinball": 0.4, "baseline_pinball": 0.9, "skill": 0.5]],
                            training: TrainingCurve(caption: "lstm version 3", epochs: (1...4).map {
                                TrainingHistoryRow(modelID: 7, epoch: $0, trainLoss: 1 / Double($0), validationLoss: 1.2 / Double($0))
                            }))
    }

    func report(_ series: [SeriesReport], total: Int? = nil) -> JobReport {
        JobReport(job: "weather & <co>", frequency: "1h", horizon: 6, timeZone: zone, generatedAt: origin, series: series,
                  seriesTotal: total, historySteps: 48)
    }

    func testUserTextIsEscapedEverywhere() {
        var withReason = series()
        withReason.model = model(cell: .seasonalNaive, reason: "fallback: </dd><script>alert(1)</script>")
        let html = ReportPage.html(report([withReason, series(key: "a'b")]))
        XCTAssertFalse(html.contains("<script"), "no script element, whatever the data says")
        XCTAssertFalse(html.contains(Self.hostile))
        XCTAssertTrue(html.contains("<h2 class=\"series-name\">&lt;script&gt;&amp;&quot;x&quot;</h2>"), html)
        XCTAssertTrue(html.contains("aria-label=\"History and latest forecast of &lt;script&gt;&amp;&quot;x&quot;\""))
        XCTAssertTrue(html.contains("a&#39;b"))
        XCTAssertTrue(html.contains("weather &amp; &lt;co&gt;"))
        XCTAssertTrue(html.contains("&lt;/dd&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertEqual(escapeHTML("a\u{1}b"), "a\u{FFFD}b", "control characters are not valid HTML text")
    }

    func testThePageNeedsNothingFromTheNetworkAndRunsNoScript() {
        let html = ReportPage.html(report([series()]))
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\""))
        for external in ["://", "src=", "@import", "url(", "<link", "<script", "<img"] {
            XCTAssertFalse(html.contains(external), external)
        }
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 2, "the forecast chart and the training curve")
    }

    func testTheForecastChartHasABandAMedianAndAxesInTheJobsZone() throws {
        let html = ReportPage.html(report([series()]))
        let polygon = try XCTUnwrap(html.range(of: "<polygon class=\"band\" points=\"").map { html[$0.upperBound...] })
        let points = polygon.prefix { $0 != "\"" }.split(separator: " ")
        XCTAssertEqual(points.count, 12, "six steps along the upper bound and back along the lower one")
        // The band's upper edge lies above (smaller y) its lower edge at the same x.
        let coordinates = points.map { $0.split(separator: ",").map { Double($0)! } }
        XCTAssertEqual(coordinates[0][0], coordinates[11][0])
        XCTAssertLessThan(coordinates[0][1], coordinates[11][1])
        XCTAssertTrue(html.contains("80% interval"))
        XCTAssertTrue(html.contains("<polyline class=\"median\""))
        XCTAssertTrue(html.contains("forecast origin"))
        XCTAssertEqual(html.components(separatedBy: "<polyline class=\"history\"").count - 1, 2, "the missing step breaks the line in two")
        XCTAssertTrue(html.contains("time (America/New_York)"))
        // 48 hours up to 17:00 New York time and 6 steps ahead: ticks on round local hours.
        XCTAssertTrue(html.contains(">Nov 14 12:00</text>") || html.contains(">Nov 14 00:00</text>"), html)
        XCTAssertTrue(html.contains("EST"), "times in the text carry the job's zone")
        XCTAssertTrue(html.contains(">epoch</text>"))
        XCTAssertTrue(html.contains("<polyline class=\"validation\""))
    }

    func testTheAccuracyTableSitsBesideTheBaseline() {
        let html = ReportPage.html(report([series()]))
        XCTAssertTrue(html.contains("<th>model</th><th>seasonal naive</th>"))
        XCTAssertTrue(html.contains("<tr><th>MAE</th><td class=\"better\">1.25</td><td>2.5</td></tr>"), html)
        XCTAssertTrue(html.contains("<tr><th>interval coverage</th><td>0.78</td><td>0.6</td></tr>"))
        XCTAssertTrue(html.contains("skill (1 − MASE / baseline MASE)</th><td colspan=\"2\" class=\"better\">0.5</td>"))
        XCTAssertFalse(html.contains("<th>MAPE</th>"), "metrics the model lacks get no row")
    }

    func testAFallbackShowsItsReason() {
        var fallback = series()
        fallback.model = model(cell: .seasonalNaive, reason: "fallback: the network's MASE 1.3 does not beat the baseline's 1.1")
        let html = ReportPage.html(report([fallback]))
        XCTAssertTrue(html.contains("seasonal naive (fallback)"))
        XCTAssertTrue(html.contains("<dt>why the fallback</dt><dd class=\"fallback\">fallback: the network&#39;s MASE 1.3"))
    }

    func testANaiveFallbackIsNamedSo() {
        var fallback = series()
        fallback.model = model(cell: .seasonalNaive, reason: "fallback: backtest MASE 1.1 does not beat naive (1.0; seasonal naive 1.4)")
        fallback.model?.hyperparameters = hyperparametersJSON(FallbackBaseline(.level, season: 24))
        let html = ReportPage.html(report([fallback]))
        XCTAssertTrue(html.contains("<dd class=\"\">naive (fallback)</dd>"), html)
    }

    func testACombinedNetworkIsNamedWithItsBaselineAndShowsWhy() {
        var combined = series()
        combined.model = model(reason: "combined with seasonal naive: backtest MASE 0.830 beats the network alone (0.940)")
        combined.model?.hyperparameters = "{\"cell\": \"lstm\", \"combined_with\": {\"baseline\": \"seasonal_naive\", \"season\": 48}}"
        let html = ReportPage.html(report([combined]))
        XCTAssertTrue(html.contains("<dd class=\"\">lstm combined with seasonal naive</dd>"), html)
        XCTAssertTrue(html.contains("<dt>why published</dt><dd class=\"\">combined with seasonal naive: backtest MASE 0.830"), html)
        XCTAssertTrue(html.contains("<dt>design</dt><dd class=\"\">dense head</dd>"), "a model stored before the designs is the dense head")
    }

    /// Issue 12: the report says which scope trained the model and why (`scope = "auto"`).
    func testTheReportShowsTheScopeAndWhy() {
        var global = series()
        global.model = model(reason: "backtest MASE 0.221")
        global.model?.hyperparameters = #"{"cell": "lstm", "scope": "global", "scope_reason": "auto: 1000 series, 100 or more"}"#
        let html = ReportPage.html(report([global]))
        XCTAssertTrue(html.contains("<dt>scope</dt><dd class=\"\">global (auto: 1000 series, 100 or more)</dd>"), html)
        XCTAssertFalse(ReportPage.html(report([series()])).contains("<dt>scope</dt>"), "a model stored before the choice shows none")
    }

    /// Issue 13: the report names the network's design beside its cell; a fallback has none.
    func testTheNetworksDesignIsShown() {
        var encoderDecoder = series()
        encoderDecoder.model = model()
        encoderDecoder.model?.hyperparameters = "{\"cell\": \"gru\", \"layers\": 2, \"decoder\": \"recurrent\"}"
        XCTAssertTrue(ReportPage.html(report([encoderDecoder])).contains("<dt>design</dt><dd class=\"\">encoder–decoder (recurrent decoder, 2 layers)</dd>"))
        var feedback = series()
        feedback.model = model()
        feedback.model?.hyperparameters = "{\"cell\": \"lstm\", \"feedback\": \"output\"}"
        XCTAssertTrue(ReportPage.html(report([feedback])).contains("<dd class=\"\">dense head with output feedback</dd>"))
        var fallback = series()
        fallback.model = model(cell: .seasonalNaive, reason: "fallback")
        fallback.model?.hyperparameters = hyperparametersJSON(FallbackBaseline(.level, season: 24))
        XCTAssertFalse(ReportPage.html(report([fallback])).contains("<dt>design</dt>"))
    }

    func testAStatisticalModelIsNamedWithItsSpecificationAndShowsWhy() {
        var ets = series()
        ets.model = model(cell: .statistical(.ets), reason: "ETS(MAdM): backtest MASE 0.812; runner-up Theta 0.845 (margin 0.033, DM t 0.71 over 3 windows)")
        ets.model?.hyperparameters = hyperparametersJSON(StatisticalModel(method: .ets, season: 12, model: "MAdM", window: 1000))
        var combined = series()
        combined.model = model(reason: "backtest MASE 0.7")
        combined.model?.hyperparameters = "{\"cell\": \"gru\", \"combined_with\": {\"method\": \"theta\", \"model\": \"OTM\", \"season\": 12, \"window\": 1000}}"
        let html = ReportPage.html(report([ets, combined]))
        XCTAssertTrue(html.contains("<dd class=\"\">ETS(MAdM)</dd>"), html)
        XCTAssertTrue(html.contains("<dt>why published</dt><dd class=\"\">ETS(MAdM): backtest MASE 0.812; runner-up Theta 0.845"), html)
        XCTAssertTrue(html.contains("combined with Theta(OTM)</dd>"), html)
    }

    /// A choice the guard averaged with ETS (`averaged_with`) is named with both, and a baseline
    /// averaged with ETS is not called a fallback.
    func testAChoiceAveragedWithETSIsNamedWithBoth() {
        let ets = hyperparametersJSON(StatisticalModel(method: .ets, season: 12, model: "AAA", window: 1000))
        var theta = series()
        theta.model = model(cell: .statistical(.theta), reason: "ETS(AAA): backtest MASE 0.7 as Theta averaged with ETS")
        theta.model?.hyperparameters = #"{"method": "theta", "model": "OTM", "season": 12, "window": 1000, "averaged_with": \#(ets)}"#
        var baseline = series()
        baseline.model = model(cell: .seasonalNaive, reason: "ETS(AAA): backtest MASE 0.9 as seasonal naive averaged with ETS")
        baseline.model?.hyperparameters = #"{"baseline": "seasonal_naive", "season": 12, "averaged_with": \#(ets)}"#
        let html = ReportPage.html(report([theta, baseline]))
        XCTAssertTrue(html.contains("<dd class=\"\">Theta(OTM) averaged with ETS(AAA)</dd>"), html)
        XCTAssertTrue(html.contains("<dd class=\"\">seasonal naive averaged with ETS(AAA)</dd>"), html)
        XCTAssertFalse(html.contains("why the fallback"), html)
    }

    func testEmptyShortAndUntrainedSeries() {
        let empty = SeriesReport(key: "empty")
        let single = SeriesReport(key: "single", history: [HistoryPoint(time: origin, value: 3)])
        let flat = SeriesReport(key: "flat", history: (0..<5).map { HistoryPoint(time: origin + Double($0) * 3600, value: 7) })
        let allMissing = SeriesReport(key: "gaps", history: [HistoryPoint(time: origin, value: nil), HistoryPoint(time: origin + 3600, value: .nan)])
        let html = ReportPage.html(report([empty, single, flat, allMissing]))
        XCTAssertEqual(html.components(separatedBy: "No observations in the last 48 steps and no forecast yet.").count - 1, 2,
                       "the empty series and the one without a finite value")
        XCTAssertEqual(html.components(separatedBy: "No model yet").count - 1, 4)
        XCTAssertEqual(html.components(separatedBy: "No forecast yet.").count - 1, 4)
        XCTAssertTrue(html.contains("<circle class=\"history dot\""), "a single point is drawn as a dot")
        XCTAssertTrue(html.contains(">7.5</text>") || html.contains(">7.4</text>") || html.contains(">7.2</text>"),
                      "a flat line gets a range around its value")
        XCTAssertFalse(html.contains("nan"), "no NaN coordinates")
        XCTAssertFalse(html.contains("<polygon"), "no forecast, no band")
    }

    func testAJobWithoutSeriesAndACappedPage() {
        let none = ReportPage.html(report([]))
        XCTAssertTrue(none.contains("This job has no series yet"))
        XCTAssertFalse(none.contains("<section"))
        let capped = ReportPage.html(report([series(key: "a"), series(key: "b")], total: 57))
        XCTAssertTrue(capped.contains("Showing 2 of 57 series"))
        XCTAssertTrue(capped.contains("--series KEY"))
        XCTAssertTrue(capped.contains("<a href=\"#series-2\">b</a>"))
    }

    func testTicks() {
        let numbers = SVGChart.numberTicks(from: 0.13, to: 0.87, count: 5)
        XCTAssertEqual(numbers.values.map { numbers.format($0) }, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let epochs = SVGChart.numberTicks(from: 1, to: 3, count: 6, integers: true)
        XCTAssertEqual(epochs.values, [1, 2, 3])
        let utc = TimeZone(identifier: "UTC")!
        let day = 1_700_006_400.0  // 2023-11-15 00:00 UTC
        let hours = SVGChart.timeTicks(from: day + 1800, to: day + 86_400, zone: utc, maximum: 7)
        XCTAssertEqual(hours.map(\.label), ["06:00", "12:00", "18:00", "00:00"])
        let months = SVGChart.timeTicks(from: day, to: day + 200 * 86_400, zone: utc, maximum: 7)
        XCTAssertEqual(months.map(\.label), ["2024-01", "2024-03", "2024-05"])
        let local = SVGChart.timeTicks(from: day, to: day + 2 * 86_400, zone: zone, maximum: 7)
        XCTAssertEqual(local.first?.label, "Nov 15 00:00", "midnight in New York, not in UTC: \(local.map(\.label))")
    }
}
