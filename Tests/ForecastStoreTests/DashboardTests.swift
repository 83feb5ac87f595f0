import Foundation
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

/// Runs every SQL query of `dashboards/forecastd.json` (panels, template variables and
/// annotations), with Grafana's macros and variables expanded the way its PostgreSQL data
/// source does, against a migrated schema holding the rows of `AccuracyFixture`.
final class DashboardTests: StoreTestCase {
    struct Query {
        var place: String
        var sql: String
    }

    static let dashboardPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../dashboards/forecastd.json").standardized.path

    func dashboard() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.dashboardPath))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every query of the dashboard, named by where it sits.
    func queries(_ dashboard: [String: Any]) throws -> [Query] {
        var found: [Query] = []
        func visit(_ panels: [[String: Any]]) {
            for panel in panels {
                let title = panel["title"] as? String ?? "?"
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    if let sql = target["rawSql"] as? String { found.append(Query(place: "panel \(title) \(target["refId"] ?? "?")", sql: sql)) }
                }
                visit(panel["panels"] as? [[String: Any]] ?? [])
            }
        }
        visit(dashboard["panels"] as? [[String: Any]] ?? [])
        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for variable in variables where variable["type"] as? String == "query" {
            found.append(Query(place: "variable \(variable["name"] ?? "?")", sql: try XCTUnwrap(variable["query"] as? String)))
        }
        let annotations = (dashboard["annotations"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for annotation in annotations {
            if let sql = (annotation["target"] as? [String: Any])?["rawSql"] as? String {
                found.append(Query(place: "annotation \(annotation["name"] ?? "?")", sql: sql))
            }
        }
        return found
    }

    func testEveryPanelVariableAndAnnotationQueryRunsAndReturnsTheExpectedRows() async throws {
        let fixture = AccuracyFixture()
        try await fixture.load(into: schema, on: db)
        // A drift retraining, for the annotation and the run panels.
        try await db.executeScript("""
            INSERT INTO \(table("runs")) (job, kind, status, started_at, finished_at, series_total, trigger, note)
            VALUES ('sensors', 'train', 'succeeded', \(fixture.at(hours: 0.25)), \(fixture.at(hours: 0.25)) + interval '30 seconds', 1,
                    'drift', 'series "a": realized MAE 5 over the latest 6 matured forecasts exceeds 2 × the backtest MAE 1 of model 2')
            """)
        let macros = GrafanaMacros(from: fixture.base - 3 * 86_400, to: fixture.base + 86_400, interval: "1h",
                                   variables: ["schema": schema, "job": "sensors", "series": "a", "step": "1"])
        let all = try queries(try dashboard())
        let expectedRows: [String: Int] = [
            "panel Forecast ($step steps ahead) and interval against actuals: $series A": 3,  // actuals at T, T+1h, T+2h
            "panel Forecast ($step steps ahead) and interval against actuals: $series B": 1,  // the 1-step forecast for T+1h
            "panel Forecast ($step steps ahead) and interval against actuals: $series C": 3,  // the newest origin's 3 steps
            "panel Realized accuracy over time: $series A": 2,            // targets T+1h and T+2h
            "panel Realized error by step: $series A": 2,
            "panel Models: backtest beside the baseline, realized since A": 2,
            "panel Job health A": 2,
            "panel Runs by status A": 4,                                  // T-2h, T-1h, T partial, T succeeded
            "panel Run durations A": 4,
            "panel Recent runs A": 4,
            "panel Training curves: active model of $series A": 3,
            "panel Model versions: $series A": 1,                         // version 1 is older than the range
            "variable job": 2,
            "variable series": 2,
            "variable step": 3,
            "annotation Drift retraining": 1,
        ]
        XCTAssertEqual(Set(all.map(\.place)), Set(expectedRows.keys), "every query of the dashboard has an expectation")
        var results: [String: [PostgresRow]] = [:]
        for query in all {
            let sql = try macros.expand(query.sql)
            XCTAssertFalse(sql.contains("$"), "\(query.place): unexpanded \(sql)")
            do {
                results[query.place] = try await db.query(sql)
            } catch {
                XCTFail("\(query.place) failed: \(error)\n\(sql)")
                continue
            }
            XCTAssertEqual(results[query.place]?.count, expectedRows[query.place], "\(query.place)\n\(sql)")
        }

        // Values worth checking by hand.
        let accuracy = try XCTUnwrap(results["panel Realized accuracy over time: $series A"]?.first)
        XCTAssertEqual(try accuracy.cellTexts(3), [String((fixture.base + 3600).timeIntervalSince1970), "1.5", "0.5"],
                       "T+1h: |8-10.5| and |10-10.5| average 1.5; one of two inside")
        let variables = try XCTUnwrap(results["variable job"]).map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(variables, ["other", "sensors"])
        let health = try XCTUnwrap(results["panel Job health A"]).map { try $0.cellTexts(3) }
        XCTAssertEqual(health, [["predict", "partial", String((fixture.base).timeIntervalSince1970)],
                                ["train", "succeeded", String((fixture.base + 900).timeIntervalSince1970)]])
        let curve = try XCTUnwrap(results["panel Training curves: active model of $series A"]).map { try $0.cellTexts(3) }
        XCTAssertEqual(curve, [["1.0", "0.9", "1.0"], ["2.0", "0.5", "0.6"], ["3.0", "0.3", "0.4"]])
    }

    func testTheDashboardUsesOneDataSourceVariableAndTheSchemaVariableEverywhere() throws {
        let dashboard = try dashboard()
        let names = ((dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        XCTAssertEqual(names, ["datasource", "schema", "job", "series", "step"])
        for query in try queries(dashboard) {
            XCTAssertTrue(query.sql.contains("${schema}."), "\(query.place) reads the configured schema")
            XCTAssertFalse(query.sql.contains("forecastd."), "\(query.place) names no schema of its own")
        }
        // Every panel and query reads the data source the variable picks, never one installation's uid.
        func sources(_ panels: [[String: Any]]) -> [String] {
            panels.flatMap { panel in
                [panel["datasource"]].compactMap { $0 as? [String: Any] }.compactMap { $0["uid"] as? String }
                    + (panel["targets"] as? [[String: Any]] ?? []).compactMap { ($0["datasource"] as? [String: Any])?["uid"] as? String }
                    + sources(panel["panels"] as? [[String: Any]] ?? [])
            }
        }
        let uids = sources(dashboard["panels"] as? [[String: Any]] ?? [])
        XCTAssertFalse(uids.isEmpty)
        XCTAssertEqual(Set(uids), ["${datasource}"])
    }

    func testMacroExpansion() throws {
        let macros = GrafanaMacros(from: Date(timeIntervalSince1970: 0), to: Date(timeIntervalSince1970: 3600), interval: "5m",
                                   variables: ["schema": "fc", "job": "o'brien", "series": "s", "step": "2"])
        XCTAssertEqual(try macros.expand("SELECT $__timeGroupAlias(ts, $__interval), 1 FROM ${schema}.t WHERE job = '$job' AND $__timeFilter(ts) AND step = $step"),
                       "SELECT floor(extract(epoch FROM ts)/300)*300 AS \"time\", 1 FROM fc.t WHERE job = 'o''brien' AND ts BETWEEN '1970-01-01T00:00:00Z' AND '1970-01-01T01:00:00Z' AND step = 2")
        XCTAssertEqual(try macros.expand("$__timeFrom() $__timeTo() $__timeGroup(x, '1d') $series $seriesx"),
                       "'1970-01-01T00:00:00Z' '1970-01-01T01:00:00Z' floor(extract(epoch FROM x)/86400)*86400 s $seriesx")
        XCTAssertThrowsError(try macros.expand("$__timeGroup(x, 'soon')"))
    }
}

/// Grafana's PostgreSQL macros and template variables, expanded as its data source does:
/// `$__timeFilter(col)`, `$__timeFrom()`, `$__timeTo()`, `$__timeGroup(col, interval)`,
/// `$__timeGroupAlias(col, interval)`, `$__interval`, and `$name` / `${name}` with single
/// quotes doubled (single-value variables).
struct GrafanaMacros {
    var from: Date
    var to: Date
    var interval: String
    var variables: [String: String]

    struct BadMacro: Error, CustomStringConvertible {
        var description: String
    }

    func expand(_ sql: String) throws -> String {
        let formatter = ISO8601DateFormatter()
        let from = "'\(formatter.string(from: self.from))'", to = "'\(formatter.string(from: self.to))'"
        var text = sql.replacingOccurrences(of: "$__interval", with: interval)
        text = text.replacingOccurrences(of: "$__timeFrom()", with: from).replacingOccurrences(of: "$__timeTo()", with: to)
        text = try replace(#"\$__timeFilter\(([^)]*)\)"#, in: text) { args in "\(args[0]) BETWEEN \(from) AND \(to)" }
        text = try replace(#"\$__timeGroupAlias\(([^,)]*),([^)]*)\)"#, in: text) { args in
            "floor(extract(epoch FROM \(args[0]))/\(try seconds(args[1])))*\(try seconds(args[1])) AS \"time\""
        }
        text = try replace(#"\$__timeGroup\(([^,)]*),([^)]*)\)"#, in: text) { args in
            "floor(extract(epoch FROM \(args[0]))/\(try seconds(args[1])))*\(try seconds(args[1]))"
        }
        // Longer names first, so $series is never taken for the start of $seriesx.
        for (name, value) in variables.sorted(by: { $0.key.count > $1.key.count }) {
            let escaped = value.replacingOccurrences(of: "'", with: "''")
            text = text.replacingOccurrences(of: "${\(name)}", with: escaped)
            text = try replace(#"\$"# + NSRegularExpression.escapedPattern(for: name) + #"(?![A-Za-z0-9_])"#, in: text) { _ in escaped }
        }
        return text
    }

    func seconds(_ argument: String) throws -> Int {
        let text = argument.trimmingCharacters(in: CharacterSet(charactersIn: " '\""))
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        guard let unit = text.last, let size = units[unit], let count = Int(text.dropLast()) else {
            throw BadMacro(description: "not an interval: \(argument)")
        }
        return count * size
    }

    private func replace(_ pattern: String, in text: String, with body: ([String]) throws -> String) throws -> String {
        let regex = try NSRegularExpression(pattern: pattern)
        let source = text as NSString, result = NSMutableString(string: text)
        // Back to front, so the ranges of earlier matches stay valid.
        for match in regex.matches(in: text, range: NSRange(location: 0, length: source.length)).reversed() {
            let args = (1..<match.numberOfRanges).map { source.substring(with: match.range(at: $0)).trimmingCharacters(in: .whitespaces) }
            result.replaceCharacters(in: match.range, with: try body(args))
        }
        return result as String
    }
}
