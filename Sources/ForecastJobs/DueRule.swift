import ForecastConfig
import ForecastStore
import Foundation

/// When a job's training and prediction are next due: the one rule that `run --once`
/// (`JobRunner.trainingIsDue`) and the scheduler (`Scheduler.tick`, which keeps the times in
/// `job_schedule`) share. Pure: it reads a `JobHistory`, never the database.
///
/// Training comes `train_every` after the last training that went through (succeeded or
/// partial) started, prediction `predict_every` after the last run of any kind that went
/// through; a job with no such run is due at once. The scheduler applies the same rule to a run
/// it queues now (the next time is `train_every` after now) and otherwise compares the stored
/// time with the clock, so a NOTIFY that made work due now is honoured.
public struct DueRule: Sendable {
    public let job: JobSettings

    public init(job: JobSettings) { self.job = job }

    /// The time training is due after a training run that started at `start`.
    public func nextTraining(afterTrainingAt start: Date) -> Date { job.trainEvery.next(after: start) }

    /// The time a prediction is due after a run (of any kind) that started at `start`.
    public func nextPrediction(afterRunAt start: Date) -> Date { job.predictEvery.next(after: start) }

    /// The time training is due after `history` (now, for a job never trained).
    public func nextTraining(after history: JobHistory, now: Date) -> Date {
        history.lastTrainingStart.map(nextTraining(afterTrainingAt:)) ?? now
    }

    /// The time a prediction is due after `history` (now, for a job that never ran).
    public func nextPrediction(after history: JobHistory, now: Date) -> Date {
        history.lastRunStart.map(nextPrediction(afterRunAt:)) ?? now
    }

    /// `run --once`: training is due when the job has no active model, or when its next
    /// training time has come.
    public func trainingIsDue(_ history: JobHistory, now: Date) -> Bool {
        history.activeModels == 0 || now >= nextTraining(after: history, now: now)
    }
}
