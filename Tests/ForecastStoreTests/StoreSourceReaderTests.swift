import Foundation
import PostgresClient
import Forecasting
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

final class StoreSourceReaderTests: StoreTestCase {
    let from = ISO8601DateFormatter().date(from: "2024-01-01T00:00:00Z")!

    func job(_ name: String = "j", table: String? = nil, query: String? = nil, series: String? = "station",
             time: String = "ts", value: String = "v") -> JobSettings {
        let origin: SourceSettings.Origin = query.map { .query($0) } ?? .table(table!)
        return JobSettings(name: name, frequency: try! Frequency(parsing: "1h"), horizon: 3,
                           source: SourceSettings(origin: origin, seriesColumn: series, timeColumn: time, valueColumn: value))
    }

    func readAll(_ job: JobSettings, from: Date, to: Date) async throws -> ([SourcePoint], SourceReadSummary) {
        let reader = SourceReader(job: job)
        return try await db.withConnection { db in
            var points: [SourcePoint] = []
            let summary = try reader.read(from: from, to: to, on: db) { points.append($0) }
            return (points.sorted { ($0.series, $0.time) < ($1.series, $1.time) }, summary)
        }
    }

    func testTextSeriesNullValuesSpecialsAndRange() async throws {
        let t = table("weather")
        try await db.executeScript("""
            CREATE TABLE \(t) (station text, ts timestamptz, v double precision, extra int);
            INSERT INTO \(t) VALUES
              ('a', '2024-01-01 00:00+00', 1.5, 0), ('a', '2024-01-01 01:00+00', NULL, 0),
              ('b', '2024-01-01 00:00+00', 'NaN', 0), ('b', '2024-01-01 02:00+00', 'Infinity', 0),
              ('a', '2023-12-31 23:59:59+00', 9, 0),   -- before the range
              ('a', '2024-01-01 03:00+00', 9, 0),      -- at the (exclusive) end
              (NULL, '2024-01-01 00:00+00', 1, 0),     -- no series: skipped
              ('c', NULL, 1, 0);                       -- no time: outside any range
            """)
        let (points, summary) = try await readAll(job(table: "\(schema).weather"), from: from, to: from + 3 * 3600)
        XCTAssertEqual(summary, SourceReadSummary(rows: 4, skipped: 1))
        XCTAssertEqual(points.map(\.series), ["a", "a", "b", "b"])
        XCTAssertEqual(points[0], SourcePoint(series: "a", time: from, value: 1.5))
        XCTAssertEqual(points[1].time, from + 3600)
        XCTAssertNil(points[1].value)
        XCTAssertTrue(points[2].value!.isNaN)
        XCTAssertEqual(points[3].value, .infinity)
    }

    func testIntegerSeriesAndEveryNumericValueType() async throws {
        let t = table("meters")
        try await db.executeScript("""
            CREATE TABLE \(t) (meter bigint, ts timestamptz, i2 smallint, i4 integer, i8 bigint, f4 real, n numeric);
            INSERT INTO \(t) VALUES (7, '2024-01-01 00:00+00', 1, 2, 9007199254740993, 0.5, 12.25),
                                    (-3, '2024-01-01 01:00+00', NULL, NULL, NULL, NULL, 'NaN');
            """)
        var values: [String: [Double?]] = [:]
        for column in ["i2", "i4", "i8", "f4", "n"] {
            let (points, _) = try await readAll(job(table: "\(schema).meters", series: "meter", value: column), from: from, to: from + 86_400)
            XCTAssertEqual(points.map(\.series), ["-3", "7"], "integer keys in their text form")
            values[column] = points.map(\.value)
        }
        XCTAssertEqual(values["i2"]![1], 1)
        XCTAssertEqual(values["i4"]![1], 2)
        XCTAssertEqual(values["i8"]![1], 9007199254740992, "bigint widened to the nearest Double")
        XCTAssertEqual(values["f4"]![1], 0.5)
        XCTAssertEqual(values["n"]![1], 12.25)
        XCTAssertNil(values["i4"]![0])
        XCTAssertTrue(values["n"]![0]!.isNaN, "numeric NaN comes through as Double.nan")
    }

    func testTimestampAndDateColumnsAreLocalTimesOfTheJobZoneWhateverTheSessionZone() async throws {
        let ts = table("local_ts")
        let d = table("daily")
        try await db.executeScript("""
            CREATE TABLE \(ts) (ts timestamp, v float8);
            INSERT INTO \(ts) VALUES ('2023-12-31 23:00', 0), ('2024-01-01 00:00', 1), ('2024-01-01 23:00', 2), ('2024-01-02 00:00', 3);
            CREATE TABLE \(d) (day date, v float8);
            INSERT INTO \(d) VALUES ('2023-12-31', 0), ('2024-01-01', 1), ('2024-01-02', 2);
            SET TimeZone = 'America/New_York';
            """)
        let (points, _) = try await readAll(job("solo", table: "\(schema).local_ts", series: nil), from: from, to: from + 86_400)
        XCTAssertEqual(points, [SourcePoint(series: "solo", time: from, value: 1), SourcePoint(series: "solo", time: from + 23 * 3600, value: 2)],
                       "a job without series_column has one series named after the job; its zone is UTC by default")
        let (days, _) = try await readAll(job("daily", table: "\(schema).daily", series: nil, time: "day"), from: from, to: from + 2 * 86_400)
        XCTAssertEqual(days.map(\.time), [from, from + 86_400])
        var newYork = job("daily", table: "\(schema).daily", series: nil, time: "day")
        newYork.timeZone = TimeZone(identifier: "America/New_York")!
        let (localDays, _) = try await readAll(newYork, from: from, to: from + 2 * 86_400)
        XCTAssertEqual(localDays.map(\.time), [from + 5 * 3600, from + 29 * 3600], "a date is midnight in the job's zone (UTC−5 in January)")
        let zone = try await db.query("SHOW TimeZone")[0].decode(0, as: String.self)
        XCTAssertEqual(zone, "America/New_York", "the session's zone is restored")
    }

    func testQuerySourceUuidKeyTrailingSemicolonOrComment() async throws {
        let t = table("raw")
        try await db.executeScript("""
            CREATE TABLE \(t) (id uuid, at timestamptz, reading numeric);
            INSERT INTO \(t) VALUES ('6f1b2f9e-0000-4000-8000-000000000001', '2024-01-01 05:00+00', 4);
            """)
        let base = "SELECT id AS sensor, at AS ts, reading * 2 AS v FROM \(t) WHERE at >= $1 AND at < $2"
        for query in [base, base + ";\n", base + " -- mine"] {
            let (points, _) = try await readAll(job(query: query, series: "sensor"), from: from, to: from + 86_400)
            XCTAssertEqual(points, [SourcePoint(series: "6f1b2f9e-0000-4000-8000-000000000001", time: from + 5 * 3600, value: 8)], query)
        }
    }

    func testFailingQueryNamesTheJob() async throws {
        do {
            _ = try await readAll(job("broken_job", table: "\(schema).no_such_table"), from: from, to: from + 1)
            XCTFail("expected an error")
        } catch let error as SourceError {
            guard case .queryFailed(let job, let underlying) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(job, "broken_job")
            XCTAssertEqual(underlying.sqlState, "42P01")
            XCTAssertTrue(error.description.contains("broken_job"), error.description)
        }
        // A text value column is not a number: an unreadable row, still naming the job.
        let t = table("texty")
        try await db.executeScript("CREATE TABLE \(t) (station text, ts timestamptz, v text); INSERT INTO \(t) VALUES ('a', '2024-01-01', 'x')")
        do {
            _ = try await readAll(job("texty_job", table: "\(schema).texty"), from: from, to: from + 86_400)
            XCTFail("expected an error")
        } catch let error as SourceError {
            guard case .unreadableRow = error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.job, "texty_job")
        }
        // The connection is usable afterwards.
        let awaited1 = try await count("SELECT 1")
        XCTAssertEqual(awaited1, 1)
    }

    func testErrorsOfTheCallersClosurePassThroughAndStopTheRead() async throws {
        struct Stop: Error {}
        let t = table("many")
        try await db.executeScript("CREATE TABLE \(t) AS SELECT 'k'::text AS station, timestamptz '2024-01-01' + n * interval '1 second' AS ts, n::float8 AS v FROM generate_series(0, 99999) n")
        let reader = SourceReader(job: job(table: "\(schema).many"))
        let from = self.from
        let seen = try await db.withConnection { db -> Int in
            var seen = 0
            do {
                try reader.read(from: from, to: from + 86_400 * 2, on: db) { _ in
                    seen += 1
                    if seen == 10 { throw Stop() }
                }
                XCTFail("expected Stop")
            } catch is Stop {}
            return seen
        }
        XCTAssertEqual(seen, 10)
        let awaited2 = try await count("SELECT count(*) FROM \(t)")
        XCTAssertEqual(awaited2, 100_000, "the connection is usable afterwards")
    }

    /// Reading some series only binds their keys as one text array: keys with commas, braces,
    /// quotes, backslashes and spaces select exactly themselves.
    func testReadingSomeSeriesSelectsExactlyTheirKeys() async throws {
        let t = table("odd")
        let keys = ["a,b", "{c}", "d\"e", "f\\g", " h ", "NULL", "plain"]
        try await db.executeScript("CREATE TABLE \(t) (station text, ts timestamptz, v double precision)")
        for (i, key) in keys.enumerated() {
            try await db.execute("INSERT INTO \(t) VALUES ($1, $2, $3)", key, from, Double(i))
        }
        let reader = SourceReader(job: job(table: "\(schema).odd"))
        let wanted = ["a,b", "{c}", "d\"e", "f\\g", " h ", "NULL"], from = self.from
        let read = try await db.withConnection { db in
            var seen: [String] = []
            try reader.read(from: from, to: from + 3600, among: wanted, on: db) { seen.append($0.series) }
            return seen.sorted()
        }
        XCTAssertEqual(read, wanted.sorted())
    }

    /// `seriesEnds` finds the series whose newest value lies before a cutoff, with its time;
    /// NULL values do not count as observations.
    func testSeriesEndsFindsSeriesThatStoppedBeforeTheCutoff() async throws {
        let t = table("ends")
        try await db.executeScript("""
            CREATE TABLE \(t) (station text, ts timestamptz, v double precision);
            INSERT INTO \(t) VALUES
              ('old', '2020-03-01 00:00+00', 1), ('old', '2020-03-01 05:00+00', 2), ('old', '2023-01-01 00:00+00', NULL),
              ('current', '2020-01-01 00:00+00', 1), ('current', '2024-01-01 00:00+00', 1),
              ('future', '2020-01-01 00:00+00', 1), ('future', '2030-01-01 00:00+00', 1);
            """)
        let reader = SourceReader(job: job(table: "\(schema).ends"))
        let cutoff = ISO8601DateFormatter().date(from: "2023-06-01T00:00:00Z")!
        let end = ISO8601DateFormatter().date(from: "2024-06-01T00:00:00Z")!
        let ends = try await db.withConnection { db in try reader.seriesEnds(before: cutoff, end: end, on: db) }
        XCTAssertEqual(ends, ["old": ISO8601DateFormatter().date(from: "2020-03-01T05:00:00Z")!, "future": ISO8601DateFormatter().date(from: "2020-01-01T00:00:00Z")!],
                       "rows from `end` on are not read")
        let one = try await db.withConnection { db in try reader.seriesEnds(before: cutoff, end: end, series: "current", on: db) }
        XCTAssertEqual(one, [:])
        let single = SourceReader(job: job(table: "\(schema).ends", series: nil))
        let whole = try await db.withConnection { db in try single.seriesEnds(before: cutoff, end: end, on: db) }
        XCTAssertEqual(whole, [:], "the job's one series has a value after the cutoff")
    }
}
