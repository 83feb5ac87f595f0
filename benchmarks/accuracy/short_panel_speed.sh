#!/usr/bin/env bash
# Issue 12, item 6: a job of many short series with the defaults (only the required keys) must
# still train in minutes. SERIES monthly series of POINTS months (default 10000 × 120) with a
# trend and a seasonal swing, generated in SQL (seeded), in a throwaway PostgreSQL: one
# `forecastd train` (scope "auto" chooses one global model; the statistical challengers contend,
# the series being short), its timing line and what it published, then one `predict` with no new
# rows and one after a new month for every series (the cycle a monthly job meets once a month).
#
#   benchmarks/accuracy/short_panel_speed.sh [SERIES] [POINTS]
#
# Environment: as run.sh (FORECASTD_BIN, FORECASTD_SCRATCH).
source "$(dirname "$0")/common.sh"
series="${1:-10000}"
points="${2:-120}"
acc_start_pg
acc_build
sql() { "$ACC_PSQL" "$ACC_DB_URL" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
sql -c "SELECT setseed(0.3)" -c "
    CREATE TABLE panel (series text NOT NULL, month date NOT NULL, value double precision);
    INSERT INTO panel
    SELECT 's' || lpad(s::text, 5, '0'), date '2010-01-01' + (m || ' months')::interval,
           (100 + s % 50 + 0.5 * m) * (1 + 0.2 * sin(2 * pi() * m / 12 + s)) + 5 * random()
    FROM generate_series(0, $series - 1) AS s, generate_series(0, $points - 1) AS m;"
cat >"$ACC_TMP/forecastd.toml" <<TOML
[database]
url = "$ACC_DB_URL"

[[jobs]]
name = "panel"
frequency = "1mo"
horizon = 12
[jobs.source]
table = "public.panel"
series_column = "series"
time_column = "month"
value_column = "value"
TOML
"$FORECASTD_BIN" --config "$ACC_TMP/forecastd.toml" migrate >/dev/null
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "train: %e s wall, peak RSS %M KB" "$FORECASTD_BIN" --config "$ACC_TMP/forecastd.toml" train panel >"$ACC_TMP/train.log" 2>&1
tail -1 "$ACC_TMP/train.log"
grep -o 'scope chosen.*\|train timing.*' "$ACC_TMP/train.log"
sql -F ' | ' -c "SELECT cell, status, reason FROM forecastd.models"
/usr/bin/time -f "predict, no new rows: %e s wall" "$FORECASTD_BIN" --config "$ACC_TMP/forecastd.toml" predict panel >"$ACC_TMP/predict.log" 2>&1
tail -1 "$ACC_TMP/predict.log"
grep -o 'predict timing.*' "$ACC_TMP/predict.log"
# One more month for every series: its value a season back.
sql -c "INSERT INTO panel SELECT series, max(month) + interval '1 month', (array_agg(value ORDER BY month DESC))[12] FROM panel GROUP BY series"
/usr/bin/time -f "predict, a new month for every series: %e s wall" "$FORECASTD_BIN" --config "$ACC_TMP/forecastd.toml" predict panel >"$ACC_TMP/predict2.log" 2>&1
tail -1 "$ACC_TMP/predict2.log"
grep -o 'predict timing.*' "$ACC_TMP/predict2.log"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
