/// The Prometheus text exposition format 0.0.4, written by hand: metric families with their
/// HELP and TYPE lines, escaped label values, Go-style float values, and histograms as
/// cumulative `_bucket` series ending in `le="+Inf"`, then `_sum` and `_count`.
/// It knows nothing of forecastd; `ServiceMetrics` decides what is measured.
import Foundation

public enum MetricType: String, Sendable {
    case counter, gauge, histogram
}

/// One line of a family: `name{labels} value`.
public struct MetricSample: Sendable, Equatable {
    public var name: String
    public var labels: [(String, String)]
    public var value: Double

    public init(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }

    public static func == (a: MetricSample, b: MetricSample) -> Bool {
        a.name == b.name && a.value == b.value && a.labels.elementsEqual(b.labels, by: { $0 == $1 })
    }
}

/// A metric with its HELP and TYPE lines and all its labelled series.
public struct MetricFamily: Sendable {
    public var name: String
    public var help: String
    public var type: MetricType
    public var samples: [MetricSample]

    public init(name: String, help: String, type: MetricType, samples: [MetricSample]) {
        self.name = name
        self.help = help
        self.type = type
        self.samples = samples
    }
}

/// Observations counted into fixed upper bounds; a bucket counts only its own range here and
/// `samples` accumulates them, as the format wants.
public struct Histogram: Sendable, Equatable {
    public let upperBounds: [Double]
    private(set) var counts: [UInt64]
    public private(set) var sum = 0.0
    public private(set) var count: UInt64 = 0

    public init(upperBounds: [Double]) {
        precondition(upperBounds == upperBounds.sorted() && !upperBounds.contains(.infinity), "bounds ascend and are finite")
        self.upperBounds = upperBounds
        counts = Array(repeating: 0, count: upperBounds.count)
    }

    public mutating func observe(_ value: Double) {
        if let index = upperBounds.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
        sum += value
        count += 1
    }

    public func samples(name: String, labels: [(String, String)]) -> [MetricSample] {
        var cumulative: UInt64 = 0
        var samples: [MetricSample] = []
        for (bound, count) in zip(upperBounds, counts) {
            cumulative += count
            samples.append(MetricSample(name + "_bucket", labels + [("le", PrometheusText.format(bound))], Double(cumulative)))
        }
        samples.append(MetricSample(name + "_bucket", labels + [("le", "+Inf")], Double(self.count)))
        samples.append(MetricSample(name + "_sum", labels, sum))
        samples.append(MetricSample(name + "_count", labels, Double(self.count)))
        return samples
    }
}

public enum PrometheusText {
    /// What `/metrics` answers with in its Content-Type.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ families: [MetricFamily]) -> String {
        var text = ""
        for family in families {
            text += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            text += "# TYPE \(family.name) \(family.type.rawValue)\n"
            for sample in family.samples {
                text += sample.name
                if !sample.labels.isEmpty {
                    text += "{" + sample.labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
                }
                text += " " + format(sample.value) + "\n"
            }
        }
        return text
    }

    /// HELP text escapes backslash and line feed.
    public static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Label values escape backslash, double quote and line feed.
    public static func escapeLabelValue(_ text: String) -> String {
        escapeHelp(text).replacingOccurrences(of: "\"", with: "\\\"")
    }

    /// Values as Go's strconv.ParseFloat reads them: `+Inf`, `-Inf`, `NaN`, whole numbers
    /// without a fraction.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
