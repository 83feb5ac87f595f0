import Foundation

/// How several points that fall into one step become one value. Missing values (NULL, NaN,
/// ±inf) never take part.
public enum Aggregation: String, Sendable, Hashable, Codable, CaseIterable {
    case mean, sum, min, max
    /// The value with the latest timestamp in the step; among rows with the same timestamp,
    /// the one read last.
    case last
}

/// What a step of a regular series holds.
public enum StepState: UInt8, Sendable, Hashable, Codable {
    /// At least one row with a usable value fell into the step.
    case observed
    /// No row, but the step lies in an interior gap of at most `maxGap` steps and was filled
    /// linearly between its neighbours.
    case interpolated
    /// No value: a longer gap, or a leading/trailing step of a fixed extent. Masked in the
    /// loss and flagged in the input, never invented.
    case missing
}

/// A run of consecutive steps without observations.
public struct Gap: Sendable, Hashable, Codable {
    /// The step (offset in the series) where the gap begins.
    public let start: Int
    public let length: Int
    /// True when the gap was filled by interpolation.
    public let interpolated: Bool
}

/// Where the rows of one series went.
public struct RowCounts: Sendable, Hashable, Codable {
    /// Every row read for the series.
    public var read = 0
    /// Rows with a NULL, NaN or infinite value.
    public var missingValue = 0
    /// Rows whose time is not on the grid: weekends for business days, or absurd instants.
    public var offGrid = 0
    /// Rows outside a fixed extent.
    public var outsideExtent = 0

    public init() {}

    /// Rows that did not reach the grid.
    public var dropped: Int { missingValue + offGrid + outsideExtent }
}

/// A covariate of a series: another column of the source laid on the series' grid like its
/// value (aggregated alike, short gaps interpolated, longer ones missing), one value per step
/// of the series. A past-observed one (`[jobs.source] past_covariates`) ends with the series; a
/// future-known one (`future_covariates`) also has the values the source already holds for
/// the steps after the series' end (`ahead`): what a forecast from the end reads for its horizon.
public struct CovariateSeries: Sendable, Equatable {
    /// The source column.
    public let name: String
    /// NaN where the step is `.missing`.
    public internal(set) var values: [Double]
    public internal(set) var states: [StepState]
    /// Future-known covariates: the values of the steps after the series' last one, as the
    /// source holds them (NaN where a step has none; never interpolated, so that a forecast
    /// never reads an invented future); nil for a past-observed covariate.
    public internal(set) var ahead: [Double]?

    public init(name: String, values: [Double], states: [StepState], ahead: [Double]? = nil) {
        precondition(values.count == states.count, "one state per value")
        self.name = name
        self.values = values
        self.states = states
        self.ahead = ahead
    }

    /// Known ahead of time (`future_covariates`).
    public var isFutureKnown: Bool { ahead != nil }

    /// The steps `range` of the covariate; a future-known one keeps what follows them ahead.
    func steps(_ range: Range<Int>) -> CovariateSeries {
        CovariateSeries(name: name, values: Array(values[range]), states: Array(states[range]),
                        ahead: ahead.map { Array(values[range.upperBound...]) + $0 })
    }
}

/// A future-known covariate without a value for some step of a forecast's horizon: the
/// network cannot forecast the series (it would read an invented value), the fallback does.
public struct MissingFuture: Error, Sendable, Equatable, CustomStringConvertible {
    public var series: String
    public var covariate: String
    /// The horizon steps (1-based) without a value.
    public var steps: [Int]
    public var horizon: Int

    public var description: String {
        let which = steps.count == horizon ? "any of the \(horizon) steps" : steps.count == 1 ? "step \(steps[0])" : "\(steps.count) steps (from step \(steps[0]))"
        return "series \"\(series)\": the future-known covariate \"\(covariate)\" has no value for \(which) of the horizon"
    }
}

/// One series on its job's grid: step `i` is bucket `firstBucket + i` of `grid`.
public struct RegularSeries: Sendable, Equatable {
    public let key: String
    public let grid: TimeGrid
    /// Grid index of step 0.
    public let firstBucket: Int
    /// One value per step; NaN where the step is `.missing`.
    public internal(set) var values: [Double]
    public internal(set) var states: [StepState]
    public let rows: RowCounts
    /// The job's covariates on the same steps: the past-observed ones in the configured order,
    /// then the future-known ones (`CovariateSeries.ahead`).
    public internal(set) var covariates: [CovariateSeries]
    /// The series' static attributes (`[jobs.source] static_covariates`), the same for every
    /// step; nil for a job without.
    public var statics: StaticAttributes?

    public init(key: String, grid: TimeGrid, firstBucket: Int, values: [Double], states: [StepState],
                rows: RowCounts = RowCounts(), covariates: [CovariateSeries] = []) {
        precondition(values.count == states.count, "one state per value")
        precondition(covariates.allSatisfy { $0.values.count == values.count }, "one covariate value per step")
        self.key = key
        self.grid = grid
        self.firstBucket = firstBucket
        self.values = values
        self.states = states
        self.rows = rows
        self.covariates = covariates
    }

    /// The steps `range` of the series (values, states and covariates), as a series of its own.
    public func steps(_ range: Range<Int>) -> RegularSeries {
        var part = RegularSeries(key: key, grid: grid, firstBucket: firstBucket + range.lowerBound, values: Array(values[range]),
                                 states: Array(states[range]), rows: rows, covariates: covariates.map { $0.steps(range) })
        part.statics = statics
        return part
    }

    /// The names of the covariates, in order (the past-observed ones, then the future-known).
    public var covariateNames: [String] { covariates.map(\.name) }

    /// The first future-known covariate that lacks a value for one of the `horizon` steps after
    /// the series' end, with those steps; nil when every one is known for the whole horizon.
    public func missingFuture(horizon: Int) -> MissingFuture? {
        for column in covariates {
            guard let ahead = column.ahead else { continue }
            let steps = (0..<horizon).filter { $0 >= ahead.count || !ahead[$0].isFinite }.map { $0 + 1 }
            if !steps.isEmpty { return MissingFuture(series: key, covariate: column.name, steps: steps, horizon: horizon) }
        }
        return nil
    }

    /// The last step in `range` whose value and every covariate are observed: where a saved
    /// state may stop. A step after a covariate's last observation could still be interpolated
    /// once rows arrive, so reading on from it would not equal a full read.
    public func lastSettledStep(in range: Range<Int>) -> Int? {
        var step = range.upperBound - 1
        while step >= range.lowerBound {
            if states[step] == .observed, covariates.allSatisfy({ $0.states[step] == .observed }) { return step }
            step -= 1
        }
        return nil
    }

    /// The last settled step from `start` on whose bucket lies before `settledBefore` (nil: any
    /// bucket): the bucket that a read's end falls in may still receive rows.
    public func lastSettledStep(from start: Int, before settledBefore: Int?) -> Int? {
        let limit = settledBefore.map { Swift.max(start, Swift.min(count, $0 - firstBucket)) } ?? count
        return lastSettledStep(in: start..<limit)
    }

    public var frequency: Frequency { grid.frequency }
    public var count: Int { values.count }
    /// Grid index one past the last step: where a forecast made now begins.
    public var endBucket: Int { firstBucket + values.count }

    /// The first instant of step 0.
    public var start: Date { grid.start(ofBucket: firstBucket) }

    /// The first instant of step `step`; steps beyond the end give forecast target times.
    public func date(ofStep step: Int) -> Date { grid.start(ofBucket: firstBucket + step) }

    /// The step that holds `date`, or `nil` when it is off the grid (it may lie outside the
    /// series' range: the result is then negative or ≥ count).
    public func step(of date: Date) -> Int? { grid.index(of: date).map { $0 - firstBucket } }

    public var observedCount: Int { states.lazy.filter { $0 == .observed }.count }
    public var interpolatedCount: Int { states.lazy.filter { $0 == .interpolated }.count }
    public var missingCount: Int { states.lazy.filter { $0 == .missing }.count }

    /// True where the step holds a real observation (the network's missing-value flag).
    public var observedMask: [Bool] { states.map { $0 == .observed } }

    /// The values with interpolated steps blanked to NaN: what accuracy metrics score.
    public var observedValues: [Double] {
        zip(values, states).map { $0.1 == .observed ? $0.0 : .nan }
    }

    /// The last step with a real observation: the origin of a forecast.
    public var lastObservedStep: Int? { states.lastIndex(of: .observed) }

    /// Runs of steps without observations, in order.
    public var gaps: [Gap] {
        var result: [Gap] = []
        var step = 0
        while step < states.count {
            guard states[step] != .observed else { step += 1; continue }
            let start = step
            while step < states.count, states[step] != .observed { step += 1 }
            result.append(Gap(start: start, length: step - start, interpolated: states[start] == .interpolated))
        }
        return result
    }
}
