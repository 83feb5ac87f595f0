import Foundation

/// Inline SVG line charts for the report: lines with gaps, a shaded band, a marker line, and
/// axes with readable ticks (times in the job's zone, or plain numbers such as epochs).
/// Pure string building; styles come from the page's CSS classes.
public struct SVGChart: Sendable {
    public enum XAxis: Sendable {
        /// x values are seconds since 1970; ticks fall on round local times of the zone.
        case time(TimeZone)
        /// x values are counts such as epochs: whole-number ticks.
        case integer
    }

    /// A polyline broken wherever a y value is nil or not finite.
    public struct Line: Sendable {
        public var label: String
        public var cssClass: String
        public var points: [(x: Double, y: Double?)]

        public init(label: String, cssClass: String, points: [(x: Double, y: Double?)]) {
            self.label = label
            self.cssClass = cssClass
            self.points = points
        }
    }

    /// The area between `low` and `high`, drawn under the lines.
    public struct Band: Sendable {
        public var label: String
        public var cssClass: String
        public var points: [(x: Double, low: Double, high: Double)]

        public init(label: String, cssClass: String, points: [(x: Double, low: Double, high: Double)]) {
            self.label = label
            self.cssClass = cssClass
            self.points = points
        }
    }

    public var title: String
    public var xAxis: XAxis
    public var yLabel: String
    public var lines: [Line] = []
    public var bands: [Band] = []
    /// A dashed vertical line with a caption, e.g. the forecast origin.
    public var marker: (x: Double, label: String)?
    public var width = 880.0
    public var height = 300.0

    let left = 64.0, right = 16.0, top = 28.0, bottom = 44.0

    public init(title: String, xAxis: XAxis, yLabel: String) {
        self.title = title
        self.xAxis = xAxis
        self.yLabel = yLabel
    }

    var hasData: Bool {
        lines.contains { $0.points.contains { $0.y?.isFinite == true } } || bands.contains { !$0.points.isEmpty }
    }

    /// The `<svg>` element; `nil` when there is nothing to draw (the caller says so in words).
    public func svg() -> String? {
        guard hasData else { return nil }
        var xs: [Double] = [], ys: [Double] = []
        for line in lines {
            for point in line.points {
                guard let y = point.y, y.isFinite, point.x.isFinite else { continue }
                xs.append(point.x)
                ys.append(y)
            }
        }
        for band in bands {
            for point in band.points where point.x.isFinite {
                xs.append(point.x)
                ys += [point.low, point.high].filter(\.isFinite)
            }
        }
        if let marker, marker.x.isFinite { xs.append(marker.x) }
        guard var xMin = xs.min(), var xMax = xs.max(), var yMin = ys.min(), var yMax = ys.max() else { return nil }
        // One point (or a flat line) still needs a range to sit in.
        if xMin == xMax {
            let pad: Double
            if case .time = xAxis { pad = 3600 } else { pad = 1 }
            xMin -= pad
            xMax += pad
        }
        if yMin == yMax {
            let pad = yMin == 0 ? 1 : abs(yMin) * 0.1
            yMin -= pad
            yMax += pad
        }
        let yTicks = Self.numberTicks(from: yMin, to: yMax, count: 5)
        yMin = min(yMin, yTicks.values.first ?? yMin)
        yMax = max(yMax, yTicks.values.last ?? yMax)
        let xTicks: [(value: Double, label: String)]
        switch xAxis {
        case .time(let zone): xTicks = Self.timeTicks(from: xMin, to: xMax, zone: zone, maximum: 9)
        case .integer:
            let ticks = Self.numberTicks(from: xMin, to: xMax, count: 6, integers: true)
            xTicks = ticks.values.map { ($0, ticks.format($0)) }
        }

        let plotWidth = width - left - right, plotHeight = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - (y - yMin) / (yMax - yMin)) * plotHeight }

        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(svgNumber(width)) \(svgNumber(height))\" width=\"\(svgNumber(width))\" height=\"\(svgNumber(height))\" role=\"img\" aria-label=\"\(escapeHTML(title))\">"
        svg += "<title>\(escapeHTML(title))</title>"
        // Grid and y axis.
        for tick in yTicks.values where tick >= yMin && tick <= yMax {
            let y = py(tick)
            svg += "<line class=\"grid\" x1=\"\(svgNumber(left))\" x2=\"\(svgNumber(width - right))\" y1=\"\(svgNumber(y))\" y2=\"\(svgNumber(y))\"/>"
            svg += "<text class=\"tick\" x=\"\(svgNumber(left - 6))\" y=\"\(svgNumber(y + 4))\" text-anchor=\"end\">\(escapeHTML(yTicks.format(tick)))</text>"
        }
        for tick in xTicks where tick.value >= xMin && tick.value <= xMax {
            let x = px(tick.value)
            svg += "<line class=\"grid\" x1=\"\(svgNumber(x))\" x2=\"\(svgNumber(x))\" y1=\"\(svgNumber(top))\" y2=\"\(svgNumber(height - bottom))\"/>"
            svg += "<text class=\"tick\" x=\"\(svgNumber(x))\" y=\"\(svgNumber(height - bottom + 16))\" text-anchor=\"middle\">\(escapeHTML(tick.label))</text>"
        }
        svg += "<line class=\"axis\" x1=\"\(svgNumber(left))\" x2=\"\(svgNumber(width - right))\" y1=\"\(svgNumber(height - bottom))\" y2=\"\(svgNumber(height - bottom))\"/>"
        svg += "<line class=\"axis\" x1=\"\(svgNumber(left))\" x2=\"\(svgNumber(left))\" y1=\"\(svgNumber(top))\" y2=\"\(svgNumber(height - bottom))\"/>"
        let xLabel: String
        switch xAxis {
        case .time(let zone): xLabel = "time (\(zone.name))"
        case .integer: xLabel = "epoch"
        }
        svg += "<text class=\"axis-label\" x=\"\(svgNumber(left + plotWidth / 2))\" y=\"\(svgNumber(height - 6))\" text-anchor=\"middle\">\(escapeHTML(xLabel))</text>"
        svg += "<text class=\"axis-label\" x=\"\(svgNumber(left))\" y=\"\(svgNumber(top - 10))\" text-anchor=\"start\">\(escapeHTML(yLabel))</text>"

        for band in bands where !band.points.isEmpty {
            let sorted = band.points.filter { $0.x.isFinite && $0.low.isFinite && $0.high.isFinite }.sorted { $0.x < $1.x }
            guard !sorted.isEmpty else { continue }
            // A band of one step is drawn as a short vertical bar, which a polygon would hide.
            let outline = sorted.count == 1
                ? [(px(sorted[0].x) - 2, py(sorted[0].high)), (px(sorted[0].x) + 2, py(sorted[0].high)),
                   (px(sorted[0].x) + 2, py(sorted[0].low)), (px(sorted[0].x) - 2, py(sorted[0].low))]
                : sorted.map { (px($0.x), py($0.high)) } + sorted.reversed().map { (px($0.x), py($0.low)) }
            svg += "<polygon class=\"\(escapeHTML(band.cssClass))\" points=\"\(outline.map { "\(svgNumber($0.0)),\(svgNumber($0.1))" }.joined(separator: " "))\"/>"
        }
        if let marker, marker.x >= xMin, marker.x <= xMax {
            let x = px(marker.x)
            svg += "<line class=\"marker\" x1=\"\(svgNumber(x))\" x2=\"\(svgNumber(x))\" y1=\"\(svgNumber(top))\" y2=\"\(svgNumber(height - bottom))\"/>"
            // Near the right edge the caption goes to the left of the line, where it fits.
            let leftOfLine = x > left + plotWidth * 0.7
            svg += "<text class=\"marker-label\" x=\"\(svgNumber(leftOfLine ? x - 4 : x + 4))\" y=\"\(svgNumber(top + 12))\" text-anchor=\"\(leftOfLine ? "end" : "start")\">\(escapeHTML(marker.label))</text>"
        }
        for line in lines {
            for segment in Self.segments(line.points) {
                if segment.count == 1 {
                    svg += "<circle class=\"\(escapeHTML(line.cssClass)) dot\" cx=\"\(svgNumber(px(segment[0].x)))\" cy=\"\(svgNumber(py(segment[0].y)))\" r=\"2.5\"/>"
                } else {
                    svg += "<polyline class=\"\(escapeHTML(line.cssClass))\" points=\"\(segment.map { "\(svgNumber(px($0.x))),\(svgNumber(py($0.y)))" }.joined(separator: " "))\"/>"
                }
            }
        }
        // Legend, top right.
        var legendX = width - right
        let entries = bands.filter { !$0.points.isEmpty }.map { ($0.label, $0.cssClass, true) }
            + lines.filter { $0.points.contains { $0.y?.isFinite == true } }.map { ($0.label, $0.cssClass, false) }
        for (label, cssClass, isBand) in entries.reversed() {
            let textWidth = Double(label.count) * 6.5
            legendX -= textWidth + 26
            let sample = isBand
                ? "<rect class=\"\(escapeHTML(cssClass))\" x=\"\(svgNumber(legendX))\" y=\"\(svgNumber(top - 18))\" width=\"16\" height=\"9\"/>"
                : "<line class=\"\(escapeHTML(cssClass))\" x1=\"\(svgNumber(legendX))\" x2=\"\(svgNumber(legendX + 16))\" y1=\"\(svgNumber(top - 13))\" y2=\"\(svgNumber(top - 13))\"/>"
            svg += sample + "<text class=\"legend\" x=\"\(svgNumber(legendX + 20))\" y=\"\(svgNumber(top - 9))\">\(escapeHTML(label))</text>"
        }
        return svg + "</svg>"
    }

    /// Runs of consecutive points with finite values: where a value is missing the line breaks.
    static func segments(_ points: [(x: Double, y: Double?)]) -> [[(x: Double, y: Double)]] {
        var segments: [[(x: Double, y: Double)]] = []
        var current: [(x: Double, y: Double)] = []
        for point in points {
            if let y = point.y, y.isFinite, point.x.isFinite {
                current.append((point.x, y))
            } else if !current.isEmpty {
                segments.append(current)
                current = []
            }
        }
        if !current.isEmpty { segments.append(current) }
        return segments
    }

    /// Round tick values (1, 2 or 5 × 10^k apart) covering [low, high], and how to print them.
    static func numberTicks(from low: Double, to high: Double, count: Int, integers: Bool = false)
        -> (values: [Double], format: (Double) -> String) {
        let span = max(high - low, .leastNormalMagnitude)
        let rough = span / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(rough)))
        var step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        if integers { step = max(1, step.rounded(.up)) }
        let first = (low / step).rounded(.down) * step
        var values: [Double] = []
        var value = first
        while value - step < high - step * 1e-9, values.count < 50 {
            values.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        let decimals = max(0, Int(-floor(log10(step))))
        let large = max(abs(low), abs(high)) >= 1e7
        return (values, { value in
            if large { return String(format: "%.3g", value) }
            return String(format: "%.\(decimals)f", value)
        })
    }

    /// Ticks on round local times of `zone` (whole hours, midnights, first days of months),
    /// at most `maximum` of them, labelled as precisely as their spacing needs.
    static func timeTicks(from low: Double, to high: Double, zone: TimeZone, maximum: Int) -> [(value: Double, label: String)] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let span = high - low
        let fixed: [(Calendar.Component, Int)] = [
            (.second, 1), (.second, 5), (.second, 15), (.second, 30), (.minute, 1), (.minute, 5), (.minute, 15), (.minute, 30),
            (.hour, 1), (.hour, 2), (.hour, 3), (.hour, 6), (.hour, 12), (.day, 1), (.day, 2), (.day, 7), (.day, 14),
            (.month, 1), (.month, 2), (.month, 3), (.month, 6), (.year, 1), (.year, 2), (.year, 5), (.year, 10), (.year, 50), (.year, 100),
        ]
        func seconds(_ component: Calendar.Component, _ amount: Int) -> Double {
            switch component {
            case .second: return Double(amount)
            case .minute: return Double(amount) * 60
            case .hour: return Double(amount) * 3600
            case .day: return Double(amount) * 86_400
            case .month: return Double(amount) * 30.4 * 86_400
            default: return Double(amount) * 365.25 * 86_400
            }
        }
        let (component, amount) = fixed.first { span / seconds($0.0, $0.1) <= Double(maximum - 1) } ?? (.year, 100)
        // The first tick: the start of the enclosing larger unit, stepped forward to `low`.
        let lowDate = Date(timeIntervalSince1970: low)
        let anchorComponent: Calendar.Component
        switch component {
        case .second: anchorComponent = .minute
        case .minute: anchorComponent = .hour
        case .hour, .day: anchorComponent = .day
        case .month: anchorComponent = .year
        default: anchorComponent = .year
        }
        var start = calendar.dateInterval(of: anchorComponent, for: lowDate)?.start ?? lowDate
        if component == .year {
            let year = calendar.component(.year, from: lowDate)
            start = calendar.date(from: DateComponents(year: year - year % amount, month: 1, day: 1)) ?? start
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        switch component {
        case .second: formatter.dateFormat = "HH:mm:ss"
        case .minute, .hour: formatter.dateFormat = span > 86_400 ? "MMM d HH:mm" : "HH:mm"
        case .day: formatter.dateFormat = "yyyy-MM-dd"
        case .month: formatter.dateFormat = "yyyy-MM"
        default: formatter.dateFormat = "yyyy"
        }
        var ticks: [(value: Double, label: String)] = []
        if [.second, .minute, .hour].contains(component) {
            // Fixed lengths, each tick put on a round local time (0, 3, 6 h ... also across DST).
            let step = seconds(component, amount)
            var t = low - step
            while t <= high + step, ticks.count < 10_000 {
                let offset = Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: t)))
                let tick = ((t + offset) / step).rounded(.up) * step - offset
                if tick >= low, tick <= high, tick > (ticks.last?.value ?? -.infinity) {
                    ticks.append((tick, formatter.string(from: Date(timeIntervalSince1970: tick))))
                }
                t += step
            }
            return ticks
        }
        for index in 0..<10_000 {
            // Counted from the anchor rather than added up, so months stay on their first days.
            guard let date = calendar.date(byAdding: component, value: amount * index, to: start),
                  date.timeIntervalSince1970 <= high else { break }
            if date.timeIntervalSince1970 >= low { ticks.append((date.timeIntervalSince1970, formatter.string(from: date))) }
        }
        return ticks
    }
}

/// A coordinate with one decimal at most: enough for a chart, and small pages.
func svgNumber(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

/// Text for HTML (and inline SVG) content and quoted attribute values. Series keys and model
/// reasons come from user data, so every dynamic string goes through here.
public func escapeHTML(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for character in text.unicodeScalars {
        switch character {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        case "'": escaped += "&#39;"
        // Control characters other than tab and newline are not allowed in HTML text.
        case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}", "\u{7F}": escaped += "\u{FFFD}"
        default: escaped.unicodeScalars.append(character)
        }
    }
    return escaped
}
