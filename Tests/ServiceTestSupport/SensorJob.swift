@testable import ForecastConfig
import Forecasting
import Foundation

extension JobSettings {
    /// The job most service tests run: hourly `reading`s of each `sensor` in `table` (a `ts`
    /// column), a 6-hour horizon, 30 days of training window, two backtest windows, and a small
    /// network (hidden 8, a day of context) trained for `epochs`. Each test sets what it is about
    /// on top (fallback, challengers, scope, drift, covariates).
    public static func sensors(table: String, horizon: Int = 6, epochs: Int = 3, pastCovariates: [String] = []) -> JobSettings {
        var job = JobSettings(name: "sensors", frequency: try! Frequency(parsing: "1h"), horizon: horizon,
                              source: SourceSettings(origin: .table(table), seriesColumn: "sensor", timeColumn: "ts", valueColumn: "reading",
                                                     pastCovariates: pastCovariates))
        job.trainWindow = 30 * 86_400
        job.backtestWindows = 2
        job.model.hiddenSize = 8
        job.model.epochs = epochs
        job.model.context = 24
        return job
    }
}

/// Readings of two sensors, `a` and `b`, hour by hour: a strong daily cycle on opposite steady
/// trends, with seeded noise. The small network of `JobSettings.sensors` learns what seasonal
/// naive misses (a day's trend) and beats it, naive and their combination in both scopes, so
/// the guards publish it alone and it saves series states (deterministic: seeded data, seeded
/// training).
public func trendingReadings(hours: Int) -> [(a: Double, b: Double)] {
    var noise = SeededNoise(seed: 777)
    return (0..<hours).map { hour in
        let daily = sin(2 * Double.pi * Double(hour) / 24), trend = Double(hour)
        let a = 10 + 0.05 * trend + 3 * daily + 0.3 * noise.next()
        return (a, 100 - 0.04 * trend - 3 * daily + 0.3 * noise.next())
    }
}
