import Foundation

/// Calendar inputs for the network: each cycle that varies along the grid becomes a sin/cos
/// pair, so that 23:00 sits next to 00:00 and December next to January. Computed at the start
/// of each bucket, in the grid's time zone.
///
/// Which cycles apply:
/// - hour of day: steps shorter than a day (`s`, `m`, `h`);
/// - day of week: steps shorter than a week that are not whole weeks (`1h`, `1d`, `2d`, `1b`;
///   not `7d`, `1w`, `5b`, `1mo`);
/// - day of year: every frequency but `mo`, whose steps are too coarse for it; the annual
///   cycle of daily and finer data is smoother by day than by month;
/// - month of year: `mo`, unless the step is a whole number of years.
/// Cycles a step can never see change (e.g. hour of day for daily data) are left out rather
/// than fed as constants.
public struct CalendarFeatures: Sendable, Hashable {
    public enum Cycle: String, Sendable, Hashable, CaseIterable {
        case hourOfDay, dayOfWeek, dayOfYear, monthOfYear
    }

    public let grid: TimeGrid
    public let cycles: [Cycle]

    public init(grid: TimeGrid) {
        self.grid = grid
        let frequency = grid.frequency
        let k = frequency.multiplier
        var cycles: [Cycle] = []
        switch frequency.unit {
        case .second, .minute, .hour:
            let step = frequency.fixedStepSeconds!
            if step < 86_400 { cycles.append(.hourOfDay) }
            if step % (7 * 86_400) != 0 { cycles.append(.dayOfWeek) }
            cycles.append(.dayOfYear)
        case .day:
            if k % 7 != 0 { cycles.append(.dayOfWeek) }
            cycles.append(.dayOfYear)
        case .businessDay:
            if k % 5 != 0 { cycles.append(.dayOfWeek) }
            cycles.append(.dayOfYear)
        case .week:
            cycles.append(.dayOfYear)
        case .month:
            if k % 12 != 0 { cycles.append(.monthOfYear) }
        }
        self.cycles = cycles
    }

    /// Inputs per step: two per cycle.
    public var count: Int { cycles.count * 2 }

    /// Names of the inputs in buffer order, e.g. `["hour_of_day_sin", "hour_of_day_cos", ...]`.
    public var names: [String] {
        cycles.flatMap { cycle -> [String] in
            let base = cycle.rawValue.replacingOccurrences(of: "Of", with: "_of_").lowercased()
            return [base + "_sin", base + "_cos"]
        }
    }

    /// Writes the features of grid buckets `buckets` into `buffer`: the features of the
    /// i-th bucket start at `offset + i * stride` (stride defaults to `count`).
    public func fill(_ buffer: inout [Float], buckets: Range<Int>, offset: Int = 0, stride: Int? = nil) {
        buffer.withUnsafeMutableBufferPointer { fill($0, buckets: buckets, offset: offset, stride: stride) }
    }

    /// The same into memory that several rows of a batch fill at once, each its own slots.
    public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, buckets: Range<Int>, offset: Int = 0, stride: Int? = nil) {
        let stride = stride ?? count
        precondition(stride >= count, "the stride must leave room for every feature")
        guard count > 0, !buckets.isEmpty else { return }
        precondition(offset >= 0 && offset + (buckets.count - 1) * stride + count <= buffer.count, "buffer too small")
        var clock = LocalClock(timeZone: grid.timeZone)
        var position = offset
        for bucket in buckets {
            let phases = phases(ofBucket: bucket, clock: &clock)
            for (index, phase) in phases.enumerated() {
                let angle = 2 * Double.pi * phase
                buffer[position + 2 * index] = Float(sin(angle))
                buffer[position + 2 * index + 1] = Float(cos(angle))
            }
            position += stride
        }
    }

    /// The features of `buckets`, `count` per bucket.
    public func values(buckets: Range<Int>) -> [Float] {
        var buffer = [Float](repeating: 0, count: buckets.count * count)
        fill(&buffer, buckets: buckets)
        return buffer
    }

    /// Where each cycle stands at the start of `bucket`, as a fraction of a turn in [0, 1).
    func phases(ofBucket bucket: Int, clock: inout LocalClock) -> [Double] {
        let day: Int
        let secondOfDay: Double
        if grid.frequency.isCalendar {
            day = grid.firstLocalDay(ofBucket: bucket)
            secondOfDay = 0
        } else {
            let start = grid.startUnixSeconds(ofBucket: bucket, clock: &clock)
            day = clock.localDay(ofUnixSeconds: start)
            secondOfDay = clock.localSecondOfDay(ofUnixSeconds: start)
        }
        return cycles.map { cycle in
            switch cycle {
            case .hourOfDay:
                return secondOfDay / 86_400
            case .dayOfWeek:
                return (Double(CivilDate.weekday(ofDay: day)) + secondOfDay / 86_400) / 7
            case .dayOfYear:
                let date = CivilDate(day: day)
                let dayOfYear = day - CivilDate(year: date.year, month: 1, dayOfMonth: 1).day
                let length = CivilDate.isLeapYear(date.year) ? 366.0 : 365.0
                return (Double(dayOfYear) + secondOfDay / 86_400) / length
            case .monthOfYear:
                return Double(CivilDate(day: day).month - 1) / 12
            }
        }
    }
}
