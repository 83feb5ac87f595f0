import NeuralNet
import XCTest
@testable import Forecasting

/// `Quantiles.selectOrderStatistics` leaves, at every index `sortedQuantile` reads, what a full
/// sort would: seasonal naive's intervals come out the same to the bit, faster.
final class OrderStatisticsTests: XCTestCase {
    func testSelectedOrderStatisticsEqualASort() {
        var generator = SplitMix64(seed: 11)
        let levelSets: [[Double]] = [[0.1, 0.5, 0.9], [0.025, 0.5, 0.975], [0.5], [0, 1], [0.05, 0.25, 0.5, 0.75, 0.95]]
        for n in [2, 3, 5, 10, 37, 100, 1999] {
            for ties in [false, true] {
                let values = (0..<n).map { _ in ties ? Double(generator.next() % 7) : Double(generator.next() % 1_000_000) / 1000 - 500 }
                let sorted = values.sorted()
                for levels in levelSets {
                    var selected = values
                    Quantiles.selectOrderStatistics(&selected, for: levels)
                    for level in levels {
                        XCTAssertEqual(Quantiles.sortedQuantile(selected, level), Quantiles.sortedQuantile(sorted, level),
                                       "n \(n), ties \(ties), level \(level)")
                    }
                }
            }
        }
    }
}
