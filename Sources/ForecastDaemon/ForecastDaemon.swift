/// ForecastDaemon owns the runtime of `forecastd run`: the scheduler, worker, listener, probe
/// and watchdog loops (`Daemon`), systemd's notify protocol, log line formats, the Prometheus
/// text and counters, and the `/metrics`, `/-/healthy` and `/-/ready` endpoints served by
/// HTTPServing.
///
/// Only the executable imports it. The jobs it runs and the tables it touches belong to
/// ForecastJobs and ForecastStore.
