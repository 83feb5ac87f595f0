import ForecastStore
import Forecasting
import Foundation

/// Turns a `JobReport` into one self-contained HTML page: inline CSS and SVG, no script, no
/// external fonts, images or links, and a Content-Security-Policy that forbids fetching
/// anything, so the file can be mailed or archived and opens the same offline.
public enum ReportPage {
    /// The metrics of the accuracy table, in order, with how people write them.
    static let metricRows: [(name: String, label: String)] = [
        ("mae", "MAE"), ("rmse", "RMSE"), ("mase", "MASE"), ("smape", "sMAPE"), ("mape", "MAPE"),
        ("coverage", "interval coverage"), ("pinball", "pinball loss"),
    ]

    public static func html(_ report: JobReport) -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>forecastd report: \(escapeHTML(report.job))</title>
            <style>\(css)</style>
            </head>
            <body>

            """
        page += "<header><h1>forecastd report: <span class=\"job\">\(escapeHTML(report.job))</span></h1>\n"
        page += "<p class=\"summary\">frequency \(escapeHTML(report.frequency)), horizon \(report.horizon) steps, "
            + "time zone \(escapeHTML(report.timeZone.name)), generated \(escapeHTML(format(report.generatedAt, report.timeZone))). "
            + "History: the last \(report.historySteps) steps before the forecast origin, and the actual values that arrived since.</p>\n"
        if report.seriesTotal > report.series.count {
            page += "<p class=\"note\">Showing \(report.series.count) of \(report.seriesTotal) series (the first by key). "
                + "Use <code>forecastd report \(escapeHTML(report.job)) --series KEY</code> for another one, "
                + "or <code>--max-series N</code> for more.</p>\n"
        }
        if report.series.isEmpty {
            page += "<p class=\"empty\">This job has no series yet: no model, no forecast and no source rows were found.</p>\n"
        } else if report.series.count > 1 {
            page += "<nav><ul>"
            for (index, series) in report.series.enumerated() {
                page += "<li><a href=\"#series-\(index + 1)\">\(escapeHTML(series.key))</a></li>"
            }
            page += "</ul></nav>\n"
        }
        page += "</header>\n"
        for (index, series) in report.series.enumerated() {
            page += section(series, number: index + 1, report: report)
        }
        return page + "</body>\n</html>\n"
    }

    static func section(_ series: SeriesReport, number: Int, report: JobReport) -> String {
        let zone = report.timeZone
        var html = "<section class=\"series\" id=\"series-\(number)\">\n"
        html += "<h2 class=\"series-name\">\(escapeHTML(series.key))</h2>\n"
        html += "<div class=\"columns\"><div class=\"main\">\n"
        var chart = SVGChart(title: "History and latest forecast of \(series.key)", xAxis: .time(zone), yLabel: report.valueLabel)
        let band = series.forecast.compactMap { point -> (x: Double, low: Double, high: Double)? in
            guard let low = point.lower, let high = point.upper, low.isFinite, high.isFinite else { return nil }
            return (point.target.timeIntervalSince1970, low, high)
        }
        if !band.isEmpty {
            let level = series.confidenceLevel.map { "\(Int(($0 * 100).rounded()))% interval" } ?? "interval"
            chart.bands.append(.init(label: level, cssClass: "band", points: band))
        }
        chart.lines.append(.init(label: "actual", cssClass: "history",
                                 points: series.history.map { ($0.time.timeIntervalSince1970, $0.value) }))
        // The median line starts at the last observed value, so history and forecast connect.
        var median = series.forecast.map { (x: $0.target.timeIntervalSince1970, y: Optional($0.median)) }
        if let origin = series.issuedAt, let last = series.history.last(where: { $0.time == origin }), let value = last.value, !median.isEmpty {
            median.insert((origin.timeIntervalSince1970, value), at: 0)
        }
        chart.lines.append(.init(label: "forecast (median)", cssClass: "median", points: median))
        if let origin = series.issuedAt { chart.marker = (origin.timeIntervalSince1970, "forecast origin") }
        if let svg = chart.svg() {
            html += "<figure>\(svg)</figure>\n"
        } else {
            html += "<p class=\"empty\">No observations in the last \(report.historySteps) steps and no forecast yet.</p>\n"
        }
        if let origin = series.issuedAt, let first = series.forecast.first, let last = series.forecast.last {
            html += "<p class=\"caption\">Forecast issued at \(escapeHTML(format(origin, zone))) for \(escapeHTML(format(first.target, zone)))"
                + " to \(escapeHTML(format(last.target, zone))) (\(series.forecast.count) steps).</p>\n"
        } else {
            html += "<p class=\"caption\">No forecast yet.</p>\n"
        }
        if let curve = series.training, !curve.epochs.isEmpty {
            var training = SVGChart(title: "Training curve of \(series.key)", xAxis: .integer, yLabel: "loss")
            training.height = 220
            training.lines.append(.init(label: "train loss", cssClass: "train", points: curve.epochs.map { (Double($0.epoch), $0.trainLoss) }))
            training.lines.append(.init(label: "validation loss", cssClass: "validation",
                                        points: curve.epochs.map { (Double($0.epoch), $0.validationLoss) }))
            html += "<h3>Training curve</h3>\n<p class=\"caption\">\(escapeHTML(curve.caption))</p>\n"
            html += training.svg().map { "<figure>\($0)</figure>\n" } ?? "<p class=\"empty\">No finite losses were recorded.</p>\n"
        }
        html += "</div><aside>\n"
        html += modelBlock(series.model, zone: zone)
        html += metricsBlock(series.metrics)
        html += "</aside></div>\n</section>\n"
        return html
    }

    /// The cell as published: a fallback's baseline ("seasonal naive (fallback)", "naive
    /// (fallback)"), a statistical model with its fitted specification ("ETS(MAdM)"),
    /// "lstm combined with seasonal naive" or "lstm combined with ETS(MAdM)" for a network
    /// averaged with a baseline or a statistical model, or the network's cell; "… averaged with
    /// ETS(AAA) and ARIMA(0,1,1)(0,1,1)" after any of them that the guard averaged with
    /// statistical models.
    /// `partners`: the model's `averaged_with`, read once by the caller.
    static func publishedName(_ model: StoredModel, averagedWith partners: [StatisticalModel]?) -> String {
        guard let partners else { return choiceName(model) }
        let choice = model.cell == .seasonalNaive ? FallbackBaseline(hyperparameters: model.hyperparameters, jobSeason: 1).name : choiceName(model)
        return "\(choice) averaged with \(StatisticalModel.listed(partners.map(\.name)))"
    }

    static func choiceName(_ model: StoredModel) -> String {
        if model.cell == .seasonalNaive { return FallbackBaseline(hyperparameters: model.hyperparameters, jobSeason: 1).name + " (fallback)" }
        if case .statistical(let method) = model.cell {
            return StatisticalModel(hyperparameters: model.hyperparameters, method: method, jobSeason: 1).name
        }
        if let partner = StatisticalModel.combinedWith(hyperparameters: model.hyperparameters) {
            return "\(model.cell.rawValue) combined with \(partner.name)"
        }
        guard let baseline = FallbackBaseline.combinedWith(hyperparameters: model.hyperparameters) else { return model.cell.rawValue }
        return "\(model.cell.rawValue) combined with \(baseline.name)"
    }

    static func modelBlock(_ model: StoredModel?, zone: TimeZone) -> String {
        guard let model else {
            return "<h3>Model</h3>\n<p class=\"empty\">No model yet: the job has not been trained for this series.</p>\n"
        }
        let partners = StatisticalModel.averagedWith(hyperparameters: model.hyperparameters)
        var rows: [(String, String)] = [
            ("cell", publishedName(model, averagedWith: partners)),
        ]
        if model.cell.isNetwork { rows.append(("design", NetworkDesign(hyperparameters: model.hyperparameters).description)) }
        rows += [
            ("version", "\(model.version) (model_id \(model.modelID)\(model.series == nil ? ", global model of the job" : ""))"),
            ("status", model.status.rawValue),
            ("trained at", format(model.trainedAt, zone)),
        ]
        if let start = model.dataStart, let end = model.dataEnd { rows.append(("data", "\(format(start, zone)) to \(format(end, zone))")) }
        if let epochs = model.epochs { rows.append(("epochs", String(epochs))) }
        if let seconds = model.trainSeconds { rows.append(("training time", String(format: "%.1f s", seconds))) }
        if let scope = TrainedScope(hyperparameters: model.hyperparameters) { rows.append(("scope", scope.description)) }
        if let reason = model.reason, !reason.isEmpty {
            let fallback = model.cell == .seasonalNaive && partners == nil
            rows.append((fallback ? "why the fallback" : "why published", reason))
        }
        var html = "<h3>Model</h3>\n<dl class=\"model\">"
        for (label, value) in rows {
            html += "<dt>\(escapeHTML(label))</dt><dd class=\"\(label == "why the fallback" ? "fallback" : "")\">\(escapeHTML(value))</dd>"
        }
        return html + "</dl>\n"
    }

    static func metricsBlock(_ metrics: [MetricSplit: [String: Double]]) -> String {
        guard !metrics.isEmpty else { return "<h3>Accuracy</h3>\n<p class=\"empty\">No accuracy figures recorded.</p>\n" }
        var html = ""
        for split in MetricSplit.allCases.reversed() {
            guard let values = metrics[split] else { continue }
            html += "<h3>Accuracy (\(split.rawValue))</h3>\n<table class=\"metrics\"><thead><tr><th>metric</th><th>model</th><th>seasonal naive</th></tr></thead><tbody>"
            for (name, label) in metricRows where values[name] != nil || values["baseline_" + name] != nil {
                let model = values[name], baseline = values["baseline_" + name]
                // Lower is better except coverage, which should be near the interval's level.
                var better = ""
                if name != "coverage", let model, let baseline, model.isFinite, baseline.isFinite, model != baseline {
                    better = model < baseline ? " class=\"better\"" : " class=\"worse\""
                }
                html += "<tr><th>\(escapeHTML(label))</th><td\(better)>\(number(model))</td><td>\(number(baseline))</td></tr>"
            }
            if let skill = values["skill"] {
                html += "<tr class=\"skill\"><th>skill (1 − MASE / baseline MASE)</th><td colspan=\"2\"\(skill > 0 ? " class=\"better\"" : skill < 0 ? " class=\"worse\"" : "")>\(number(skill))</td></tr>"
            }
            html += "</tbody></table>\n"
        }
        return html
    }

    static func number(_ value: Double?) -> String {
        guard let value else { return "–" }
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "∞" : "−∞") }
        return String(format: "%.4g", value)
    }

    static func format(_ date: Date, _ zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm zzz"
        return formatter.string(from: date)
    }

    static let css = """
        body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;margin:24px;color:#1d2430;background:#fff;max-width:1320px}
        h1{font-size:24px;margin:0 0 6px}h2{font-size:20px;margin:0 0 10px;color:#0b3d6e;overflow-wrap:anywhere}
        h3{font-size:14px;margin:14px 0 6px;color:#333}
        .summary,.note,.caption,.empty{font-size:13px;color:#4a5261;margin:4px 0}.note{color:#8a4b00}
        nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:6px 14px;font-size:13px}
        section.series{border-top:1px solid #d5dae1;padding:18px 0}
        .columns{display:flex;flex-wrap:wrap;gap:24px}.main{flex:1 1 720px;min-width:0}aside{flex:0 0 340px}
        figure{margin:0}svg.chart{max-width:100%;height:auto;background:#fbfcfd}
        .grid{stroke:#e3e7ec;stroke-width:1}.axis{stroke:#6b7280;stroke-width:1}
        .tick,.legend,.marker-label{font-size:11px;fill:#374151}.axis-label{font-size:11px;fill:#6b7280}
        .history{fill:none;stroke:#1f4e79;stroke-width:1.6}.median{fill:none;stroke:#d9480f;stroke-width:2}
        .band{fill:#f59f00;fill-opacity:.28;stroke:none}.marker{stroke:#868e96;stroke-dasharray:4 3}
        .train{fill:none;stroke:#2b8a3e;stroke-width:1.6}.validation{fill:none;stroke:#862e9c;stroke-width:1.6;stroke-dasharray:5 3}
        circle.dot{stroke:none}circle.history{fill:#1f4e79}circle.median{fill:#d9480f}circle.train{fill:#2b8a3e}circle.validation{fill:#862e9c}
        dl.model{display:grid;grid-template-columns:max-content 1fr;gap:3px 12px;font-size:13px;margin:0}
        dt{color:#6b7280}dd{margin:0;overflow-wrap:anywhere}dd.fallback{color:#8a4b00}
        table.metrics{border-collapse:collapse;font-size:13px}table.metrics th,table.metrics td{padding:3px 10px;border-bottom:1px solid #e3e7ec;text-align:right}
        table.metrics th:first-child{text-align:left;font-weight:normal;color:#374151}table.metrics thead th{color:#6b7280;font-weight:normal}
        td.better{color:#2b8a3e;font-weight:bold}td.worse{color:#c92a2a}code{font-size:12px}
        """
}

/// The scope a model was trained with and why, as its hyperparameters record it (`"scope"`,
/// `"scope_reason"`; models stored before the choice record none).
struct TrainedScope: Decodable, CustomStringConvertible {
    var scope: String
    var scopeReason: String?

    enum CodingKeys: String, CodingKey {
        case scope
        case scopeReason = "scope_reason"
    }

    init?(hyperparameters: String) {
        guard let decoded = try? JSONDecoder().decode(TrainedScope.self, from: Data(hyperparameters.utf8)) else { return nil }
        self = decoded
    }

    /// "global (auto: 1000 series, 100 or more)"
    var description: String { scopeReason.map { "\(scope) (\($0))" } ?? scope }
}
