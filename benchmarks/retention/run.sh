#!/usr/bin/env bash
# Retention: DAYS simulated days of hourly predict cycles for SERIES hourly series with
# `[daemon] retention = RETENTION`, on a throwaway PostgreSQL: do forecastd's tables level off,
# does the cycle stay as fast, and how fast is latest_forecasts for the job?
#
#   benchmarks/retention/run.sh [SERIES] [DAYS]        (default 1000 60; RETENTION=14d)
#
# A global LSTM (hidden 16, EPOCHS=1) is trained on HISTORY hours (default 504) of synthetic data
# (the scale benchmark's generator), then every simulated hour appends one new point per series
# and runs `forecastd predict JOB --as-of <that hour + 1h>` (a new process each time, as cron or
# the daemon's unit would); after each simulated day `forecastd maintain --as-of <midnight>`
# does what the daemon does every hour. Retention counts back from --as-of. Each day records the
# median and slowest cycle, the size of every forecastd table (partitions summed) and
# latest_forecasts for the job (EXPLAIN ANALYZE, best of three). Writes a CSV of
# every day to $OUT_DIR (default /tmp/forecastd-retention) and prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
source scripts/lib/pg.sh

series="${1:-1000}"
days="${2:-60}"
retention="${RETENTION:-14d}"
history="${HISTORY:-504}"
epochs="${EPOCHS:-1}"
out_dir="${OUT_DIR:-/tmp/forecastd-retention}"
scratch="${FORECASTD_SCRATCH:-.build-scale-rel}"
mkdir -p "$out_dir"

tmp="$(mktemp -d /tmp/forecastd-retention.XXXXXX)"
chmod 755 "$tmp"
cleanup() { pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

if [ -z "${FORECASTD_BIN:-}" ]; then
    echo "==> building forecastd (release, scratch $scratch)" >&2
    swift build -c release --scratch-path "$scratch" --product forecastd >"$tmp/build.log" 2>&1 \
        || { grep -E "error:" "$tmp/build.log" >&2 || tail -20 "$tmp/build.log" >&2; exit 1; }
    FORECASTD_BIN="$REPO/$scratch/release/forecastd"
fi
cp "$FORECASTD_BIN" "$tmp/forecastd"
forecastd="$tmp/forecastd"
export FORECASTD_MIGRATIONS="$REPO/migrations"

pg_start "$tmp/pg"
pg_psql -d postgres -c "CREATE DATABASE retention"
url="$(pg_url retention)"
sql() { pg_psql -d retention -At "$@"; }
source "$REPO/benchmarks/scale/table.sh"
scale_table "$series" "$history"

cat >"$tmp/forecastd.toml" <<TOML
[database]
url = "$url"
schema = "forecastd"
[daemon]
metrics_listen = ""
log_level = "warning"
retention = "$retention"
[[jobs]]
name = "retention"
frequency = "1h"
horizon = 24
backtest_windows = 1
[jobs.source]
table = "public.readings"
series_column = "series"
time_column = "ts"
value_column = "value"
[jobs.model]
scope = "global"
hidden_size = 16
epochs = $epochs
TOML
run() { "$forecastd" --config "$tmp/forecastd.toml" "$@"; }
run migrate >/dev/null
echo "==> training the global model on $series series x $history hours" >&2
run train retention --as-of "$(hour_at "$history")" >"$tmp/train.log" 2>&1 || { tail -20 "$tmp/train.log" >&2; exit 1; }

sizes() {
    sql -F, -c "
        SELECT c.relname, sum(pg_total_relation_size(t.relid))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN LATERAL pg_partition_tree(c.oid) pt ON true
        CROSS JOIN LATERAL (SELECT coalesce(pt.relid, c.oid) AS relid) t
        WHERE n.nspname = 'forecastd' AND c.relkind IN ('r', 'p') AND NOT c.relispartition GROUP BY 1"
}
# latest_forecasts for the job: the server's execution time without per-node timing (which
# EXPLAIN ANALYZE would add for every one of the 1,000 probes), best of three; the plan with
# BUFFERS and timings of the last day is kept beside the CSV.
latest_ms() {
    local best="" ms
    for _ in 1 2 3; do
        ms=$(sql -c "EXPLAIN (ANALYZE, TIMING OFF) SELECT * FROM forecastd.latest_forecasts WHERE job = 'retention'" | awk '/Execution Time/ {print $3}')
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $ms < $best else 1)"; then best=$ms; fi
    done
    sql -c "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM forecastd.latest_forecasts WHERE job = 'retention'" >"$out_dir/latest_forecasts_plan.txt"
    echo "$best"
}

csv="$out_dir/days.csv"
echo "day,cycle_median_s,cycle_max_s,predictions_rows,partitions,predictions_mb,actuals_mb,latest_origins_mb,runs_mb,series_state_mb,schema_mb,latest_forecasts_ms,load" >"$csv"
hour=$history
for day in $(seq 1 "$days"); do
    : >"$tmp/cycles"
    for _ in $(seq 1 24); do
        scale_rows "$hour" "$((hour + 1))"
        hour=$((hour + 1))
        started=$(date +%s.%N)
        run predict retention --as-of "$(hour_at "$hour")" >"$tmp/predict.log" 2>&1 || { tail -20 "$tmp/predict.log" >&2; exit 1; }
        python3 -c "print(f'{$(date +%s.%N) - $started:.3f}')" >>"$tmp/cycles"
    done
    run maintain --as-of "$(hour_at "$hour")" >"$tmp/maintain.log" 2>&1 || { cat "$tmp/maintain.log" >&2; exit 1; }
    sizes >"$tmp/sizes"
    mb() { awk -F, -v t="$1" '$1 == t {printf "%.1f", $2 / 1048576}' "$tmp/sizes"; }
    total=$(awk -F, '{s += $2} END {printf "%.1f", s / 1048576}' "$tmp/sizes")
    rows=$(sql -c "SELECT count(*) FROM forecastd.predictions")
    partitions=$(sql -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'forecastd.predictions'::regclass")
    latest=$(latest_ms)
    read -r median slowest < <(python3 -c "import statistics as s; v = [float(x) for x in open('$tmp/cycles')]; print(f'{s.median(v):.2f} {max(v):.2f}')")
    echo "$day,$median,$slowest,$rows,$partitions,$(mb predictions),$(mb actuals),$(mb latest_origins),$(mb runs),$(mb series_state),$total,$latest,$(cut -d' ' -f1 /proc/loadavg)" >>"$csv"
    echo "    day $day: cycle median ${median}s (max ${slowest}s), $rows predictions in $partitions partitions, schema ${total} MB, latest_forecasts ${latest} ms" >&2
done

{
    echo "Command: \`RETENTION=$retention benchmarks/retention/run.sh $series $days\` (HISTORY=$history EPOCHS=$epochs), commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ)."
    echo "Machine: $(nproc) cores, PostgreSQL $(sql -c 'SHOW server_version') with default settings, shared with other work (load average per day below)."
    echo
    echo "| day | cycle median s | cycle max s | predictions rows | partitions | predictions MB | actuals MB | latest_origins MB | runs MB | schema MB | latest_forecasts ms | load |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F, 'NR > 1 && ($1 <= 3 || $1 % 5 == 0 || ($1 >= 13 && $1 <= 17) || $1 == '"$days"') {
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $12, $13 }' "$csv"
} | tee "$out_dir/report.md"
