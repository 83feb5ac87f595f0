/// ForecastStore owns every table forecastd reads or writes and all of its SQL: the source
/// reader (the user's tables, identifiers quoted, ranges bound), models and their weights,
/// predictions, actuals, metrics and training history, saved series states, runs, the work
/// queue, the job schedule, the report's and status's queries, and the migrations.
///
/// Jobs, the scheduler, the report and the daemon call its named methods and write no SQL of
/// their own. It must not know them: what is due, what to publish and how to forecast are
/// decided elsewhere (the daemon learns of closed runs through a `RunObserver` it hands in).
