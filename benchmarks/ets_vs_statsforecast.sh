#!/usr/bin/env bash
# The statistical challenger's cost per series: `forecastd bench ets` (ETS.autoCombination, every
# candidate fitted and the Akaike-weighted best combined, then the chosen members fitted again as
# a predict with new rows does) against statsforecast's AutoETS (the one best model) on the same
# synthetic monthly series, one thread each, in the same run.
#
# statsforecast is a benchmark peer only: it lives in a virtual environment outside the
# repository (default /work/venv-stats; `python3 -m venv DIR && DIR/bin/pip install statsforecast`).
#
#   VENV=/path/to/venv SERIES=500 benchmarks/ets_vs_statsforecast.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-/work/venv-stats}
SERIES=${SERIES:-500}
SCRATCH=${SCRATCH:-.build-nn-rel}
"$VENV/bin/python" -c 'import statsforecast' 2>/dev/null || {
    echo "statsforecast not importable with $VENV/bin/python; create a venv outside the repo and pip install statsforecast" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --scratch-path "$SCRATCH" --product forecastd >&2
FD=${FORECASTD_BIN:-$SCRATCH/release/forecastd}
CSV=$(mktemp --suffix=.csv)
trap 'rm -f "$CSV"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$FD" bench ets --series "$SERIES" --threads 1 --csv "$CSV"
"$VENV/bin/python" benchmarks/statsforecast_ets_bench.py "$CSV" 12
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
