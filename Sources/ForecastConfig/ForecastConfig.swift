/// ForecastConfig owns forecastd's configuration: the TOML file read into typed settings with
/// every error named by file, line and key (`Configuration`, `TableReader`), and a job resolved
/// once into the domain values the engine needs (`JobPlan`: its time grid, season and the
/// forecaster's settings with the defaults applied), plus the schedules (`Schedule`).
///
/// It must not know the database, the jobs that run or the daemon: the store, the jobs and the
/// daemon read these values; nothing downstream parses a string or applies a default again.
