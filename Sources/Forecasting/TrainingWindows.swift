/// How the training part of the series becomes TBPTT windows: segments of series laid side by
/// side as the rows of a batch, and each window of those rows written straight from the series
/// into the trainer's buffers when the update reaches it.
import NeuralNet

extension RecurrentForecaster {
    /// A stretch of one series that trains as one row of a batch: `[start, end)`, with targets
    /// counted from `scoredFrom` (the steps before it warm the state up).
    struct Segment {
        let series: Int
        let start: Int
        let scoredFrom: Int
        let end: Int
    }

    /// Cuts the training part of every series into segments, about `batchSize` of them in all
    /// for a single long series, one per series when there are many; each segment starts
    /// `context` steps early so that its scored steps see a warmed-up state.
    static func trainingSegments(_ prepared: [PreparedSeries], settings: ForecasterSettings) -> [Segment] {
        let total = prepared.reduce(0) { $0 + $1.trainEnd }
        let longest = prepared.map(\.trainEnd).max() ?? 0
        let length = min(longest, max(settings.context + 4 * settings.tbpttK1, (total + settings.batchSize - 1) / settings.batchSize))
        var segments: [Segment] = []
        for (index, s) in prepared.enumerated() {
            var scoredFrom = min(settings.context, s.trainEnd)
            while scoredFrom < s.trainEnd - settings.horizon {
                let end = min(s.trainEnd, scoredFrom + length)
                segments.append(Segment(series: index, start: max(0, scoredFrom - settings.context), scoredFrom: scoredFrom, end: end))
                scoredFrom = end
            }
        }
        return segments
    }

    /// A group of segments side by side, time-major, as one batch of `batch` rows: short rows
    /// and missing rows are padded with masked steps. Nothing is laid out up front: each
    /// update's window is written row by row into the shard's buffers (`fill`), so memory stays
    /// a window's, not `steps × batch × inputs` (288 MB of inputs alone for 256 hourly rows with
    /// a week of lags).
    struct SegmentWindows: TrainingSequence {
        let segments: [Segment]
        let prepared: [PreparedSeries]
        let layout: FeatureLayout
        let base: ForecastBase
        let season: Int, horizon: Int, quantiles: Int
        let steps: Int, batch: Int, inputSize: Int, outputSize: Int, futureWidth: Int
        /// The rows' calendar features, computed once when their buckets overlap (aligned
        /// series): the span of all of them, unless it is much longer than the rows themselves.
        let calendarBlock: CalendarBlock?
        var masked: Bool { true }

        init(_ group: [Segment], batch: Int, prepared: [PreparedSeries], layout: FeatureLayout, settings: ForecasterSettings) {
            segments = group
            self.prepared = prepared; self.layout = layout; self.batch = batch
            base = settings.base!; season = settings.season; horizon = settings.horizon; quantiles = settings.quantiles.count
            steps = group.map { $0.end - $0.start }.max() ?? 1
            inputSize = layout.inputSize; outputSize = settings.outputSize
            // The recurrent decoder reads the future block of each scored step (its origins are
            // among them; the warm-up steps' blocks stay 0, unread); the dense head reads every step's.
            futureWidth = layout.readsFuture ? layout.blockWidth(horizon: settings.horizon) : 0
            let lowest = group.map { prepared[$0.series].firstBucket + $0.start }.min() ?? 0
            let highest = group.map { prepared[$0.series].firstBucket + $0.end }.max() ?? 0
            calendarBlock = highest - lowest <= 2 * steps ? CalendarBlock(layout.calendar, buckets: lowest..<highest) : nil
        }

        func fill(_ buffers: WindowBuffers, steps window: Range<Int>, rows: Range<Int>) {
            let b = rows.count, slots = window.count * b
            buffers.inputs.update(repeating: 0, count: slots * inputSize)
            buffers.targets.update(repeating: 0, count: slots * outputSize)
            buffers.mask.update(repeating: 0, count: slots * outputSize)
            if futureWidth > 0 { buffers.future.update(repeating: 0, count: slots * futureWidth) }
            let inputs = UnsafeMutableBufferPointer(start: buffers.inputs, count: slots * inputSize)
            for row in rows where row < segments.count {
                let segment = segments[row], s = prepared[segment.series], slot = row - rows.lowerBound
                // This row's steps inside the window; slot (t − from) · b + slot holds step t.
                let from = segment.start + window.lowerBound, to = min(segment.end, segment.start + window.upperBound)
                guard from < to else { continue }
                layout.fillInputs(inputs, series: s, steps: from..<to, offset: slot * inputSize, stride: b * inputSize,
                                  base: base, season: season, calendarBlock: calendarBlock)
                let firstBlock = max(from, layout.decoder == .recurrent ? segment.scoredFrom : segment.start)
                if futureWidth > 0, firstBlock < to {
                    let blocks = layout.futureBlocks(series: s, origins: firstBlock..<to, horizon: horizon, base: base, season: season)!
                    blocks.withUnsafeBufferPointer { r in
                        for t in firstBlock..<to {
                            (buffers.future + ((t - from) * b + slot) * futureWidth)
                                .update(from: r.baseAddress! + (t - firstBlock) * futureWidth, count: futureWidth)
                        }
                    }
                }
                let firstScored = max(from, segment.scoredFrom)
                guard firstScored < to else { continue }
                for t in firstScored..<to {
                    let at = ((t - from) * b + slot) * outputSize
                    for h in 0..<horizon {
                        let target = t + 1 + h
                        guard target < s.trainEnd else { break }
                        let v = s.scaled[target]
                        guard v.isFinite else { continue }
                        let residual = Float(v - s.base(base, at: t, ahead: h + 1, season: season))
                        for k in 0..<quantiles {
                            buffers.targets[at + h * quantiles + k] = residual
                            buffers.mask[at + h * quantiles + k] = 1
                        }
                    }
                }
            }
        }
    }
}
