import Foundation

/// One row of a source query: any order, duplicates allowed, `nil` for SQL NULL.
public struct SourceRow: Sendable, Hashable {
    public var key: String
    public var time: Date
    public var value: Double?
    /// The covariates' values (`SeriesSettings.covariates`, then `futureCovariates`), nil for SQL NULL.
    public var covariates: [Double?]

    public init(key: String, time: Date, value: Double?, covariates: [Double?] = []) {
        self.key = key
        self.time = time
        self.value = value
        self.covariates = covariates
    }
}

/// Why a series did not come out ready for training. Recorded per series; the other series
/// of the job go on.
public enum SkipReason: Sendable, Hashable, CustomStringConvertible {
    /// No row landed on the grid (none read, or all on weekends / outside the extent).
    case empty
    /// Rows exist but every value is NULL, NaN or infinite.
    case allMissing(rows: Int)
    /// The series spans fewer steps than the job needs.
    case tooShort(needed: Int, got: Int)
    /// Every observed value is the same (within rounding), so there is nothing to learn;
    /// the seasonal-naive fallback forecasts it exactly.
    case constant(value: Double)
    /// First and last row are so far apart that the grid would exceed the limit, usually a
    /// stray timestamp.
    case gridTooLong(steps: Int, limit: Int)

    /// "1 step", "5 steps".
    static func steps(_ n: Int) -> String { n == 1 ? "1 step" : "\(n) steps" }

    public var description: String {
        switch self {
        case .empty: return "empty: no rows on the grid"
        case .allMissing(let rows): return "all \(rows) values are missing (NULL, NaN or infinite)"
        case .tooShort(let needed, let got): return "too short: \(Self.steps(got)), needs \(needed)"
        case .constant(let value): return "constant: every value is \(value)"
        case .gridTooLong(let steps, let limit): return "grid too long: \(steps) steps, the limit is \(limit)"
        }
    }
}

/// A series the builder did not pass on, with the series itself where one could be formed
/// (constant or short series can still be served by the seasonal-naive fallback).
public struct SkippedSeries: Sendable, Equatable {
    public let key: String
    public let reason: SkipReason
    public let rows: RowCounts
    public let series: RegularSeries?
}

public enum SeriesOutcome: Sendable, Equatable {
    case ready(RegularSeries)
    case skipped(SkippedSeries)

    public var key: String {
        switch self {
        case .ready(let series): return series.key
        case .skipped(let skipped): return skipped.key
        }
    }

    /// The regular series, whether or not it is fit for training.
    public var series: RegularSeries? {
        switch self {
        case .ready(let series): return series
        case .skipped(let skipped): return skipped.series
        }
    }

    /// What the builder did with the series' rows.
    public var rows: RowCounts {
        switch self {
        case .ready(let series): return series.rows
        case .skipped(let skipped): return skipped.rows
        }
    }

    /// The series when it is ready for the network.
    public var readySeries: RegularSeries? {
        if case .ready(let series) = self { return series }
        return nil
    }

    public var skipReason: SkipReason? {
        if case .skipped(let skipped) = self { return skipped.reason }
        return nil
    }

    /// The series when the seasonal-naive fallback can forecast it although it was skipped
    /// (constant, or too short for the network but at least a season long); `nil` for a
    /// ready series or one without a usable last season.
    public func fallbackSeries(season: Int) -> RegularSeries? {
        guard case .skipped(let skipped) = self, let series = skipped.series else { return nil }
        return SeasonalNaive(season: season).canForecast(history: series.values) ? series : nil
    }

    /// Why a skipped series gets no forecast at all (`fallbackSeries` is nil): the skip reason,
    /// and for a series too short for the network, the least the fallback needs too, so that
    /// "needs 84" is not read as the least any forecast needs.
    public func unservedReason(season: Int) -> String {
        guard let reason = skipReason else { return "" }
        guard case .tooShort(let needed, let got) = reason else { return reason.description }
        return "too short: \(SkipReason.steps(got)); the network needs \(needed), the seasonal-naive fallback a season (\(SkipReason.steps(max(season, 1))))"
    }
}

/// The job settings that shape a series.
public struct SeriesSettings: Sendable, Hashable {
    /// Which buckets a series covers.
    public enum Extent: Sendable, Hashable {
        /// From the first to the last bucket with a usable value.
        case observed
        /// Exactly these grid buckets; rows outside are dropped and counted, and buckets
        /// before the first or after the last observation stay missing.
        case buckets(ClosedRange<Int>)
    }

    public var grid: TimeGrid
    public var aggregation: Aggregation
    /// Interior gaps of at most this many steps are interpolated linearly.
    public var maxGap: Int
    /// Series spanning fewer steps are skipped as too short.
    public var minimumLength: Int
    public var extent: Extent
    /// A guard against a stray timestamp turning one series into millions of empty steps.
    public var maximumLength: Int
    /// The past covariates' names (source columns): every row carries one value for each, laid
    /// on the series' steps like the value (same aggregation; NULL, NaN and infinities missing;
    /// gaps of at most `maxGap` steps interpolated). A row without a value still brings its
    /// covariates. The series' extent is the value's: covariates outside it are dropped.
    public var covariates: [String]
    /// With `.observed`, steps before the first value that hold a covariate open the series
    /// (its values missing there): the new steps after a saved state, whose first bucket may
    /// have a temperature but no demand yet, and a full read has that temperature on its grid.
    public var leadingCovariates: Bool
    /// The future-known covariates' names, after the past ones in every row: laid on the
    /// series' steps like them, and on the `futureSteps` steps after its last value too
    /// (`CovariateSeries.ahead`), from rows there that have no value (NULL, or not read: see
    /// `SourceReader`). What lies ahead is never interpolated: a forecast reads what is known.
    public var futureCovariates: [String]
    /// Steps after a series' last value that its future-known covariates are laid on: the horizon.
    public var futureSteps: Int
    /// The job's holidays: three future-known covariates after the others
    /// (`HolidayCalendar.featureNames`), computed for every step and the `futureSteps` ahead; nil
    /// without. Read from the database at each read (`SourceReader.withJobQueries`).
    public var holidays: HolidayCalendar?
    /// The job's static covariates: each series gets its row (`RegularSeries.statics`), every
    /// attribute unknown when the query has none for it; nil without. Read from the database at
    /// each read, like the holidays (`SourceReader.withJobQueries`).
    public var statics: StaticTable?

    public init(grid: TimeGrid, aggregation: Aggregation = .mean, maxGap: Int = 3, minimumLength: Int = 2,
                extent: Extent = .observed, maximumLength: Int = 10_000_000, covariates: [String] = [],
                leadingCovariates: Bool = false, futureCovariates: [String] = [], futureSteps: Int = 0) {
        precondition(maxGap >= 0 && minimumLength >= 0 && maximumLength >= 1)
        self.grid = grid
        self.aggregation = aggregation
        self.maxGap = maxGap
        self.minimumLength = minimumLength
        self.extent = extent
        self.maximumLength = maximumLength
        self.covariates = covariates
        self.leadingCovariates = leadingCovariates
        self.futureCovariates = futureCovariates
        self.futureSteps = max(0, futureSteps)
    }
}

/// Groups unordered source rows by series and lays each series on the grid.
///
/// Rows are added one at a time, so a streaming read needs no intermediate table. They are
/// kept in flat columns (series number, time, value) in arrival order, and `finish` groups
/// them with one counting sort: sensor tables usually return rows interleaved across series,
/// and appending to one buffer per series would touch a different buffer for every row.
/// Nothing is sorted by time; each row goes straight to its bucket, so the work is linear
/// in the number of rows.
public struct SeriesBuilder: Sendable {
    public let settings: SeriesSettings

    private var keys: [String] = []
    private var missingValueRows: [Int] = []
    private var groupOfKey = KeyTable()
    // Source queries often return a series' rows together; remembering the last key spares
    // a hash lookup per row.
    private var lastKey: String?
    private var lastGroup: Int32 = -1
    private var rowGroups: [Int32] = []
    private var rowTimes: [Double] = []
    private var rowValues: [Double] = []
    /// With covariates: `covariateCount` per row (NaN for missing), and rows whose value is
    /// missing are kept too (value NaN) for their covariates.
    private var rowCovariates: [Double] = []
    private let covariateCount: Int

    public init(settings: SeriesSettings) {
        self.settings = settings
        covariateCount = settings.covariates.count + settings.futureCovariates.count
    }

    /// Builds every series of `rows`, plus an `.empty` outcome for each expected key that
    /// has none. Outcomes are sorted by key.
    @inlinable
    public static func build<Rows: Sequence>(_ rows: Rows, settings: SeriesSettings,
                                             expectedKeys: some Sequence<String> = [String]()) -> [SeriesOutcome]
    where Rows.Element == SourceRow {
        var builder = SeriesBuilder(settings: settings)
        builder.reserveCapacity(rows.underestimatedCount)
        for key in expectedKeys { builder.expect(key: key) }
        for row in rows { builder.add(key: row.key, time: row.time, value: row.value, covariates: row.covariates) }
        return builder.finish()
    }

    public mutating func reserveCapacity(_ rows: Int) {
        rowGroups.reserveCapacity(rows)
        rowTimes.reserveCapacity(rows)
        rowValues.reserveCapacity(rows)
        rowCovariates.reserveCapacity(rows * covariateCount)
    }

    /// Makes sure `key` comes out, as `.empty` when no row arrives for it.
    public mutating func expect(key: String) {
        _ = group(for: key)
    }

    /// Adds a row; `covariates` holds one value per `settings.covariates`, then one per
    /// `settings.futureCovariates` (nil for NULL; missing ones are taken as NULL, extra ones ignored).
    public mutating func add(key: String, time: Date, value: Double?, covariates: [Double?] = []) {
        add(key: key, unixSeconds: time.timeIntervalSince1970, value: value, covariates: covariates)
    }

    /// The same with the time as seconds since 1970-01-01 UTC, as a reader that decodes
    /// timestamps itself has them.
    public mutating func add(key: String, unixSeconds time: Double, value: Double?, covariates: [Double?] = []) {
        let group = group(for: key)
        let usable = value.map(\.isFinite) ?? false
        if !usable {
            missingValueRows[Int(group)] += 1
            guard covariateCount > 0 else { return }
        }
        rowGroups.append(group)
        rowTimes.append(time)
        rowValues.append(usable ? value! : .nan)
        for c in 0..<covariateCount {
            let v = c < covariates.count ? covariates[c] ?? .nan : .nan
            rowCovariates.append(v.isFinite ? v : .nan)
        }
    }

    @inline(__always)
    private mutating func group(for key: String) -> Int32 {
        if lastGroup >= 0, lastKey == key { return lastGroup }
        let group = groupOfKey.group(of: key, keys: &keys)
        if missingValueRows.count < keys.count { missingValueRows.append(0) }
        lastKey = key
        lastGroup = group
        return group
    }

    /// One outcome per key, sorted by key.
    public func finish() -> [SeriesOutcome] {
        // Counting sort by series: rows of series g end up in sortedTimes[offsets[g]..<offsets[g + 1]],
        // still in arrival order (which `last` relies on for ties).
        var offsets = [Int](repeating: 0, count: keys.count + 1)
        for group in rowGroups { offsets[Int(group) + 1] += 1 }
        for group in 0..<keys.count { offsets[group + 1] += offsets[group] }
        var sortedTimes = [Double](repeating: 0, count: rowTimes.count)
        var sortedValues = [Double](repeating: 0, count: rowValues.count)
        let c = covariateCount
        var sortedCovariates = [Double](repeating: 0, count: rowCovariates.count)
        var next = offsets
        for row in 0..<rowGroups.count {
            let group = Int(rowGroups[row])
            sortedTimes[next[group]] = rowTimes[row]
            sortedValues[next[group]] = rowValues[row]
            for k in 0..<c { sortedCovariates[next[group] * c + k] = rowCovariates[row * c + k] }
            next[group] += 1
        }

        var clock = LocalClock(timeZone: settings.grid.timeZone)
        var buckets: [Int] = []
        return keys.indices
            .sorted { keys[$0] < keys[$1] }
            .map { group in
                let rows = offsets[group]..<offsets[group + 1]
                var counts = RowCounts()
                counts.missingValue = missingValueRows[group]
                // With covariates, rows without a value are among `rows` as well.
                let kept = c > 0 ? sortedValues[rows].lazy.filter(\.isNaN).count : 0
                counts.read = rows.count - kept + counts.missingValue
                return build(key: keys[group], times: sortedTimes[rows], values: sortedValues[rows],
                             covariates: sortedCovariates[(rows.lowerBound * c)..<(rows.upperBound * c)], rows: counts,
                             clock: &clock, buckets: &buckets)
            }
    }

    private static let offGridBucket = Int.min

    private func build(key: String, times: ArraySlice<Double>, values rowValues: ArraySlice<Double>,
                       covariates rowCovariates: ArraySlice<Double>, rows: RowCounts,
                       clock: inout LocalClock, buckets: inout [Int]) -> SeriesOutcome {
        var rows = rows
        func skipped(_ reason: SkipReason, _ series: RegularSeries? = nil) -> SeriesOutcome {
            .skipped(SkippedSeries(key: key, reason: reason, rows: rows, series: series))
        }
        if covariateCount == 0 ? times.isEmpty : !rowValues.contains(where: \.isFinite) {
            return skipped(rows.missingValue > 0 ? .allMissing(rows: rows.missingValue) : .empty)
        }

        // Bucket of every usable row, and the range they cover.
        buckets.removeAll(keepingCapacity: true)
        var low = Int.max, high = Int.min, leading = Int.max
        let fixed: ClosedRange<Int>?
        if case .buckets(let range) = settings.extent { fixed = range } else { fixed = nil }
        let c = covariateCount, covariateBase = rowCovariates.startIndex
        for (row, time) in times.enumerated() {
            // A row kept only for its covariates counts among the missing values, nowhere else.
            let hasValue = c == 0 || rowValues[rowValues.startIndex + row].isFinite
            guard let bucket = settings.grid.index(ofUnixSeconds: time, clock: &clock) else {
                if hasValue { rows.offGrid += 1 }
                buckets.append(Self.offGridBucket)
                continue
            }
            if let fixed, !fixed.contains(bucket) {
                if hasValue { rows.outsideExtent += 1 }
                buckets.append(Self.offGridBucket)
                continue
            }
            buckets.append(bucket)
            if hasValue {
                low = Swift.min(low, bucket)
                high = Swift.max(high, bucket)
            } else if settings.leadingCovariates, bucket < leading,
                      (0..<c).contains(where: { rowCovariates[covariateBase + row * c + $0].isFinite }) {
                leading = bucket
            }
        }
        if let fixed {
            low = fixed.lowerBound
            high = fixed.upperBound
        } else if low > high {
            return skipped(.empty)
        } else if leading < low {
            low = leading
        }
        let (length, overflow) = (high - low).addingReportingOverflow(1)
        if overflow || length > settings.maximumLength {
            return skipped(.gridTooLong(steps: overflow ? Int.max : length, limit: settings.maximumLength))
        }

        var (values, states) = aggregate(times: times, values: rowValues, buckets: buckets, firstBucket: low, length: length)
        var observedLow = Double.infinity, observedHigh = -Double.infinity
        for (value, state) in zip(values, states) where state == .observed {
            observedLow = Swift.min(observedLow, value)
            observedHigh = Swift.max(observedHigh, value)
        }
        if observedLow > observedHigh {
            return skipped(.empty)  // a fixed extent that none of the rows fell into
        }
        interpolateShortGaps(&values, &states, maxGap: settings.maxGap)
        var covariates: [CovariateSeries] = []
        if c > 0 {
            var column = [Double](repeating: .nan, count: times.count)
            let past = settings.covariates.count, ahead = settings.futureSteps
            for (k, name) in (settings.covariates + settings.futureCovariates).enumerated() {
                for row in 0..<times.count { column[row] = rowCovariates[covariateBase + row * c + k] }
                let known = k >= past
                var (covariate, covariateStates) = aggregate(times: times, values: column[...], buckets: buckets, firstBucket: low,
                                                             length: length + (known ? ahead : 0))
                let future = known ? Array(covariate[length...]) : nil
                covariate.removeLast(covariate.count - length)
                covariateStates.removeLast(covariateStates.count - length)
                interpolateShortGaps(&covariate, &covariateStates, maxGap: settings.maxGap)
                covariates.append(CovariateSeries(name: name, values: covariate, states: covariateStates, ahead: future))
            }
        }
        if let holidays = settings.holidays {
            let observed = [StepState](repeating: .observed, count: length)
            for (name, column) in zip(HolidayCalendar.featureNames, holidays.columns(grid: settings.grid, first: low, length: length + settings.futureSteps)) {
                covariates.append(CovariateSeries(name: name, values: Array(column[..<length]), states: observed, ahead: Array(column[length...])))
            }
        }
        var series = RegularSeries(key: key, grid: settings.grid, firstBucket: low,
                                   values: values, states: states, rows: rows, covariates: covariates)
        series.statics = settings.statics?.attributes(of: key)
        if length < settings.minimumLength {
            return skipped(.tooShort(needed: settings.minimumLength, got: length), series)
        }
        // Means of equal values can differ in the last bit, hence the relative tolerance.
        let spread = observedHigh - observedLow
        if spread <= 1e-12 * Swift.max(abs(observedLow), abs(observedHigh)) {
            return skipped(.constant(value: observedLow), series)
        }
        return .ready(series)
    }

    private func aggregate(times: ArraySlice<Double>, values rowValues: ArraySlice<Double>, buckets: [Int],
                           firstBucket: Int, length: Int) -> ([Double], [StepState]) {
        var values = [Double](repeating: 0, count: length)
        var counts = [Int32](repeating: 0, count: length)
        var latest: [Double] = settings.aggregation == .last ? [Double](repeating: -.infinity, count: length) : []
        let aggregation = settings.aggregation
        let base = times.startIndex, valueBase = rowValues.startIndex
        for row in 0..<buckets.count where buckets[row] != Self.offGridBucket {
            let step = buckets[row] - firstBucket
            let value = rowValues[valueBase + row]
            // Rows kept for their covariates have no value, covariates may be missing, and a
            // covariate's row may lie outside the value's extent.
            guard value.isFinite, step >= 0, step < length else { continue }
            let first = counts[step] == 0
            counts[step] &+= 1
            switch aggregation {
            case .mean, .sum:
                values[step] += value
            case .min:
                values[step] = first ? value : Swift.min(values[step], value)
            case .max:
                values[step] = first ? value : Swift.max(values[step], value)
            case .last:
                let time = times[base + row]
                if time >= latest[step] {
                    latest[step] = time
                    values[step] = value
                }
            }
        }
        var states = [StepState](repeating: .observed, count: length)
        for step in 0..<length {
            if counts[step] == 0 {
                values[step] = .nan
                states[step] = .missing
            } else if aggregation == .mean {
                values[step] /= Double(counts[step])
            }
        }
        return (values, states)
    }
}

/// Series number of each key: open addressing with FNV-1a over the UTF-8 bytes, several
/// times cheaper per row than `Dictionary<String, _>`, whose seeded SipHash dominated the
/// cost of reading rows interleaved across many series.
struct KeyTable {
    private var slots = [Int32](repeating: -1, count: 64)
    private var hashes = [UInt64](repeating: 0, count: 64)
    private var used = 0

    /// The series number of `key`, appending it to `keys` when it is new.
    @inline(__always)
    mutating func group(of key: String, keys: inout [String]) -> Int32 {
        let hash = Self.hash(key)
        var slot = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        while true {
            let group = slots[slot]
            if group < 0 { break }
            if hashes[slot] == hash, keys[Int(group)] == key { return group }
            slot = (slot + 1) & (slots.count - 1)
        }
        precondition(keys.count < Int32.max, "too many series")
        let group = Int32(keys.count)
        keys.append(key)
        slots[slot] = group
        hashes[slot] = hash
        used += 1
        if used * 2 > slots.count { grow(keys: keys) }
        return group
    }

    private mutating func grow(keys: [String]) {
        let capacity = slots.count * 2
        var newSlots = [Int32](repeating: -1, count: capacity)
        var newHashes = [UInt64](repeating: 0, count: capacity)
        for (slot, group) in slots.enumerated() where group >= 0 {
            var target = Int(truncatingIfNeeded: hashes[slot]) & (capacity - 1)
            while newSlots[target] >= 0 { target = (target + 1) & (capacity - 1) }
            newSlots[target] = group
            newHashes[target] = hashes[slot]
        }
        slots = newSlots
        hashes = newHashes
    }

    @inline(__always)
    static func hash(_ key: String) -> UInt64 {
        var key = key
        return key.withUTF8 { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
            // Mix the high bits down: the table indexes with the low ones.
            hash ^= hash >> 29
            hash = hash &* 0xbf58_476d_1ce4_e5b9
            return hash ^ (hash >> 32)
        }
    }
}

/// Fills interior runs of at most `maxGap` missing steps on the straight line between the
/// observations around them. Longer runs, and runs at either end, stay missing.
func interpolateShortGaps(_ values: inout [Double], _ states: inout [StepState], maxGap: Int) {
    guard maxGap > 0 else { return }
    var previousObserved: Int?
    for step in values.indices where states[step] == .observed {
        if let before = previousObserved {
            let gap = step - before - 1
            if gap > 0, gap <= maxGap {
                let from = values[before], to = values[step]
                let span = Double(step - before)
                for filled in (before + 1)..<step {
                    let fraction = Double(filled - before) / span
                    values[filled] = from + (to - from) * fraction
                    states[filled] = .interpolated
                }
            }
        }
        previousObserved = step
    }
}
