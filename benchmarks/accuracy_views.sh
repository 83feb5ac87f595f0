#!/usr/bin/env bash
# How fast the accuracy views answer the dashboard's questions on a month of forecasts: starts a
# throwaway PostgreSQL, applies migrations/, loads SERIES hourly series with a forecast of 24
# steps every hour for DAYS days (one model version per series and day, the last one active),
# their actuals and runs, then times the queries a dashboard or a person runs (EXPLAIN ANALYZE,
# best of three). Usage: benchmarks/accuracy_views.sh [SERIES] [DAYS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pg.sh
series="${1:-100}" days="${2:-30}"

tmp="$(mktemp -d /tmp/forecastd-views-bench.XXXXXX)"
chmod 755 "$tmp"
cleanup() { pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
pg_start "$tmp/pg"
psql_bench() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"; }

psql_bench -c "CREATE SCHEMA forecastd"
for file in migrations/[0-9]*.sql; do
    { echo "SET search_path TO forecastd;"; cat "$file"; } | psql_bench
done

# The daily partitions of predictions and actuals that forecastd creates ahead (migration 0007).
psql_bench <<SQL
DO \$\$
DECLARE d date;
BEGIN
    FOR d IN SELECT generate_series(date '2026-01-01' - 1, date '2026-01-01' + $days + 2, interval '1 day')::date LOOP
        EXECUTE format('CREATE TABLE forecastd.%I PARTITION OF forecastd.predictions FOR VALUES FROM (%L) TO (%L)',
                       'predictions_p' || to_char(d, 'YYYYMMDD'), d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
        EXECUTE format('CREATE TABLE forecastd.%I PARTITION OF forecastd.actuals FOR VALUES FROM (%L) TO (%L)',
                       'actuals_p' || to_char(d, 'YYYYMMDD'), d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
    END LOOP;
END \$\$;
SQL

echo "==> loading $series series x $days days (hourly, 24-step forecasts every hour)"
start=$(date +%s)
psql_bench <<SQL
SET search_path TO forecastd;
INSERT INTO models (job, series, version, cell, status, trained_at)
SELECT 'bench', 's' || s, d + 1, 'lstm', CASE WHEN d = $days - 1 THEN 'active' ELSE 'retired' END,
       timestamptz '2026-01-01' + make_interval(days => d)
FROM generate_series(1, $series) s, generate_series(0, $days - 1) d;
INSERT INTO model_metrics (model_id, split, metric, value)
SELECT model_id, 'backtest', metric, random() FROM models,
       unnest(ARRAY['mae', 'rmse', 'mase', 'coverage', 'baseline_mae', 'baseline_mase', 'skill']) metric;
INSERT INTO predictions (job, series, model_id, issued_at, target_ts, step, forecast_value, lower_bound, upper_bound, confidence_level)
SELECT 'bench', m.series, m.model_id, o.origin, o.origin + make_interval(hours => h), h, 10, 9, 11, 0.8
FROM models m
CROSS JOIN LATERAL (SELECT m.trained_at + make_interval(hours => k) AS origin FROM generate_series(0, 23) k) o
CROSS JOIN generate_series(1, 24) h;
INSERT INTO actuals (job, series, ts, value)
SELECT 'bench', 's' || s, timestamptz '2026-01-01' + make_interval(hours => k), 10 + random() * 2 - 1
FROM generate_series(1, $series) s, generate_series(1, $days * 24) k;
INSERT INTO runs (job, kind, status, started_at, finished_at, series_total)
SELECT 'bench', CASE WHEN k % 24 = 0 THEN 'train' ELSE 'predict' END, 'succeeded',
       timestamptz '2026-01-01' + make_interval(hours => k), timestamptz '2026-01-01' + make_interval(hours => k, secs => 30), $series
FROM generate_series(0, $days * 24 - 1) k;
INSERT INTO job_schedule (job, next_train_at, next_predict_at) VALUES ('bench', now(), now());
VACUUM ANALYZE;
SQL
echo "loaded in $(( $(date +%s) - start )) s: $(psql_bench -At -c "SELECT count(*) FROM forecastd.predictions") predictions, $(psql_bench -At -c "SELECT count(*) FROM forecastd.actuals") actuals"

time_query() {
    local label="$1" sql="$2" best=""
    for _ in 1 2 3; do
        ms=$(psql_bench -At -c "SET search_path TO forecastd; EXPLAIN (ANALYZE, FORMAT JSON) $sql" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')
        best=$(python3 -c "print(min(float('$ms'), float('${best:-1e18}')))")
    done
    printf '%-60s %10.1f ms\n' "$label" "$best"
}

last="timestamptz '2026-01-01' + interval '$days days'"
time_query "forecast_accuracy: MAE by step, one series, last 7 days" \
    "SELECT step, avg(abs_error), avg(inside_interval::int) FROM forecast_accuracy WHERE job = 'bench' AND series = 's1' AND target_ts > $last - interval '7 days' GROUP BY step"
time_query "forecast_accuracy: MAE per series, whole job, last 7 days" \
    "SELECT series, avg(abs_error) FROM forecast_accuracy WHERE job = 'bench' AND target_ts > $last - interval '7 days' GROUP BY series"
time_query "job_health: one job" "SELECT * FROM job_health WHERE job = 'bench'"
time_query "model_leaderboard: one job" "SELECT * FROM model_leaderboard WHERE job = 'bench'"
