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
            futureWidth = layout.readsFuture ? layout.blockWidth(horizon: settings.horizon) : 0
            let lowest = group.map { prepared[$0.series].firstBucket + $0.start }.min() ?? 0
            let highest = group.map { prepared[$0.series].firstBucket + $0.end }.max() ?? 0
            calendarBlock = highest - lowest <= 2 * steps ? CalendarBlock(layout.calendar, buckets: lowest..<highest) : nil
        }

        func fill(_ buffers: WindowBuffers, steps window: Range<Int>, rows: Range<Int>) {
            let b = rows.count, slots = window.count * b
            let inputs = UnsafeMutableBufferPointer(start: buffers.inputs, count: slots * inputSize)
            // Slot (i, row) holds window step i of `row`; every slot is written exactly once
            // below (a slot outside its row's segment with zeros), so nothing is zeroed first.
            func clear(_ i: Int, _ slot: Int) {
                (buffers.inputs + (i * b + slot) * inputSize).update(repeating: 0, count: inputSize)
                (buffers.targets + (i * b + slot) * outputSize).update(repeating: 0, count: outputSize)
                (buffers.mask + (i * b + slot) * outputSize).update(repeating: 0, count: outputSize)
                if futureWidth > 0 { (buffers.future + (i * b + slot) * futureWidth).update(repeating: 0, count: futureWidth) }
            }
            for row in rows {
                let slot = row - rows.lowerBound
                guard row < segments.count else {
                    for i in 0..<window.count { clear(i, slot) }
                    continue
                }
                let segment = segments[row], s = prepared[segment.series]
                // This row's steps inside the window: step t at window step t − from.
                let from = segment.start + window.lowerBound, to = max(from, min(segment.end, segment.start + window.upperBound))
                for i in (to - from)..<window.count { clear(i, slot) }
                guard from < to else { continue }
                layout.fillInputs(inputs, series: s, steps: from..<to, offset: slot * inputSize, stride: b * inputSize,
                                  base: base, season: season, calendarBlock: calendarBlock)
                if futureWidth > 0 {
                    // The recurrent decoder reads the blocks of the scored steps only (its origins
                    // are among them; the warm-up steps' blocks are 0, unread); the dense head
                    // reads every step's.
                    let firstBlock = min(to, max(from, layout.decoder == .recurrent ? segment.scoredFrom : segment.start))
                    for t in from..<firstBlock {
                        (buffers.future + ((t - from) * b + slot) * futureWidth).update(repeating: 0, count: futureWidth)
                    }
                    if firstBlock < to {
                        let blocks = layout.futureBlocks(series: s, origins: firstBlock..<to, horizon: horizon, base: base, season: season)!
                        blocks.withUnsafeBufferPointer { r in
                            for t in firstBlock..<to {
                                (buffers.future + ((t - from) * b + slot) * futureWidth)
                                    .update(from: r.baseAddress! + (t - firstBlock) * futureWidth, count: futureWidth)
                            }
                        }
                    }
                }
                s.scaled.withUnsafeBufferPointer { scaled in
                    for t in from..<to {
                        let at = ((t - from) * b + slot) * outputSize
                        let targets = buffers.targets + at, mask = buffers.mask + at
                        var h = 0
                        if t >= segment.scoredFrom {
                            while h < horizon, t + 1 + h < s.trainEnd {
                                let v = scaled[t + 1 + h]
                                let residual = v.isFinite ? Float(v - s.base(base, at: t, ahead: h + 1, season: season)) : 0
                                let scored: Float = v.isFinite ? 1 : 0
                                for k in 0..<quantiles {
                                    targets[h * quantiles + k] = residual
                                    mask[h * quantiles + k] = scored
                                }
                                h += 1
                            }
                        }
                        (targets + h * quantiles).update(repeating: 0, count: outputSize - h * quantiles)
                        (mask + h * quantiles).update(repeating: 0, count: outputSize - h * quantiles)
                    }
                }
            }
        }
    }
}
