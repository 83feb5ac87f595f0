import Foundation
import XCTest
@testable import Forecasting
import NeuralNet

final class TimeGridTests: XCTestCase {
    func testHourlyBucketsAreAnchoredAtTheEpoch() {
        let hourly = grid("1h")
        XCTAssertEqual(hourly.index(of: Date(timeIntervalSince1970: 0)), 0)
        XCTAssertEqual(hourly.index(of: Date(timeIntervalSince1970: 3599.999)), 0)
        XCTAssertEqual(hourly.index(of: Date(timeIntervalSince1970: 3600)), 1)
        XCTAssertEqual(hourly.index(of: Date(timeIntervalSince1970: -0.5)), -1)
        XCTAssertEqual(hourly.bucketStart(containing: instant(2013, 5, 1, 13, 59, 59)), instant(2013, 5, 1, 13))
        let quarterHours = grid("15m")
        XCTAssertEqual(quarterHours.bucketStart(containing: instant(2013, 5, 1, 13, 44)), instant(2013, 5, 1, 13, 30))
        XCTAssertEqual(quarterHours.date(3, stepsAfter: instant(2013, 5, 1, 13, 44)), instant(2013, 5, 1, 14, 15))
    }

    func testHourlyBucketsIgnoreDaylightSavingTime() {
        let hourly = grid("1h", "America/New_York")
        // 2013-03-10: 01:59 EST is followed by 03:00 EDT; in absolute time no hour is lost.
        let before = hourly.index(of: instant(2013, 3, 10, 1, 30, in: "America/New_York"))!
        let after = hourly.index(of: instant(2013, 3, 10, 3, 30, in: "America/New_York"))!
        XCTAssertEqual(after - before, 1)
        // 2013-11-03: 01:00–02:00 local happens twice; those are two buckets.
        let firstOne = hourly.index(of: instant(2013, 11, 3, 5, 30))!   // 01:30 EDT
        let secondOne = hourly.index(of: instant(2013, 11, 3, 6, 30))!  // 01:30 EST
        XCTAssertEqual(secondOne - firstOne, 1)
    }

    func testDailyBucketsAreCutAtLocalMidnightAcrossDST() {
        let daily = grid("1d", "America/New_York")
        let spring = daily.index(of: instant(2013, 3, 10, 12, in: "America/New_York"))!
        XCTAssertEqual(daily.start(ofBucket: spring), instant(2013, 3, 10, 5))        // 00:00 EST
        XCTAssertEqual(daily.start(ofBucket: spring + 1), instant(2013, 3, 11, 4))    // 00:00 EDT
        XCTAssertEqual(daily.start(ofBucket: spring + 1).timeIntervalSince(daily.start(ofBucket: spring)), 23 * 3600)
        let autumn = daily.index(of: instant(2013, 11, 3, 12, in: "America/New_York"))!
        XCTAssertEqual(daily.start(ofBucket: autumn), instant(2013, 11, 3, 4))        // 00:00 EDT
        XCTAssertEqual(daily.start(ofBucket: autumn + 1).timeIntervalSince(daily.start(ofBucket: autumn)), 25 * 3600)
        // 04:59 UTC on 10 March is still 9 March in New York.
        XCTAssertEqual(daily.index(of: instant(2013, 3, 10, 4, 59)), spring - 1)
        XCTAssertEqual(daily.index(of: instant(2013, 3, 10, 5, 0)), spring)
        XCTAssertEqual(grid("1d").index(of: instant(2013, 3, 10, 4, 59)), spring)
    }

    func testDaysWithoutMidnightStartWhenTheClockJumps() {
        // São Paulo moved clocks from 00:00 to 01:00 on 2018-11-04.
        let daily = grid("1d", "America/Sao_Paulo")
        let day = daily.index(of: instant(2018, 11, 4, 12, in: "America/Sao_Paulo"))!
        XCTAssertEqual(daily.start(ofBucket: day), instant(2018, 11, 4, 3))  // 01:00 -02:00
        XCTAssertEqual(daily.start(ofBucket: day - 1), instant(2018, 11, 3, 3))  // 00:00 -03:00
    }

    func testWeeksStartOnMonday() {
        let weekly = grid("1w")
        let sunday = instant(2013, 1, 6, 23, 59)
        let monday = instant(2013, 1, 7)
        XCTAssertEqual(weekly.bucketStart(containing: sunday), instant(2012, 12, 31))
        XCTAssertEqual(weekly.bucketStart(containing: monday), monday)
        XCTAssertEqual(weekly.index(of: monday)! - weekly.index(of: sunday)!, 1)
        // In New York the week begins at local midnight on Monday.
        let local = grid("1w", "America/New_York")
        XCTAssertEqual(local.bucketStart(containing: instant(2013, 1, 7, 3)), instant(2012, 12, 31, 5))
        XCTAssertEqual(local.bucketStart(containing: instant(2013, 1, 7, 5)), instant(2013, 1, 7, 5))
    }

    func testMonthsAndQuartersFollowTheCalendar() {
        let monthly = grid("1mo")
        XCTAssertEqual(monthly.bucketStart(containing: instant(2012, 2, 29, 23)), instant(2012, 2, 1))
        let march = monthly.index(of: instant(2012, 3, 1))!
        XCTAssertEqual(monthly.start(ofBucket: march + 10), instant(2013, 1, 1))
        XCTAssertEqual(monthly.index(of: instant(1970, 1, 1)), 0)
        XCTAssertEqual(monthly.index(of: instant(1969, 12, 31)), -1)
        // 31 January 23:00 UTC is already February in Tokyo.
        let tokyo = grid("1mo", "Asia/Tokyo")
        XCTAssertEqual(tokyo.bucketStart(containing: instant(2013, 1, 31, 23)), instant(2013, 1, 31, 15))
        let quarters = grid("3mo")
        XCTAssertEqual(quarters.bucketStart(containing: instant(2013, 5, 15)), instant(2013, 4, 1))
        XCTAssertEqual(quarters.bucketStart(containing: instant(2013, 12, 31)), instant(2013, 10, 1))
    }

    func testBusinessDaysSkipWeekends() {
        let business = grid("1b")
        let friday = business.index(of: instant(2013, 1, 4, 16))!
        let monday = business.index(of: instant(2013, 1, 7, 9))!
        XCTAssertEqual(monday - friday, 1)
        XCTAssertNil(business.index(of: instant(2013, 1, 5, 12)))  // Saturday
        XCTAssertNil(business.index(of: instant(2013, 1, 6, 12)))  // Sunday
        XCTAssertEqual(business.start(ofBucket: friday + 1), instant(2013, 1, 7))
        XCTAssertEqual(business.start(ofBucket: friday - 4), instant(2012, 12, 31))
        XCTAssertEqual(business.start(ofBucket: friday + 5), instant(2013, 1, 11))
        XCTAssertEqual(business.start(ofBucket: friday + 6), instant(2013, 1, 14))
        // Before 1970 too.
        XCTAssertEqual(business.bucketStart(containing: instant(1950, 1, 3, 15)), instant(1950, 1, 3))
    }

    /// The fast day arithmetic agrees with Foundation's calendar everywhere, DST included.
    func testCalendarBucketsAgreeWithFoundation() {
        let zones = ["UTC", "America/New_York", "Europe/London", "Australia/Melbourne", "Asia/Kolkata",
                     "Pacific/Chatham", "America/Sao_Paulo", "Asia/Tokyo"]
        var generator = SplitMix64(state: 7)
        for zone in zones {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone)!
            calendar.firstWeekday = 2
            calendar.minimumDaysInFirstWeek = 4
            let daily = grid("1d", zone), weekly = grid("1w", zone), monthly = grid("1mo", zone)
            for _ in 0..<300 {
                let date = Date(timeIntervalSince1970: generator.uniform(in: -1e9...2e9))
                XCTAssertEqual(daily.bucketStart(containing: date), calendar.startOfDay(for: date), "\(zone) \(date)")
                XCTAssertEqual(weekly.bucketStart(containing: date),
                               calendar.dateInterval(of: .weekOfYear, for: date)!.start, "\(zone) \(date)")
                XCTAssertEqual(monthly.bucketStart(containing: date),
                               calendar.dateInterval(of: .month, for: date)!.start, "\(zone) \(date)")
            }
        }
    }

    func testIndexAndStartAreInverse() {
        for frequency in ["15s", "30m", "1h", "5h", "1d", "2d", "1w", "2w", "1mo", "3mo", "1b", "2b"] {
            let grid = grid(frequency, "Europe/Berlin")
            for index in [-5_000, -1, 0, 1, 17, 2_345, 30_000] {
                XCTAssertEqual(grid.index(of: grid.start(ofBucket: index)), index, frequency)
                // The bucket's last instant; a business day ends at its own midnight, as the
                // weekend after a Friday belongs to no bucket.
                let end = frequency.hasSuffix("b")
                    ? grid.start(ofBucket: index).addingTimeInterval(86_399.999)
                    : grid.start(ofBucket: index + 1).addingTimeInterval(-0.001)
                XCTAssertEqual(grid.index(of: end), index, frequency)
            }
        }
    }

    func testAbsurdInstantsBelongToNoBucket() {
        XCTAssertNil(grid("1h").index(of: Date(timeIntervalSince1970: 1e15)))
        XCTAssertNil(grid("1d").index(of: Date(timeIntervalSince1970: .infinity)))
    }
}

final class CompleteBucketTests: XCTestCase {
    func testOnlyWholeBucketsOfAReadAreKept() {
        let hourly = grid("1h")
        let first = hourly.index(of: instant(2013, 1, 1, 6))!
        XCTAssertEqual(hourly.completeBuckets(from: instant(2013, 1, 1, 6), until: instant(2013, 1, 1, 9)), first...(first + 2))
        XCTAssertEqual(hourly.completeBuckets(from: instant(2013, 1, 1, 5, 30), until: instant(2013, 1, 1, 9, 59)), first...(first + 2))
        XCTAssertNil(hourly.completeBuckets(from: instant(2013, 1, 1, 5, 30), until: instant(2013, 1, 1, 6, 59)))
        XCTAssertNil(hourly.completeBuckets(from: instant(2013, 1, 1, 9), until: instant(2013, 1, 1, 6)))
        let monthly = grid("1mo", "America/New_York")
        let range = monthly.completeBuckets(from: instant(2013, 1, 1, in: "America/New_York"), until: instant(2013, 12, 20))!
        XCTAssertEqual(range.count, 11)
        XCTAssertEqual(monthly.start(ofBucket: range.upperBound), instant(2013, 11, 1, in: "America/New_York"))
    }

    func testBusinessDayReadsMayStartAndEndOnWeekends() {
        let business = grid("1b")
        // Saturday 5 January to Saturday 12 January: Monday 7 to Friday 11.
        let range = business.completeBuckets(from: instant(2013, 1, 5, 12), until: instant(2013, 1, 12, 12))!
        XCTAssertEqual(range.count, 5)
        XCTAssertEqual(business.start(ofBucket: range.lowerBound), instant(2013, 1, 7))
        XCTAssertEqual(business.start(ofBucket: range.upperBound), instant(2013, 1, 11))
        // Up to Friday noon: Friday is not complete.
        XCTAssertEqual(business.completeBuckets(from: instant(2013, 1, 7), until: instant(2013, 1, 11, 12))?.count, 4)
        XCTAssertNil(business.completeBuckets(from: instant(2013, 1, 5), until: instant(2013, 1, 7)))
    }
}
