#!/usr/bin/env bash
# Golden outputs, to show that a change keeps every bit (a refactor, a faster kernel):
#
#   benchmarks/golden/run.sh FORECASTD_BINARY OUTPUT_FILE
#
# Loads the shared data sets into a throwaway PostgreSQL, runs train / predict / backtest /
# run --once with --as-of for jobs that cover the cells, per-series and global scope, the
# profile and seasonal bases, past and future-known covariates and the recurrent decoder, and
# dumps models, metrics, training history, predictions, states, runs and backtests as text
# (durations left out). Two builds that behave the same write identical files: run it with the
# binary before and after a change and `cmp` the two. Not part of CI; about a minute.
set -euo pipefail
bin="$(readlink -f "$1")"; out="$(readlink -f -m "$2")"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
data="${DATASETS:-$repo/../shared/datasets}"
source "$repo/scripts/lib/pg.sh"
tmp="$(mktemp -d /tmp/golden.XXXXXX)"; chmod 755 "$tmp"
cleanup() { pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT
pg_start "$tmp/pg" >/dev/null
pg_psql -d postgres -qc "CREATE DATABASE golden"
url="$(pg_url golden)"
cp "$data"/weather_nyc_2013.csv "$data"/monthly_seven.csv "$data"/airpassengers.csv "$data"/sp500_daily_1950_2015.csv "$tmp/"
chmod 644 "$tmp"/*.csv
pg_psql -d golden -q <<SQL
SET client_min_messages TO warning;
\i $repo/benchmarks/sql/weather.sql
\copy weather FROM '$tmp/weather_nyc_2013.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE monthly (series text, month timestamptz, value float8);
\copy monthly FROM '$tmp/monthly_seven.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE air (month timestamptz, passengers float8);
\copy air FROM '$tmp/airpassengers.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE sp (date timestamptz, open float8, high float8, low float8, close float8, volume float8);
\copy sp FROM '$tmp/sp500_daily_1950_2015.csv' WITH (FORMAT csv, HEADER true)
SQL
# weather_job NAME HORIZON VALUE_COLUMN [LINES...]: an hourly job over the three stations; the
# extra lines follow its [jobs.source] (covariates, then a [jobs.model] table).
weather_job() {
    local name=$1 horizon=$2 value=$3; shift 3
    printf '\n[[jobs]]\nname = "%s"\nfrequency = "1h"\nhorizon = %s\n[jobs.source]\ntable = "public.weather"\n' "$name" "$horizon"
    printf 'series_column = "station"\ntime_column = "ts"\nvalue_column = "%s"\n' "$value"
    [ $# -gt 0 ] && printf '%s\n' "$@"
    return 0
}
{
cat <<TOML
[database]
url = "$url"
TOML
weather_job weather 24 temp
weather_job weather_cov 24 temp 'past_covariates = ["humid"]' 'future_covariates = ["dewp"]'
weather_job weather_rec 12 temp 'future_covariates = ["dewp"]' '[jobs.model]' 'decoder = "recurrent"' 'scope = "global"' 'epochs = 2'
weather_job weather_global 12 dewp '[jobs.model]' 'scope = "global"' 'epochs = 3' 'hidden_size = 16'
cat <<'TOML'

[[jobs]]
name = "monthly"
frequency = "1mo"
horizon = 12
[jobs.source]
table = "public.monthly"
series_column = "series"
time_column = "month"
value_column = "value"
[jobs.model]
scope = "global"

[[jobs]]
name = "air"
frequency = "1mo"
horizon = 12
[jobs.source]
table = "public.air"
time_column = "month"
value_column = "passengers"
[jobs.model]
cell = "gru"
quantiles = [0.05, 0.5, 0.95]

[[jobs]]
name = "sp"
frequency = "1b"
horizon = 5
[jobs.source]
query = "SELECT date AS ts, close AS value FROM public.sp WHERE date >= $1 AND date < $2"
time_column = "ts"
value_column = "value"
[jobs.model]
cell = "rnn"
epochs = 4
TOML
} >"$tmp/forecastd.toml"
export FORECASTD_CONFIG="$tmp/forecastd.toml"
export FORECASTD_MIGRATIONS="$repo/migrations"
# A command's output with its durations left out.
cli() { "$bin" "$@" 2>/dev/null | sed -E 's/[0-9]+\.[0-9]+ ?s\b/<s>/g'; }
{
"$bin" migrate >/dev/null
"$bin" check-config 2>&1 | grep -v "next " || true
cli train weather --as-of 2013-04-01T00:00:00Z
cli predict weather --as-of 2013-04-01T05:00:00Z
cli predict weather --as-of 2013-04-02T00:00:00Z
cli train weather_cov --as-of 2013-04-01T00:00:00Z
cli predict weather_cov --as-of 2013-04-01T03:00:00Z
cli train weather_rec --as-of 2013-04-01T00:00:00Z
cli train weather_global --as-of 2013-03-01T00:00:00Z
cli predict weather_global --as-of 2013-03-01T07:00:00Z
cli train monthly --as-of 2005-01-01T00:00:00Z
cli predict monthly --as-of 2005-03-01T00:00:00Z
cli train air --as-of 1959-01-01T00:00:00Z
cli backtest air --as-of 1960-01-01T00:00:00Z
cli train sp --as-of 1958-01-01T00:00:00Z
cli run --once --as-of 1958-01-10T00:00:00Z
} >"$tmp/cli.txt" 2>&1 || true
{
echo "== cli"; sed -E "s#/tmp/golden[^ ,)]*#<tmp>#g; s#port=[0-9]+#port=N#" "$tmp/cli.txt"
pg_psql -d golden -AtF' | ' <<'SQL'
\echo == models
SELECT job, coalesce(series,'*'), version, cell, status, coalesce(reason,''), hyperparameters::text, data_start, data_end, epochs, length(weights) FROM forecastd.models ORDER BY job, series, version, status;
\echo == metrics
SELECT m.job, coalesce(m.series,'*'), m.version, x.split, x.metric, x.value FROM forecastd.model_metrics x JOIN forecastd.models m USING (model_id) ORDER BY 1,2,3,4,5;
\echo == history
SELECT m.job, coalesce(m.series,'*'), m.version, h.epoch, h.train_loss, h.validation_loss, h.grad_norm, h.learning_rate FROM forecastd.training_history h JOIN forecastd.models m USING (model_id) ORDER BY 1,2,3,4;
\echo == predictions
SELECT p.job, p.series, m.version, p.issued_at, p.target_ts, p.step, p.forecast_value, p.lower_bound, p.upper_bound, p.confidence_level FROM forecastd.predictions p JOIN forecastd.models m USING (model_id) ORDER BY 1,2,4,5;
\echo == states
SELECT m.job, s.series, m.version, s.last_step, length(s.state) FROM forecastd.series_state s JOIN forecastd.models m USING (model_id) ORDER BY 1,2,3;
\echo == runs
SELECT job, kind, status, series_total, series_failed, points_read, rows_written, coalesce(error,'') FROM forecastd.runs ORDER BY run_id;
\echo == backtest
SELECT job, series, metric, value, windows FROM forecastd.backtest_results ORDER BY 1,2,3;
\echo == actuals
SELECT job, series, count(*), min(ts), max(ts), sum(value) FROM forecastd.actuals GROUP BY 1,2 ORDER BY 1,2;
SQL
} >"$out"
echo "golden: wrote $out ($(wc -l <"$out") lines)"
