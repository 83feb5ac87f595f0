#!/usr/bin/env bash
# Bulk write and read of prediction-shaped rows: forecastd's PostgresClient (copyIn, stream)
# against psql's \copy, on a throwaway PostgreSQL server. Runs alternate, best of $RUNS each.
#
#   benchmarks/copy_vs_psql.sh [ROWS]        (default 1000000; RUNS=3 in the environment)
#
# Prints a markdown table for benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pg.sh

rows="${1:-1000000}"
runs="${RUNS:-3}"
scratch="${FORECASTD_SCRATCH:-.build-pg-release}"

echo "==> building forecastd (release)" >&2
swift build -c release --scratch-path "$scratch" --product forecastd >&2
forecastd="$scratch/release/forecastd"

tmp="$(mktemp -d /tmp/forecastd-bench-copy.XXXXXX)"
chmod 755 "$tmp"
cleanup() { pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

echo "==> starting a throwaway PostgreSQL in $tmp" >&2
pg_start "$tmp/pg"
pg_psql -d postgres -c "CREATE DATABASE bench"
url="$(pg_url bench)"
psql_bench() { pg_psql -d bench "$@"; }

# The same rows `forecastd bench copy` writes (BenchmarkPredictions in Sources/forecastd/BenchCopy.swift),
# in COPY's text format.
echo "==> generating $rows rows" >&2
data="$tmp/predictions.tsv"
python3 - "$rows" "$data" <<'PY'
import sys, datetime
rows, path = int(sys.argv[1]), sys.argv[2]
origin = datetime.datetime(2024, 1, 1)
fmt = lambda t: t.strftime("%Y-%m-%d %H:%M:%S+00")
with open(path, "w") as out:
    lines = []
    for i in range(rows):
        step = i % 24 + 1
        issued = origin + datetime.timedelta(hours=i // 24)
        value = i * 0.001
        lines.append(f"bench\tseries_{i // 24 % 1000}\t{i // 2400}\t{fmt(issued)}\t"
                     f"{fmt(issued + datetime.timedelta(hours=step))}\t{step}\t{value!r}\t{value - 1.5!r}\t{value + 1.5!r}\t0.8\n")
        if len(lines) == 100000:
            out.writelines(lines); lines = []
    out.writelines(lines)
PY
columns="job text, series text, model_id bigint, issued_at timestamptz, target_ts timestamptz, step int,
         forecast_value float8, lower_bound float8, upper_bound float8, confidence_level float8"

now() { date +%s.%N; }
rate() { python3 -c "print(round($1 / ($3 - $2)))"; }
best() { printf '%s\n' "$@" | sort -n | tail -1; }

psql_write=() psql_write_binary=() psql_read=() fd_write=() fd_write_text=() fd_read=() fd_copy_out=()
load_psql() {  # $1: \copy source clause; prints rows/s
    psql_bench -c "DROP TABLE IF EXISTS psql_copy" -c "CREATE TABLE psql_copy ($columns)" -c "CHECKPOINT"
    local start end
    start="$(now)"; psql_bench -c "\\copy psql_copy FROM $1"; end="$(now)"
    rate "$rows" "$start" "$end"
}
run_forecastd() {  # $1: format; prints the JSON line
    "$forecastd" bench copy --url "$url" --rows "$rows" --format "$1" --vacuum --json 2>/dev/null
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

for run in $(seq "$runs"); do
    echo "==> run $run of $runs" >&2
    # psql, text: \copy the generated file into a fresh table, VACUUM it (so that no read pays
    # for setting hint bits), then \copy the table to /dev/null.
    psql_write+=("$(load_psql "'$data'")")
    psql_bench -c "VACUUM psql_copy"
    start="$(now)"; psql_bench -c "\\copy (SELECT * FROM psql_copy) TO '/dev/null'"; end="$(now)"
    psql_read+=("$(rate "$rows" "$start" "$end")")
    [ -f "$tmp/predictions.bin" ] || psql_bench -c "\\copy psql_copy TO '$tmp/predictions.bin' (FORMAT binary)"
    # psql, binary: the same rows from a binary COPY file.
    psql_write_binary+=("$(load_psql "'$tmp/predictions.bin' (FORMAT binary)")")
    psql_bench -c "DROP TABLE psql_copy" -c "CHECKPOINT"

    # forecastd: copyIn into a fresh table (rows built in Swift on the fly), VACUUM, then stream
    # it back decoding every column, then copyOut; once with binary COPY, once with text COPY.
    json="$(run_forecastd binary)"; echo "    forecastd: $json" >&2
    fd_write+=("$(field "$json" write_rows_per_s)")
    fd_read+=("$(field "$json" read_rows_per_s)")
    fd_copy_out+=("$(field "$json" copy_out_rows_per_s)")
    psql_bench -c "CHECKPOINT"
    json="$(run_forecastd text)"; echo "    forecastd: $json" >&2
    fd_write_text+=("$(field "$json" write_rows_per_s)")
    psql_bench -c "CHECKPOINT"
    echo "    psql write ${psql_write[-1]}/s (binary file ${psql_write_binary[-1]}/s) read ${psql_read[-1]}/s;" \
         "forecastd write ${fd_write[-1]}/s (text ${fd_write_text[-1]}/s) read ${fd_read[-1]}/s" >&2
done

pw="$(best "${psql_write[@]}")"; pwb="$(best "${psql_write_binary[@]}")"; pr="$(best "${psql_read[@]}")"
fw="$(best "${fd_write[@]}")"; fwt="$(best "${fd_write_text[@]}")"; fr="$(best "${fd_read[@]}")"; fc="$(best "${fd_copy_out[@]}")"
pct() { python3 -c "print(f'{100 * $1 / $2:.0f}%')"; }
cat <<TABLE
| $rows prediction rows, best of $runs | psql \\copy (rows/s) | forecastd (rows/s) | forecastd / psql |
| --- | ---: | ---: | ---: |
| write: psql text file vs forecastd \`copyIn(into:columns:)\` (binary COPY, rows built in Swift) | $pw | $fw | $(pct "$fw" "$pw") |
| write: psql text file vs forecastd \`copyIn(_:_:)\` (text COPY, rows formatted in Swift) | $pw | $fwt | $(pct "$fwt" "$pw") |
| write: psql binary file vs forecastd \`copyIn(into:columns:)\` (binary COPY) | $pwb | $fw | $(pct "$fw" "$pwb") |
| read: psql COPY TO /dev/null vs forecastd \`stream\` (binary rows, every column decoded) | $pr | $fr | $(pct "$fr" "$pr") |
| read: psql COPY TO /dev/null vs forecastd \`copyOut\` (text lines, not parsed) | $pr | $fc | $(pct "$fc" "$pr") |
TABLE
