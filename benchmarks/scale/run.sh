#!/usr/bin/env bash
# Scale: one forecastd process against a throwaway PostgreSQL holding SERIES hourly series of
# POINTS points each (synthetic, generated in SQL: per-series level and scale, a daily and a
# weekly cycle with per-series phases, and noise).
#
#   benchmarks/scale/run.sh [SERIES] [POINTS]        (default 10000 2000)
#
# 1. global model: `forecastd train` once, then CYCLES predict cycles, each after appending one
#    new hour to every series (the cycle reads the new points, forecasts, writes). Then one
#    predict with the saved states deleted, which reads every series over the network's warm-up
#    (issue 17; before it, in full): what the states save.
# 2. per-series models on the first PER_SERIES_SMALL and PER_SERIES series of the same table
#    (training 10,000 separate networks on 2 cores takes hours; the figures extrapolate), to see
#    whether peak memory grows with the number of series trained; then a predict cycle.
#
# SIDE_BY_SIDE=N (issue 17) instead runs, N times alternately on the same table, `forecastd train`
# of the global job (EPOCHS, BATCH, HIDDEN; fallback off) and the Python peer benchmarks/scale/peer.py
# (psycopg + PyTorch: read all series, one global LSTM, the same epochs, batch, hidden and lags,
# forecast, COPY back; no guard, no backtest) with PEER_PYTHON (default /work/venv-torch/bin/python)
# on PEER_THREADS torch threads (default 1: on a shared machine torch's 2 OpenMP threads spin
# against each other, 17k vs 123k steps/s measured for this LSTM under load 8),
# then `forecastd bench rnn` at the training's shape, and a predict without states (the saved
# states deleted: every series read over the network's warm-up, issue 17; the "full-read
# predict" of the issue, before the warm-up existed); each line records the load average. Then it stops.
#
# Every command runs under /usr/bin/time -v (peak RSS); forecastd's "train timing" and
# "predict timing" log lines split the time into reading, training/forecasting and writing.
# Environment: EPOCHS, BATCH, HIDDEN (global model), SERIES_EPOCHS (per-series), CYCLES,
# PER_SERIES_SMALL, PER_SERIES, FULL_READ=0 to skip the full-read predict,
# FORECASTD_BIN to use a built binary, KEEP_LOGS=DIR to keep forecastd's logs. Prints a markdown report (also copied to $OUT
# when set), ending with the size of every forecastd table.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
source scripts/lib/pg.sh

series="${1:-10000}"
points="${2:-2000}"
epochs="${EPOCHS:-2}"
batch="${BATCH:-256}"
hidden="${HIDDEN:-32}"
series_epochs="${SERIES_EPOCHS:-10}"
cycles="${CYCLES:-3}"
per_series_small="${PER_SERIES_SMALL:-25}"
per_series="${PER_SERIES:-100}"
out="${OUT:-}"
scratch="${FORECASTD_SCRATCH:-.build-scale-rel}"

tmp="$(mktemp -d /tmp/forecastd-scale.XXXXXX)"
chmod 755 "$tmp"
cleanup() { pg_stop; [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp "$tmp"/*.log "$KEEP_LOGS"/ 2>/dev/null; rm -rf "$tmp"; }
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

if [ ! -x /usr/bin/time ]; then
    echo "==> installing GNU time (peak memory)" >&2
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get install -y -qq --no-install-recommends time >/dev/null
fi

echo "==> starting a throwaway PostgreSQL in $tmp/pg" >&2
pg_start "$tmp/pg"
pg_psql -d postgres -c "CREATE DATABASE scale"
if [ -n "${PG_LOG_STATEMENTS:-}" ]; then  # debugging: every statement's duration, kept in $PG_LOG_STATEMENTS
    pg_psql -d postgres -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
    trap 'cp "$tmp/pg/server.log" "$PG_LOG_STATEMENTS" 2>/dev/null; cleanup' EXIT INT TERM
fi
url="$(pg_url scale)"
sql() { pg_psql -d scale -At "$@"; }

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The series' timeline: POINTS hours ending at T_END (exclusive); cycle k appends hour T_END + k - 1.
source "$(dirname "$0")/table.sh"

echo "==> generating $series series × $points hourly points" >&2
started=$(now)
scale_table "$series" "$points"
load_seconds=$(secs "$started" "$(now)")
rows=$(sql -c "SELECT count(*) FROM readings")
db_size=$(sql -c "SELECT pg_size_pretty(pg_total_relation_size('readings'))")

# series_job NAME N: a per-series job over the first N series of the table.
series_job() {
    cat <<TOML

[[jobs]]
name = "$1"
frequency = "1h"
horizon = 24
backtest_windows = 1
[jobs.source]
query = "SELECT series, ts, value FROM public.readings WHERE series < 's$(printf %05d "$2")' AND ts >= \$1 AND ts < \$2"
series_column = "series"
time_column = "ts"
value_column = "value"
[jobs.model]
scope = "series"
epochs = $series_epochs
TOML
}

cat >"$tmp/forecastd.toml" <<TOML
[database]
url = "$url"
schema = "forecastd"

[daemon]
metrics_listen = ""
log_level = "info"

[[jobs]]
name = "scale_global"
frequency = "1h"
horizon = 24
backtest_windows = 1
fallback = "none"
[jobs.source]
table = "public.readings"
series_column = "series"
time_column = "ts"
value_column = "value"
[jobs.model]
scope = "global"
hidden_size = $hidden
batch_size = $batch
epochs = $epochs

TOML
series_job scale_series_small "$per_series_small" >>"$tmp/forecastd.toml"
series_job scale_series "$per_series" >>"$tmp/forecastd.toml"
"$forecastd" --config "$tmp/forecastd.toml" migrate >&2

# timed NAME ARGS...: runs forecastd under /usr/bin/time -v; sets WALL, RSS_MB, LOAD, LOG.
timed() {
    local name="$1"; shift
    LOG="$tmp/$name.log"
    LOAD="$(load)"
    /usr/bin/time -v -o "$tmp/$name.time" "$forecastd" --config "$tmp/forecastd.toml" "$@" >"$LOG" 2>&1 \
        || { tail -20 "$LOG" >&2; echo "forecastd $* failed" >&2; exit 1; }
    WALL=$(python3 - "$tmp/$name.time" <<'PY'
import sys
for line in open(sys.argv[1]):
    if "Elapsed (wall clock)" in line:
        parts = [float(p) for p in line.rsplit(": ", 1)[1].split(":")]
        seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        print(f"{seconds:.1f}")
PY
)
    RSS_MB=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$tmp/$name.time")
    echo "    $name: ${WALL}s, peak RSS ${RSS_MB} MB, load $LOAD" >&2
}

# field KEY: the value of key=VALUE in the last timing line of $LOG.
field() { grep -E "(train|predict) timing" "$LOG" | tail -1 | grep -oE "(^| )$1=[^ ]+" | cut -d= -f2; }
last_run() { sql -c "SELECT $1 FROM forecastd.runs WHERE job = '$2' ORDER BY run_id DESC LIMIT 1"; }
rate() { python3 -c "print(f'{$1 / $2:,.0f}' if $2 > 0 else '-')"; }

report="$tmp/report.md"
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources migrations || echo '+changes')"
{
    echo "Command: \`benchmarks/scale/run.sh $series $points\` (EPOCHS=$epochs BATCH=$batch HIDDEN=$hidden SERIES_EPOCHS=$series_epochs CYCLES=$cycles PER_SERIES_SMALL=$per_series_small PER_SERIES=$per_series), commit $commit, $(date -u +%Y-%m-%dT%H:%MZ)."
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GB RAM, PostgreSQL $(sql -c 'SHOW server_version') with default settings, shared with other work (load average per step below)."
    echo "Data: $rows rows ($db_size with two indexes), generated and indexed in ${load_seconds}s."
    echo
} >"$report"

if [ -n "${SIDE_BY_SIDE:-}" ]; then
    peer_python="${PEER_PYTHON:-/work/venv-torch/bin/python}"
    {
        echo "**Side by side** (global LSTM hidden $hidden, batch $batch, $epochs epoch(s); forecastd with its guard, backtest, calibration and saved states, the peer without):"
        echo
        echo "| run | forecastd train wall s | stages (forecastd log) | forecastd steps/s in train | bench rnn steps/s, same shape | peer wall s | peer stages | peer steps/s | load avg before forecastd / bench / peer |"
        echo "| --- | ---: | --- | ---: | ---: | ---: | --- | ---: | --- |"
    } >>"$report"
    lags=""
    for run in $(seq 1 "$SIDE_BY_SIDE"); do
        echo "==> side by side, run $run: forecastd train" >&2
        timed "sbs_train_$run" train scale_global --as-of "$(hour_at "$points")"
        f_wall=$WALL; f_load=$LOAD
        f_rate=$(grep -oE "steps_per_s=[0-9]+" "$LOG" | tail -1 | cut -d= -f2)
        f_stages="read $(field read_s), epochs $(field epochs_s), validation $(field validation_s), calibration $(field calibration_s), backtest+forecast pass $(field backtest_s), assembly $(field forecast_s), write $(field write_s)"
        lags=$(sql -c "SELECT hyperparameters->>'lags' FROM forecastd.models WHERE job = 'scale_global' ORDER BY model_id DESC LIMIT 1")
        inputs=$((2 + ${lags:-24} + 6))
        echo "==> side by side, run $run: bench rnn at the training's shape (inputs $inputs)" >&2
        b_load="$(load)"
        b_rate=$("$forecastd" bench rnn --cell lstm --hidden "$hidden" --batch "$batch" --tbptt 24 --inputs "$inputs" --outputs 72 --threads "$(nproc)" --json \
            | python3 -c "import json,sys; print(json.load(sys.stdin)['steps_per_s'])")
        echo "==> side by side, run $run: peer (lags ${lags:-24})" >&2
        p_load="$(load)"
        p_json=$("$peer_python" benchmarks/scale/peer.py "$url" --hidden "$hidden" --batch "$batch" --epochs "$epochs" --lags "${lags:-24}" --threads "${PEER_THREADS:-1}")
        p_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$1'])" "$p_json"; }
        echo "| $run | **$f_wall** | $f_stages | $f_rate | $b_rate | **$(p_field wall_s)** | read $(p_field read_s), prepare $(p_field prepare_s), train $(p_field train_s), forecast $(p_field forecast_s), write $(p_field write_s) | $(p_field steps_per_s) | $f_load / $b_load / $p_load |" >>"$report"
    done
    echo >>"$report"
    echo "bench rnn: \`forecastd bench rnn --cell lstm --hidden $hidden --batch $batch --tbptt 24 --inputs $inputs --outputs 72 --threads $(nproc)\`; peer: \`benchmarks/scale/peer.py --hidden $hidden --batch $batch --epochs $epochs --lags ${lags:-24} --threads ${PEER_THREADS:-1}\`." >>"$report"
    echo >>"$report"
    echo "==> predict with the states deleted (every series read over its warm-up, or in full when too short)" >&2
    for run in 1 2; do
        sql -c "DELETE FROM forecastd.series_state"
        timed "sbs_predict_full_$run" predict scale_global --as-of "$(hour_at "$points")"
        echo "Full-read predict of $series series, run $run: **${WALL} s** wall (read $(field read_s), forecast $(field forecast_s), write $(field write_s); $(last_run points_read scale_global) points read, $(field warmed_up) series over a warm-up of $(grep -E "predict timing" "$LOG" | tail -1 | grep -oE 'warm_up=[^=]*\)' | cut -d= -f2 | tr -d '"'), $(field read_in_full) in full; load $LOAD)." >>"$report"
    done
    [ -n "$out" ] && cp "$report" "$out"
    cat "$report"
    exit 0
fi

echo "==> global model: train" >&2
end_hour=$points
timed train_global train scale_global --as-of "$(hour_at "$end_hour")"
status=$(last_run status scale_global)
[ "$status" = succeeded ] || { echo "the global training run is $status: $(last_run error scale_global)" >&2; exit 1; }
states=$(sql -c "SELECT count(*) FROM forecastd.series_state")
written=$(last_run rows_written scale_global)
{
    echo "**Global model** (one LSTM, hidden $hidden, batch $batch, $epochs epochs, other settings default):"
    echo
    echo "| step | wall s | reading s | training s | forecasting s | writing s | rows written | rows/s written | peak RSS MB | load avg |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    echo "| train ($series series, $(last_run points_read scale_global) points; $(sql -c "SELECT coalesce(max(epochs)::text, '-') || ' epochs run, ' || coalesce(max(cell), '-') || ' published' FROM forecastd.models WHERE job = 'scale_global' AND status = 'active'")) | $WALL | $(field read_s) | $(field train_s) | (in training) | $(field write_s) | $written | $(rate "$written" "$(field write_s)") | $RSS_MB | $LOAD |"
} >>"$report"
echo "    states saved: $states" >&2

for cycle in $(seq 1 "$cycles"); do
    echo "==> global model: predict cycle $cycle (one new hour for every series)" >&2
    scale_rows "$end_hour" "$((end_hour + 1))"
    end_hour=$((end_hour + 1))
    timed "predict_global_$cycle" predict scale_global --as-of "$(hour_at "$end_hour")"
    written=$(last_run rows_written scale_global)
    echo "| predict cycle $cycle ($(last_run points_read scale_global) points read, $(field continued) series read on from their state) | **$WALL** | $(field read_s) | - | $(field forecast_s) | $(field write_s) | $written | $(rate "$written" "$(field write_s)") | $RSS_MB | $LOAD |" >>"$report"
done

if [ "${FULL_READ:-1}" = 1 ]; then
    echo "==> global model: predict with the states deleted (every series read over its warm-up)" >&2
    sql -c "DELETE FROM forecastd.series_state"
    timed predict_global_full predict scale_global --as-of "$(hour_at "$end_hour")"
    written=$(last_run rows_written scale_global)
    echo "| predict without states ($(last_run points_read scale_global) points read, $(field warmed_up) series over a warm-up, $(field read_in_full) read in full) | $WALL | $(field read_s) | - | $(field forecast_s) | $(field write_s) | $written | $(rate "$written" "$(field write_s)") | $RSS_MB | $LOAD |" >>"$report"
fi

# PER_SERIES=0 measures the global model alone.
if [ "$per_series" -gt 0 ]; then
    {
        echo
        echo "**Per-series models** (one LSTM per series, $series_epochs epochs, other settings default), on the first series of the same table:"
        echo
        echo "| step | wall s | reading s | training s | forecasting s | writing s | rows written | s per series | peak RSS MB | load avg |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    } >>"$report"
    for job in scale_series_small scale_series; do
        n=$([ "$job" = scale_series ] && echo "$per_series" || echo "$per_series_small")
        [ "$n" -gt 0 ] || continue
        echo "==> per-series models: train $n series" >&2
        timed "train_$job" train "$job" --as-of "$(hour_at "$end_hour")"
        written=$(last_run rows_written "$job")
        echo "| train $n series ($(last_run series_failed "$job") failed, $(sql -c "SELECT count(*) FROM forecastd.models WHERE job = '$job' AND status = 'active' AND cell = 'seasonal_naive'") on the fallback) | $WALL | $(field read_s) | $(field train_s) | (in training) | $(field write_s) | $written | $(python3 -c "print(f'{$WALL / $n:.2f}')") | $RSS_MB | $LOAD |" >>"$report"
    done
    echo "==> per-series models: predict cycle ($per_series series)" >&2
    scale_rows "$end_hour" "$((end_hour + 1))"
    end_hour=$((end_hour + 1))
    timed predict_series predict scale_series --as-of "$(hour_at "$end_hour")"
    written=$(last_run rows_written scale_series)
    echo "| predict cycle, $per_series series ($(last_run points_read scale_series) points read, $(field continued) read on from their state) | $WALL | $(field read_s) | - | $(field forecast_s) | $(field write_s) | $written | $(python3 -c "print(f'{$WALL / $per_series:.3f}')") | $RSS_MB | $LOAD |" >>"$report"
fi

# What forecastd's tables hold after the run: pg_total_relation_size (table, indexes, TOAST),
# summed over the partitions of predictions and actuals.
{
    echo
    echo "**Table sizes** after the run (\`pg_total_relation_size\`, partitions summed):"
    echo
    echo "| table | rows (statistics estimate) | size |"
    echo "| --- | ---: | ---: |"
    sql -F ' | ' -c "
        SELECT c.relname, to_char(sum(coalesce(s.n_live_tup, 0)), 'FM999,999,999,999'),
               pg_size_pretty(sum(pg_total_relation_size(t.relid)))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN LATERAL pg_partition_tree(c.oid) pt ON true
        CROSS JOIN LATERAL (SELECT coalesce(pt.relid, c.oid) AS relid) t
        LEFT JOIN pg_stat_user_tables s ON s.relid = t.relid
        WHERE n.nspname = 'forecastd' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        GROUP BY c.relname ORDER BY sum(pg_total_relation_size(t.relid)) DESC" | sed 's/^/| /; s/$/ |/'
} >>"$report"

[ -n "$out" ] && cp "$report" "$out"
cat "$report"
