#!/usr/bin/env bash
# A year of forecast history: how the documented queries read it, each with its plan.
#
#   benchmarks/history_year.sh [SERIES] [DAYS] [ORIGINS_PER_DAY]      (default 1000 365 1)
#
# Starts a throwaway PostgreSQL, applies migrations/ to schema "forecastd" (partitioned, with
# latest_origins) and migrations 0001-0005 to schema "before" (the previous release), loads the
# same history into both: SERIES hourly series, per-series models (a version a month, the last
# active), ORIGINS_PER_DAY 24-step forecasts per series and day for DAYS days, hourly actuals.
# Then runs every query the views, the dashboard and the writer send to predictions/actuals
# with EXPLAIN (ANALYZE, BUFFERS), best of three, and prints a markdown table; the plans go to
# $PLANS (default /tmp/forecastd-history-plans.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pg.sh
series="${1:-1000}" days="${2:-365}" per_day="${3:-1}"
plans="${PLANS:-/tmp/forecastd-history-plans.txt}"

tmp="$(mktemp -d /tmp/forecastd-history.XXXXXX)"
chmod 755 "$tmp"
cleanup() { pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
pg_start "$tmp/pg"
psql_bench() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"; }

for schema in forecastd before; do
    psql_bench -c "CREATE SCHEMA $schema"
    for file in migrations/[0-9]*.sql; do
        number=$((10#$(basename "$file" | cut -c1-4)))
        [ "$schema" = before ] && [ "$number" -gt 5 ] && continue
        { echo "SET client_min_messages TO warning; SET search_path TO $schema;"; cat "$file"; } | psql_bench >/dev/null
    done
done

# The daily partitions forecastd would have created (HistoryStore's names and bounds).
psql_bench <<SQL
DO \$\$
DECLARE d date;
BEGIN
    FOR d IN SELECT generate_series(date '2025-01-01' - 1, date '2025-01-01' + $days + 1, interval '1 day')::date LOOP
        EXECUTE format('CREATE TABLE forecastd.%I PARTITION OF forecastd.predictions FOR VALUES FROM (%L) TO (%L)',
                       'predictions_p' || to_char(d, 'YYYYMMDD'), d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
        EXECUTE format('CREATE TABLE forecastd.%I PARTITION OF forecastd.actuals FOR VALUES FROM (%L) TO (%L)',
                       'actuals_p' || to_char(d, 'YYYYMMDD'), d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
    END LOOP;
END \$\$;
SQL

echo "==> loading $series series x $days days ($per_day origins a day, 24 steps; hourly actuals)" >&2
start=$(date +%s)
psql_bench <<SQL
SET TIME ZONE 'UTC';
INSERT INTO forecastd.models (job, series, version, cell, status, trained_at, weights)
SELECT 'bench', 's' || s, v, 'lstm', CASE WHEN v = 12 THEN 'active' ELSE 'retired' END,
       timestamptz '2025-01-01' + make_interval(months => v - 1), '\\x00'
FROM generate_series(1, $series) s, generate_series(1, 12) v;
INSERT INTO forecastd.model_metrics (model_id, split, metric, value)
SELECT model_id, 'backtest', metric, random() FROM forecastd.models,
       unnest(ARRAY['mae', 'rmse', 'mase', 'coverage', 'baseline_mae', 'baseline_mase', 'skill']) metric;
INSERT INTO forecastd.predictions (job, series, model_id, issued_at, target_ts, step, forecast_value, lower_bound, upper_bound, confidence_level)
SELECT 'bench', m.series, m.model_id, o.origin, o.origin + make_interval(hours => h), h, 10 + h, 9, 11 + h, 0.8
FROM forecastd.models m
CROSS JOIN LATERAL (
    SELECT timestamptz '2025-01-01' + make_interval(hours => k * (24 / $per_day)) AS origin
    FROM generate_series(0, $days * $per_day - 1) k
) o
CROSS JOIN generate_series(1, 24) h
WHERE o.origin >= m.trained_at AND o.origin < m.trained_at + interval '1 month'
ORDER BY o.origin, m.series, h;
INSERT INTO forecastd.actuals (job, series, ts, value)
SELECT 'bench', 's' || s, timestamptz '2025-01-01' + make_interval(hours => k), 10 + random() * 2 - 1
FROM generate_series(0, $days * 24) k, generate_series(1, $series) s;
INSERT INTO forecastd.runs (job, kind, status, started_at, finished_at, series_total)
SELECT 'bench', 'predict', 'succeeded', timestamptz '2025-01-01' + make_interval(hours => k), timestamptz '2025-01-01' + make_interval(hours => k, secs => 30), $series
FROM generate_series(0, $days * 24 - 1) k;
INSERT INTO forecastd.job_schedule (job) VALUES ('bench');
INSERT INTO before.models OVERRIDING SYSTEM VALUE SELECT * FROM forecastd.models ORDER BY model_id;
INSERT INTO before.model_metrics SELECT * FROM forecastd.model_metrics;
INSERT INTO before.predictions SELECT * FROM forecastd.predictions;
INSERT INTO before.actuals SELECT * FROM forecastd.actuals;
VACUUM ANALYZE;
SQL
load_seconds=$(( $(date +%s) - start ))
rows=$(psql_bench -At -c "SELECT count(*) FROM forecastd.predictions")
partitions=$(psql_bench -At -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'forecastd.predictions'::regclass")
size_new=$(psql_bench -At -c "SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('forecastd.predictions')")
size_old=$(psql_bench -At -c "SELECT pg_size_pretty(pg_total_relation_size('before.predictions'))")
echo "loaded in ${load_seconds}s: $rows predictions in $partitions partitions ($size_new; $size_old unpartitioned with the old indexes)" >&2

# The newest origin, as a literal: the writer binds its bounds as parameters, which prunes at plan time.
last="'$(psql_bench -At -c "SELECT max(issued_at) FROM forecastd.latest_origins")'::timestamptz"
queries=(
    "latest_forecasts, one job (new)|SELECT * FROM forecastd.latest_forecasts WHERE job = 'bench'"
    "latest_forecasts, one job (before: 0001's view)|SELECT * FROM before.latest_forecasts WHERE job = 'bench'"
    "latest_forecasts, one series (new)|SELECT * FROM forecastd.latest_forecasts WHERE job = 'bench' AND series = 's7'"
    "latest_forecasts, one series (before)|SELECT * FROM before.latest_forecasts WHERE job = 'bench' AND series = 's7'"
    "replace one batch's origins (PredictionWriter's DELETE, 1000 origins)|DELETE FROM forecastd.predictions p USING (SELECT 'bench'::text AS job, 's' || n AS series FROM generate_series(1, 1000) n) o WHERE p.issued_at >= $last AND p.issued_at <= $last AND p.job = o.job AND p.series = o.series AND p.issued_at = $last"
    "panel: forecast 6 steps ahead, one series, 7 days|SELECT target_ts, forecast_value FROM forecastd.predictions WHERE job = 'bench' AND series = 's7' AND step = 6 AND target_ts >= $last - interval '7 days' AND target_ts < $last ORDER BY 1"
    "panel: realized MAE by step, one series, 7 days|SELECT step, avg(abs_error), count(*) FROM forecastd.forecast_accuracy WHERE job = 'bench' AND series = 's7' AND target_ts >= $last - interval '7 days' AND target_ts < $last GROUP BY step ORDER BY step"
    "panel: actuals, one series, 7 days|SELECT ts, value FROM forecastd.actuals WHERE job = 'bench' AND series = 's7' AND ts >= $last - interval '7 days' AND ts < $last ORDER BY 1"
    "model_leaderboard, one series (realized over its model's month)|SELECT * FROM forecastd.model_leaderboard WHERE job = 'bench' AND series = 's7'"
    "ActualsWriter: bounds of 1000 series (latest_origins)|SELECT series, oldest_target_ts, last_actual_ts FROM forecastd.latest_origins WHERE job = 'bench' AND series IN (SELECT 's' || n FROM generate_series(1, 1000) n)"
)

: >"$plans"
{
    echo "Command: \`benchmarks/history_year.sh $series $days $per_day\`, commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ); load average $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Data: $rows predictions in $partitions daily partitions ($size_new with their primary keys, the only index; the same rows take $size_old in the previous schema with its three indexes), loaded in ${load_seconds}s."
    echo
    echo "| query | ms (best of 3) | buffers | partitions in the plan |"
    echo "| --- | ---: | ---: | --- |"
} >"$tmp/table.md"
for entry in "${queries[@]}"; do
    name="${entry%%|*}" sql="${entry#*|}"
    best="" buffers="" scanned=""
    runs=3; [[ "$name" == *"(before"* ]] && runs=1   # the old view takes long: once
    for _ in $(seq "$runs"); do
        plan="$(psql_bench -At -c "BEGIN" -c "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) $sql" -c "ROLLBACK")"
        ms=$(echo "$plan" | awk '/Execution Time/ {print $3}')
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $ms < $best else 1)"; then
            best=$ms
            buffers=$(echo "$plan" | awk '/Buffers: shared/ && !done { for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) s += kv[2]; done = 1 } END { print s + 0 }')
            scanned=$(echo "$plan" | { grep -oE "on (predictions|actuals)_(p[0-9]+|default|legacy)" || true; } | sort -u | wc -l)
            never=$(echo "$plan" | { grep -E "on (predictions|actuals)_(p[0-9]+|default)" || true; } | { grep -c "never executed" || true; })
            kept="$plan"
        fi
    done
    { echo "### $name"; echo "$sql"; echo "$kept"; echo; } >>"$plans"
    echo "| $name | $best | ${buffers:-0} | $scanned in the plan, $never never executed |" >>"$tmp/table.md"
done
cat "$tmp/table.md"
echo >&2
echo "plans: $plans" >&2
