import Foundation
import Logging
import Forecasting
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs

/// Cron expressions: parsing, the next time they name (time zones and DST included), and the
/// errors of bad ones.
final class ScheduleTests: XCTestCase {
    let utc = TimeZone(identifier: "UTC")!

    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    func next(_ expression: String, after: String, in zone: String = "UTC") throws -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: try CronExpression(expression).next(after: date(after), in: TimeZone(identifier: zone)!))
    }

    func testFieldsListsRangesAndSteps() throws {
        XCTAssertEqual(try next("0 3 * * *", after: "2026-11-27T02:59:00Z"), "2026-11-27T03:00:00Z")
        XCTAssertEqual(try next("0 3 * * *", after: "2026-11-27T03:00:00Z"), "2026-11-28T03:00:00Z", "strictly after")
        XCTAssertEqual(try next("*/15 * * * *", after: "2026-11-27T10:07:30Z"), "2026-11-27T10:15:00Z")
        XCTAssertEqual(try next("10-40/10 * * * *", after: "2026-11-27T10:40:00Z"), "2026-11-27T11:10:00Z")
        XCTAssertEqual(try next("5/20 * * * *", after: "2026-11-27T10:46:00Z"), "2026-11-27T11:05:00Z")
        XCTAssertEqual(try next("0 8,20 * * *", after: "2026-11-27T09:00:00Z"), "2026-11-27T20:00:00Z")
        XCTAssertEqual(try next("0 9 * * mon-fri", after: "2026-11-27T10:00:00Z"), "2026-11-30T09:00:00Z", "Friday to Monday")
        XCTAssertEqual(try next("0 0 * * 7", after: "2026-11-27T10:00:00Z"), "2026-11-29T00:00:00Z", "7 is Sunday")
        XCTAssertEqual(try next("0 0 1 jan,jul *", after: "2026-11-27T10:00:00Z"), "2027-01-01T00:00:00Z")
        XCTAssertEqual(try next("@monthly", after: "2026-11-27T10:00:00Z"), "2026-12-01T00:00:00Z")
        XCTAssertEqual(try next("@hourly", after: "2026-11-27T10:00:00Z"), "2026-11-27T11:00:00Z")
        XCTAssertEqual(try next("0 0 29 2 *", after: "2026-11-27T10:00:00Z"), "2028-02-29T00:00:00Z", "the next leap day")
    }

    func testBothDayFieldsRestrictedMatchEither() throws {
        // The 1st of the month or any Monday, as in Vixie cron: Monday 30 November comes first.
        XCTAssertEqual(try next("0 0 1 * mon", after: "2026-11-27T10:00:00Z"), "2026-11-30T00:00:00Z")
        XCTAssertEqual(try next("0 0 1 * mon", after: "2026-11-30T00:00:00Z"), "2026-12-01T00:00:00Z")
    }

    func testTheJobsTimeZoneAndDaylightSavingTime() throws {
        XCTAssertEqual(try next("0 3 * * *", after: "2026-11-27T00:00:00Z", in: "America/New_York"), "2026-11-27T08:00:00Z")
        // New York springs forward at 02:00 on 8 March 2026: 02:30 does not exist that day and
        // fires at the first instant after the gap, once.
        let skipped = try next("30 2 * * *", after: "2026-03-08T05:00:00Z", in: "America/New_York")
        XCTAssertEqual(skipped, "2026-03-08T07:30:00Z")
        XCTAssertEqual(try next("30 2 * * *", after: skipped, in: "America/New_York"), "2026-03-09T06:30:00Z")
        // Falling back on 1 November 2026: 01:30 occurs twice and fires once.
        let first = try next("30 1 * * *", after: "2026-11-01T04:00:00Z", in: "America/New_York")
        XCTAssertEqual(first, "2026-11-01T05:30:00Z")
        XCTAssertEqual(try next("30 1 * * *", after: first, in: "America/New_York"), "2026-11-02T06:30:00Z")
    }

    func testBadExpressionsSayWhatIsWrong() {
        func message(_ text: String) -> String {
            do { _ = try CronExpression(text); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("0 3 * *").contains("has 4 fields"), message("0 3 * *"))
        XCTAssertTrue(message("60 * * * *").contains("\"60\" is not valid in the minute field"), message("60 * * * *"))
        XCTAssertTrue(message("0 0 * * funday").contains("not valid in the day of week field"), message("0 0 * * funday"))
        XCTAssertTrue(message("*/0 * * * *").contains("not a step"), message("*/0 * * * *"))
        XCTAssertTrue(message("0 0 5-1 * *").contains("empty day of month range"), message("0 0 5-1 * *"))
        XCTAssertTrue(message("0 0 30 2 *").contains("names no day that exists"), message("0 0 30 2 *"))
        XCTAssertTrue(message("@fortnightly").contains("not a cron shorthand"), message("@fortnightly"))
        XCTAssertTrue(message("1,,2 * * * *").contains("not a list item of the minute field"), message("1,,2 * * * *"))
    }

    func testCheckConfigExplainsASchedule() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        XCTAssertEqual(try Schedule.parse("1h30m", timeZone: berlin).explained(after: date("2026-11-27T10:00:00Z")), "every 1h30m")
        XCTAssertEqual(try Schedule.parse("30 2 * * mon-fri", timeZone: berlin).explained(after: date("2026-11-27T10:00:00Z")),
                       "cron \"30 2 * * mon-fri\" in Europe/Berlin, next Mon 2026-11-30 02:30 +01:00")
    }

    func testDurationsStayIntervalsAfterTheLastRun() throws {
        let schedule = try Schedule.parse("1h30m", timeZone: utc)
        XCTAssertEqual(schedule, .every(5400))
        XCTAssertEqual(schedule.next(after: date("2026-11-27T10:00:00Z")), date("2026-11-27T11:30:00Z"))
        XCTAssertEqual(try Schedule.parse("@daily", timeZone: utc), .cron(try CronExpression("@daily"), utc))
        for text in ["daily", "1h 30m"] {
            XCTAssertThrowsError(try Schedule.parse(text, timeZone: utc)) { error in
                XCTAssertTrue("\(error)".contains("is not a duration") && "\(error)".contains("or a cron expression"), "\(error)")
            }
        }
    }
}

/// `DueRule`, the one rule of `run --once` and the scheduler, without a database.
final class DueRuleTests: XCTestCase {
    func testTrainingIsDueWithoutAnActiveModelOrOnceTrainEveryHasComeRound() throws {
        var job = JobSettings(name: "sensors", frequency: try! Frequency(parsing: "1h"), horizon: 6,
                              source: SourceSettings(origin: .table("public.readings"), timeColumn: "ts", valueColumn: "reading"))
        job.trainEvery = try Schedule.parse("1d", timeZone: TimeZone(identifier: "UTC")!)
        job.predictEvery = try Schedule.parse("1h", timeZone: TimeZone(identifier: "UTC")!)
        let rule = DueRule(job: job)
        let trained = Date(timeIntervalSince1970: 1_700_000_000), day = 86_400.0
        let history = JobHistory(activeModels: 3, lastTrainingStart: trained, lastRunStart: trained + 600)
        XCTAssertEqual(rule.nextTraining(after: history, now: trained + 5), trained + day)
        XCTAssertEqual(rule.nextPrediction(after: history, now: trained + 5), trained + 600 + 3600)
        XCTAssertFalse(rule.trainingIsDue(history, now: trained + day - 1))
        XCTAssertTrue(rule.trainingIsDue(history, now: trained + day))
        var noModel = history
        noModel.activeModels = 0
        XCTAssertTrue(rule.trainingIsDue(noModel, now: trained + 1), "no active model: train whatever the schedule says")
        let never = JobHistory(activeModels: 0, lastTrainingStart: nil, lastRunStart: nil)
        XCTAssertEqual(rule.nextTraining(after: never, now: trained), trained, "a job never trained is due at once")
        XCTAssertEqual(rule.nextPrediction(after: never, now: trained), trained)
    }
}

/// `JobScheduling` in memory: one row per job, with the history and queue it reports.
final class InMemorySchedule: JobScheduling {
    var rows: [String: (train: Date, predict: Date)] = [:]
    var histories: [String: JobHistory] = [:]
    var pending: [String: Int] = [:]
    /// Jobs whose row another daemon holds.
    var heldElsewhere: Set<String> = []

    func history(job: String) throws -> JobHistory {
        histories[job] ?? JobHistory(activeModels: 0, lastTrainingStart: nil, lastRunStart: nil)
    }
    func exists(job: String) throws -> Bool { rows[job] != nil }
    func insertIfMissing(job: String, nextTrainAt: Date, nextPredictAt: Date) throws {
        if rows[job] == nil { rows[job] = (nextTrainAt, nextPredictAt) }
    }
    func lockDue(job: String, now: Date) throws -> (train: Bool, predict: Bool)? {
        guard let row = rows[job], !heldElsewhere.contains(job) else { return nil }
        return (row.train <= now, row.predict <= now)
    }
    func pendingUnits(job: String) throws -> Int { pending[job] ?? 0 }
}

/// What the scheduler decides is due, without PostgreSQL.
final class SchedulerDecisionTests: XCTestCase {
    func testAJobSeenForTheFirstTimeContinuesFromItsHistoryAndWaitsForItsPendingWork() throws {
        var job = JobSettings(name: "sensors", frequency: try! Frequency(parsing: "1h"), horizon: 6,
                              source: SourceSettings(origin: .table("public.readings"), timeColumn: "ts", valueColumn: "reading"))
        let utc = TimeZone(identifier: "UTC")!
        job.trainEvery = try Schedule.parse("1d", timeZone: utc)
        job.predictEvery = try Schedule.parse("1h", timeZone: utc)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let schedule = InMemorySchedule()
        // Trained from a shell two hours ago: prediction is overdue, training is not.
        schedule.histories["sensors"] = JobHistory(activeModels: 2, lastTrainingStart: now - 7200, lastRunStart: now - 7200)
        let due = try XCTUnwrap(try Scheduler.due(job, now: now, in: schedule))
        XCTAssertEqual([due.train, due.predict], [false, true])
        XCTAssertEqual(schedule.rows["sensors"]?.train, now - 7200 + 86_400, "train_every after the last training")
        XCTAssertEqual(schedule.rows["sensors"]?.predict, now - 7200 + 3600)

        schedule.pending["sensors"] = 1
        XCTAssertNil(try Scheduler.due(job, now: now, in: schedule), "work still queued: nothing more is queued")
        schedule.pending = [:]
        schedule.heldElsewhere = ["sensors"]
        XCTAssertNil(try Scheduler.due(job, now: now, in: schedule), "another daemon holds the row")

        var fresh = job
        fresh.name = "fresh"
        let first = try XCTUnwrap(try Scheduler.due(fresh, now: now, in: schedule))
        XCTAssertEqual([first.train, first.predict], [true, true], "a job that never ran is due at once")
        XCTAssertNil(try Scheduler.due(fresh, now: now - 1, in: schedule), "not before its times")
    }
}

/// The scheduler with cron schedules: a job seen for the first time continues from its runs'
/// history, and each due run moves the next time to where the expression says.
final class CronSchedulingTests: StoreTestCase {
    func testTheSchedulerFollowsCronExpressionsFromTheRunsHistory() async throws {
        var job = JobSettings(name: "sensors", frequency: try! Frequency(parsing: "1h"), horizon: 6,
                              source: SourceSettings(origin: .table("\(schema).readings"), timeColumn: "ts", valueColumn: "reading"))
        let zone = TimeZone(identifier: "America/New_York")!
        job.timeZone = zone
        job.trainEvery = .cron(try CronExpression("0 3 * * *"), zone)
        job.predictEvery = .cron(try CronExpression("*/15 * * * *"), zone)
        job.driftFactor = 0
        let runner = JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
        let formatter = ISO8601DateFormatter()
        // Trained from a shell at 03:00:05 New York time (08:00:05 UTC) on 26 November.
        try await db.execute("""
            INSERT INTO \(table("runs")) (job, kind, status, started_at, finished_at) VALUES ('sensors', 'train', 'succeeded', $1, $1)
            """, formatter.date(from: "2026-11-26T08:00:05Z")!)
        let logged = try await Scheduler(database: DatabaseSettings(url: "", schema: schema), maxAttempts: 3)
            .tick(runner, now: formatter.date(from: "2026-11-26T15:07:00Z")!, on: db)
        XCTAssertTrue(logged?.hasPrefix("predict run") == true, "the 08:15 UTC prediction after that training is overdue: \(logged ?? "nil")")
        let row = try await db.query("SELECT next_train_at, next_predict_at FROM \(table("job_schedule")) WHERE job = 'sensors'")[0]
        XCTAssertEqual(formatter.string(from: try row.decode(0, as: Date.self)), "2026-11-27T08:00:00Z", "03:00 New York time, the next day")
        XCTAssertEqual(formatter.string(from: try row.decode(1, as: Date.self)), "2026-11-26T15:15:00Z", "the next quarter hour after the tick")
        try await db.execute("INSERT INTO \(table("models")) (job, series, version, cell, status) VALUES ('sensors', NULL, 1, 'lstm', 'active')")
        var shell = runner
        let before = formatter.date(from: "2026-11-27T07:59:00Z")!, at = formatter.date(from: "2026-11-27T08:00:00Z")!
        shell.now = { before }
        let dueBefore = try await shell.trainingIsDue(on: db)
        shell.now = { at }
        let dueAt = try await shell.trainingIsDue(on: db)
        XCTAssertEqual([dueBefore, dueAt], [false, true], "`forecastd run --once` asks the same schedule")
    }
}
