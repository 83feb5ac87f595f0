#!/usr/bin/env bash
# Issue 17: forecasts after a warm-up (no saved state: the network reads its last steps from the
# zero state, `WarmUp`) beside forecasts reading on from the saved states (a full read's bits),
# on real and synthetic data, each in a throwaway PostgreSQL. See compare.py for what is measured.
#
#   benchmarks/warmup/compare.sh [weather|elecdemand|scale]...   (default: all three)
#
# weather: the three NYC stations, hourly temperature, horizon 24, trained to 2013-12-17, 14 daily
# origins. elecdemand: Victoria's half-hourly demand, horizon 48, trained to 2014-12-17, 14 daily
# origins. scale: benchmarks/scale's table of SERIES × POINTS hourly series (default 2000 × 2000),
# global LSTM hidden HIDDEN (64), EPOCHS (1), trained 3 days before its end, 3 daily origins.
# The networks are forced (fallback "none", no statistical challengers): the warm-up concerns them.
# Environment: FORECASTD_BIN (else a release build in .build-rel), DATASETS (../shared/datasets),
# OUT (a folder for the JSON results).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
source scripts/lib/pg.sh
datasets="${DATASETS:-$REPO/../shared/datasets}"
[ -d "$datasets" ] || datasets="/work/shared/datasets"
sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(weather elecdemand scale)
out="${OUT:-}"
[ -z "$out" ] || mkdir -p "$out"

if [ -z "${FORECASTD_BIN:-}" ]; then
    swift build -c release --scratch-path .build-rel --product forecastd >/dev/null
    FORECASTD_BIN="$REPO/.build-rel/release/forecastd"
fi
export FORECASTD_MIGRATIONS="$REPO/migrations"

tmp="$(mktemp -d /tmp/forecastd-warmup.XXXXXX)"
chmod 755 "$tmp"
cleanup() { pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
pg_start "$tmp/pg"
export PSQL="$PG_BIN/psql -X -q -v ON_ERROR_STOP=1 -h $PG_SOCKET -p $PG_PORT -U $PG_USER -d warmup"

for set in "${sets[@]}"; do
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS warmup" -c "CREATE DATABASE warmup"
    sql() { pg_psql -d warmup -At "$@"; }
    case "$set" in
    weather)
        sql -f benchmarks/sql/weather.sql -c "\\copy weather FROM '$datasets/weather_nyc_2013.csv' WITH (FORMAT csv, HEADER true)"
        job='name = "weather"
frequency = "1h"
horizon = 24
[jobs.source]
table = "public.weather"
series_column = "station"
time_column = "ts"
value_column = "temp"'
        source="SELECT station AS series, ts, temp AS value FROM weather"
        args=(--t0 2013-12-17T00:00:00Z --step-hours 1 --season 24 --origins 14) ;;
    elecdemand)
        sql -f benchmarks/sql/elecdemand.sql -c "\\copy elecdemand FROM '$datasets/elecdemand_vic_2014.csv' WITH (FORMAT csv, HEADER true)"
        job='name = "elecdemand"
frequency = "30m"
horizon = 48
[jobs.source]
table = "public.elecdemand"
time_column = "ts"
value_column = "demand_gw"'
        source="SELECT 'elecdemand'::text AS series, ts, demand_gw AS value FROM elecdemand"
        args=(--t0 2014-12-17T00:00:00Z --step-hours 0.5 --season 48 --origins 14) ;;
    scale)
        series="${SERIES:-2000}" points="${POINTS:-2000}"
        source benchmarks/scale/table.sh
        scale_table "$series" "$points"
        job="name = \"scale\"
frequency = \"1h\"
horizon = 24
backtest_windows = 1
[jobs.source]
table = \"public.readings\"
series_column = \"series\"
time_column = \"ts\"
value_column = \"value\"
[jobs.model]
scope = \"global\"
hidden_size = ${HIDDEN:-64}
batch_size = 256
epochs = ${EPOCHS:-1}"
        source="SELECT series, ts, value FROM readings"
        t0=$(hour_at $((points - 72)))
        args=(--t0 "$t0" --step-hours 1 --season 24 --origins 3) ;;
    *) echo "unknown set $set" >&2; exit 2 ;;
    esac
    # The job's settings go before its [jobs.source]; the network is forced.
    cat >"$tmp/forecastd.toml" <<TOML
[database]
url = "$(pg_url warmup)"
schema = "forecastd"

[daemon]
metrics_listen = ""
log_level = "info"

[[jobs]]
fallback = "none"
statistical_challengers = false
$job
TOML
    "$FORECASTD_BIN" --config "$tmp/forecastd.toml" migrate >/dev/null 2>&1
    echo "==> $set (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    python3 benchmarks/warmup/compare.py --forecastd "$FORECASTD_BIN" --config "$tmp/forecastd.toml" --job "$set" --source "$source" \
        "${args[@]}" ${out:+--json "$out/$set.json"}
done
