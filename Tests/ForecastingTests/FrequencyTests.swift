import XCTest
@testable import Forecasting

final class FrequencyTests: XCTestCase {
    func testParsesUnitsWithAndWithoutMultiplier() throws {
        let cases: [(String, Frequency.Unit, Int)] = [
            ("1h", .hour, 1), ("h", .hour, 1), ("30m", .minute, 30), ("15s", .second, 15), ("1d", .day, 1),
            ("1w", .week, 1), ("1mo", .month, 1), ("mo", .month, 1), ("3mo", .month, 3), ("1b", .businessDay, 1),
            (" 2H ", .hour, 2), ("1MO", .month, 1), ("1D", .day, 1),
        ]
        for (text, unit, multiplier) in cases {
            let frequency = try Frequency(parsing: text)
            XCTAssertEqual(frequency.unit, unit, text)
            XCTAssertEqual(frequency.multiplier, multiplier, text)
        }
        XCTAssertEqual(try Frequency(parsing: "h").description, "1h")
    }

    func testInvalidFrequenciesNameTheInput() {
        for text in ["", "1", "0h", "-1h", "1x", "1.5h", "1 h", "1M", "M", "hh", "99999999999h"] {
            XCTAssertThrowsError(try Frequency(parsing: text), text) { error in
                let message = String(describing: error)
                XCTAssertTrue(message.contains("\"\(text)\""), "\(message) should name \(text)")
            }
        }
        do {
            _ = try Frequency(parsing: "1M")
        } catch {
            XCTAssertTrue(error.description.contains("ambiguous"))
        }
    }

    func testDefaultSeasonLengths() throws {
        let expected: [String: Int] = [
            "1h": 24, "2h": 12, "3h": 8, "5h": 24, "7h": 24, "24h": 7, "168h": 52, "30m": 48, "15m": 96, "5m": 288,
            "10m": 144, "1m": 60, "2m": 30, "1s": 60, "15s": 240, "1d": 7, "2d": 7, "7d": 52, "14d": 26,
            "1w": 52, "2w": 26, "4w": 13, "52w": 1, "1mo": 12, "3mo": 4, "6mo": 2, "12mo": 1,
            "1b": 5, "5b": 1,
        ]
        for (text, season) in expected {
            XCTAssertEqual(try Frequency(parsing: text).defaultSeasonLength, season, text)
        }
    }

    func testStepLengths() throws {
        XCTAssertEqual(try Frequency(parsing: "30m").fixedStepSeconds, 1800)
        XCTAssertEqual(try Frequency(parsing: "2h").fixedStepSeconds, 7200)
        XCTAssertNil(try Frequency(parsing: "1d").fixedStepSeconds)
        XCTAssertTrue(try Frequency(parsing: "1h").isSubDaily)
        XCTAssertFalse(try Frequency(parsing: "24h").isSubDaily)
        XCTAssertTrue(try Frequency(parsing: "1b").isCalendar)
    }

    func testGridErrors() {
        XCTAssertThrowsError(try TimeGrid(frequency: "1h", timeZone: "Mars/Olympus")) { error in
            XCTAssertEqual(error as? GridError, .unknownTimeZone("Mars/Olympus"))
        }
        XCTAssertThrowsError(try TimeGrid(frequency: "1q", timeZone: "UTC"))
    }
}
