import Foundation
import PostgresClient
@testable import ForecastConfig
@testable import ForecastStore

/// Known models, forecasts, actuals, runs and training curves whose view rows are worked out
/// by hand in `AccuracyViewsTests` and which the dashboard's panels are run against.
///
/// Job "sensors": series a (model 2 active, model 1 retired) and b (model 3 active); job "other":
/// one global fallback model (4) and a failed backtest run. `base` is the origin T of the
/// forecasts, on the hour, a day before the clock.
struct AccuracyFixture {
    let base: Date

    init(now: Date = Date()) {
        base = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600 - 86_400)
    }

    /// T plus `hours`, as a timestamptz literal.
    func at(hours: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return "'\(formatter.string(from: base + hours * 3600))'::timestamptz"
    }

    func load(into schema: String, on db: PostgresConnection) async throws {
        func t(_ hours: Double) -> String { at(hours: hours) }
        try await db.executeScript("""
            BEGIN;
            SET LOCAL search_path TO \(quoteIdentifier(schema));
            INSERT INTO models (model_id, job, series, version, cell, status, reason, trained_at, train_seconds, epochs) OVERRIDING SYSTEM VALUE VALUES
                (1, 'sensors', 'a', 1, 'lstm', 'retired', NULL, \(t(-240)), 30, 2),
                (2, 'sensors', 'a', 2, 'lstm', 'active', NULL, \(t(-5)), 40, 3),
                (3, 'sensors', 'b', 1, 'gru', 'active', NULL, \(t(-2)), 50, 3),
                (4, 'other', NULL, 1, 'seasonal_naive', 'active', 'fallback: the series is too short', \(t(-1)), NULL, NULL);
            INSERT INTO model_metrics (model_id, split, metric, value) VALUES
                (1, 'backtest', 'skill', 0.9),
                (2, 'backtest', 'mae', 1.0), (2, 'backtest', 'rmse', 1.2), (2, 'backtest', 'mase', 0.8),
                (2, 'backtest', 'baseline_mae', 1.25), (2, 'backtest', 'baseline_mase', 1.0),
                (2, 'backtest', 'skill', 0.2), (2, 'backtest', 'coverage', 0.75),
                (2, 'validation', 'mae', 99),
                (3, 'backtest', 'mae', 2.0), (3, 'backtest', 'mase', 0.5), (3, 'backtest', 'baseline_mase', 1.0),
                (3, 'backtest', 'skill', 0.5);
            INSERT INTO predictions (job, series, model_id, issued_at, target_ts, step, forecast_value, lower_bound, upper_bound, confidence_level) VALUES
                ('sensors', 'a', 2, \(t(0)), \(t(1)), 1, 10, 9, 11, 0.8),
                ('sensors', 'a', 2, \(t(0)), \(t(2)), 2, 11, 10, 12, 0.8),
                ('sensors', 'a', 2, \(t(0)), \(t(3)), 3, 12, 11, 13, 0.8),
                ('sensors', 'a', 1, \(t(-1)), \(t(1)), 2, 8, 7, 9, 0.8),
                ('sensors', 'b', 3, \(t(0)), \(t(1)), 1, 20, NULL, NULL, NULL);
            INSERT INTO actuals (job, series, ts, value) VALUES
                ('sensors', 'a', \(t(0)), 9.9),
                ('sensors', 'a', \(t(1)), 10.5),
                ('sensors', 'a', \(t(2)), 13),
                ('sensors', 'b', \(t(1)), 19);
            INSERT INTO runs (job, kind, status, started_at, finished_at, series_total, series_failed, error) VALUES
                ('sensors', 'train', 'succeeded', \(t(-2)), \(t(-2)) + interval '90 seconds', 2, 0, NULL),
                ('sensors', 'predict', 'succeeded', \(t(-1)), \(t(-1)) + interval '10 seconds', 2, 0, NULL),
                ('sensors', 'predict', 'partial', \(t(0)), \(t(0)) + interval '20 seconds', 2, 1, 'series "b": boom'),
                ('other', 'backtest', 'failed', \(t(-0.5)), \(t(-0.5)) + interval '60 seconds', 1, 1, 'series "other": too short');
            INSERT INTO job_schedule (job, next_train_at, next_predict_at) VALUES ('sensors', \(t(22)), \(t(1)));
            INSERT INTO training_history (model_id, epoch, train_loss, validation_loss, grad_norm, learning_rate, seconds) VALUES
                (1, 1, 2.0, 2.1, 1, 0.003, 1), (1, 2, 1.5, 1.6, 1, 0.003, 1),
                (2, 1, 0.9, 1.0, 1, 0.003, 1), (2, 2, 0.5, 0.6, 1, 0.003, 1), (2, 3, 0.3, 0.4, 1, 0.003, 1),
                (3, 1, 0.7, 0.8, 1, 0.003, 1);
            COMMIT;
            """)
    }
}

extension PostgresRow {
    /// The first `count` cells as short text for whole-row comparisons: numbers as Doubles
    /// ("2.0"), NULL as "-".
    func cellTexts(_ count: Int) throws -> [String] {
        try (0..<count).map { i in
            switch try decode(i, as: PostgresValue.self) {
            case .null: return "-"
            case .int(let v): return String(Double(v))
            case .double(let v): return String(v)
            case .bool(let v): return String(v)
            case .text(let v), .json(let v): return v
            case .timestamp(let v): return String(v.timeIntervalSince1970)
            case .bytea(let v): return "\(v.count) bytes"
            }
        }
    }
}
