/// ForecastService owns the service around the math: configuration, migrations,
/// storage of models and forecasts, jobs, scheduling and the daemon's lifecycle.
import PostgresClient
import Forecasting
