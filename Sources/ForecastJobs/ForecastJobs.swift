/// ForecastJobs owns a job's work: reading its series through the store, training a unit (the
/// decision itself is Forecasting's `ModelGuard`) and publishing it in one transaction, the
/// predict cycle over saved series states, backtests, drift, one-off runs, executing and
/// failing claimed queue units, and the scheduler's tick with its one due rule (`DueRule`).
///
/// It must not know the daemon's runtime (threads of loops, HTTP, systemd, log formats) nor
/// write SQL: it calls the store.
