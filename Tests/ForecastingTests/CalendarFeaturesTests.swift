import XCTest
@testable import Forecasting

final class CalendarFeaturesTests: XCTestCase {
    func testCyclesFollowTheFrequency() {
        let expected: [String: [CalendarFeatures.Cycle]] = [
            "1h": [.hourOfDay, .dayOfWeek, .dayOfYear], "30m": [.hourOfDay, .dayOfWeek, .dayOfYear],
            "24h": [.dayOfWeek, .dayOfYear], "168h": [.dayOfYear],
            "1d": [.dayOfWeek, .dayOfYear], "7d": [.dayOfYear], "1w": [.dayOfYear],
            "1b": [.dayOfWeek, .dayOfYear], "5b": [.dayOfYear],
            "1mo": [.monthOfYear], "3mo": [.monthOfYear], "12mo": [],
        ]
        for (frequency, cycles) in expected {
            let features = CalendarFeatures(grid: grid(frequency))
            XCTAssertEqual(features.cycles, cycles, frequency)
            XCTAssertEqual(features.count, 2 * cycles.count, frequency)
        }
        XCTAssertEqual(CalendarFeatures(grid: grid("1h")).names,
                       ["hour_of_day_sin", "hour_of_day_cos", "day_of_week_sin", "day_of_week_cos", "day_of_year_sin", "day_of_year_cos"])
    }

    func testHourlyFeaturesInTheJobsTimeZone() {
        let utc = CalendarFeatures(grid: grid("1h"))
        // Monday 7 January 2013, 06:00 UTC: a quarter of the day, the start of the week.
        let bucket = grid("1h").index(of: instant(2013, 1, 7, 6))!
        let values = utc.values(buckets: bucket..<(bucket + 1))
        XCTAssertEqual(values[0], 1, accuracy: 1e-6)   // sin(2π·¼)
        XCTAssertEqual(values[1], 0, accuracy: 1e-6)
        XCTAssertEqual(values[2], Float(sin(2 * Double.pi * 0.25 / 7)), accuracy: 1e-6)
        XCTAssertEqual(values[4], Float(sin(2 * Double.pi * 6.25 / 365)), accuracy: 1e-6)
        // In New York, 16:00 UTC on 1 July is noon local (EDT), 17:00 UTC on 1 December is noon (EST).
        let newYork = CalendarFeatures(grid: grid("1h", "America/New_York"))
        for date in [instant(2013, 7, 1, 16), instant(2013, 12, 1, 17)] {
            let index = newYork.grid.index(of: date)!
            let noon = newYork.values(buckets: index..<(index + 1))
            XCTAssertEqual(noon[0], 0, accuracy: 1e-6)
            XCTAssertEqual(noon[1], -1, accuracy: 1e-6)
        }
    }

    func testDailyBusinessAndMonthlyFeatures() {
        let monday = grid("1d").index(of: instant(2013, 1, 7))!
        let daily = CalendarFeatures(grid: grid("1d")).values(buckets: monday..<(monday + 7))
        XCTAssertEqual(daily[0], 0, accuracy: 1e-6)   // Monday: sin 0
        XCTAssertEqual(daily[1], 1, accuracy: 1e-6)   // cos 0
        XCTAssertEqual(daily[4 * 4 + 0], Float(sin(2 * Double.pi * 4 / 7)), accuracy: 1e-6)  // Friday
        let business = grid("1b")
        let friday = business.index(of: instant(2013, 1, 4))!
        let features = CalendarFeatures(grid: business).values(buckets: friday..<(friday + 2))
        XCTAssertEqual(features[0], Float(sin(2 * Double.pi * 4 / 7)), accuracy: 1e-6)
        XCTAssertEqual(features[4], 0, accuracy: 1e-6)  // the next step is a Monday
        let monthly = grid("1mo")
        let july = monthly.index(of: instant(2013, 7, 1))!
        let month = CalendarFeatures(grid: monthly).values(buckets: july..<(july + 1))
        XCTAssertEqual(month[0], 0, accuracy: 1e-6)    // half-way round: sin π
        XCTAssertEqual(month[1], -1, accuracy: 1e-6)
    }

    func testFillWritesWithOffsetAndStride() {
        let features = CalendarFeatures(grid: grid("1d"))
        var buffer = [Float](repeating: 9, count: 2 + 3 * 6)
        features.fill(&buffer, buckets: 100..<103, offset: 2, stride: 6)
        XCTAssertEqual(buffer[0], 9)
        XCTAssertEqual(buffer[1], 9)
        XCTAssertEqual(Array(buffer[2..<6]), Array(features.values(buckets: 100..<101)))
        XCTAssertEqual(Array(buffer[6..<8]), [9, 9])
        XCTAssertEqual(Array(buffer[8..<12]), Array(features.values(buckets: 101..<102)))
    }
}
