#!/usr/bin/env bash
# The synthetic panel of issue 12: SERIES hourly series of POINTS points,
# 10·sin(2πh/24 + s) + (s mod 17) + U(0,1) for series s (generated in SQL, seeded), whose best
# possible median forecast has MAE 0.25 (the uniform noise's mean absolute deviation from its
# median). forecastd trains with a configuration that names only the required keys, at the
# origin POINTS − 24 (`--as-of`), so the last 24 hours are held out; the published medians are
# scored against them, beside seasonal naive's forecast from the same origin.
#
#   benchmarks/accuracy/synthetic_panel.sh [SERIES] [POINTS]      (default 200 2000)
#
# Environment: as run.sh (FORECASTD_BIN, FORECASTD_SCRATCH); SCOPE (series or global) to set
# `[jobs.model] scope` (unset: the default). Prints one markdown table row.
source "$(dirname "$0")/common.sh"
series="${1:-200}"
points="${2:-2000}"
acc_start_pg
acc_build
sql() { "$ACC_PSQL" "$ACC_DB_URL" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

t0="2026-01-01 00:00:00+00"
origin_hours=$((points - 24))
origin="$(python3 -c "import datetime as d; print((d.datetime(2026,1,1,tzinfo=d.timezone.utc)+d.timedelta(hours=$origin_hours)).strftime('%Y-%m-%dT%H:%M:%SZ'))")"
sql -c "SELECT setseed(0.12)" -c "
    CREATE TABLE panel (series text NOT NULL, ts timestamptz NOT NULL, value double precision);
    INSERT INTO panel
    SELECT 's' || lpad(s::text, 5, '0'), timestamptz '$t0' + h * interval '1 hour',
           10 * sin(2 * pi() * h / 24 + s) + (s % 17) + random()
    FROM generate_series(0, $series - 1) AS s, generate_series(0, $points - 1) AS h
    ORDER BY h, s;
    CREATE INDEX ON panel (ts);"
sql -c "VACUUM ANALYZE panel"

config="$ACC_TMP/forecastd.toml"
cat >"$config" <<TOML
[database]
url = "$ACC_DB_URL"

[[jobs]]
name = "panel"
frequency = "1h"
horizon = 24
[jobs.source]
table = "public.panel"
series_column = "series"
time_column = "ts"
value_column = "value"
TOML
if [ -n "${SCOPE:-}" ]; then printf '[jobs.model]\nscope = "%s"\n' "$SCOPE" >>"$config"; fi

"$FORECASTD_BIN" --config "$config" migrate >/dev/null
started=$(date +%s.%N)
"$FORECASTD_BIN" --config "$config" train panel --as-of "$origin" >"$ACC_TMP/train.log" 2>&1 || { tail -20 "$ACC_TMP/train.log"; exit 1; }
seconds=$(python3 -c "print(round($(date +%s.%N) - $started, 1))")
grep -o 'train timing.*' "$ACC_TMP/train.log" >&2 || true

# The published median of each target hour against the actual, and seasonal naive's error.
read -r mae naive published <<<"$(sql -F ' ' -c "
    WITH forecast AS (
        SELECT p.series, p.target_ts AS target_at, p.forecast_value AS median
        FROM forecastd.predictions p
        WHERE p.issued_at < timestamptz '$origin'
    ), scored AS (
        SELECT abs(f.median - a.value) AS error,
               abs(b.value - a.value) AS naive_error
        FROM forecast f
        JOIN panel a ON a.series = f.series AND a.ts = f.target_at
        JOIN panel b ON b.series = f.series AND b.ts = f.target_at - interval '24 hours'
    )
    SELECT round(avg(error)::numeric, 4), round(avg(naive_error)::numeric, 4),
           (SELECT string_agg(cell || ' ' || n, ', ' ORDER BY cell) FROM (
                SELECT cell, count(*) AS n FROM forecastd.models WHERE status = 'active' GROUP BY cell) c)
    FROM scored")"
commit="$(cd "$REPO" && git rev-parse --short HEAD)"
echo "| $series × $points | ${SCOPE:-default} | $mae | $naive | $published | $seconds | $commit | $(cut -d' ' -f1-3 /proc/loadavg) |"
