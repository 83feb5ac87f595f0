#!/usr/bin/env bash
# Covariates (issue 14) beside the same jobs without them: elecdemand with temperature_c past,
# with workday future-known and temperature_c past, and with both future-known (the real
# temperature standing in for a perfect weather forecast); weather temp with dewp and humid past;
# on the windows and seeds of run.sh, in a throwaway PostgreSQL; writes the "### Covariates
# (issue 14)" subsection of RESULTS.md and benchmarks/accuracy/results-covariates.json. Not part of CI.
#
#   benchmarks/accuracy/covariates.sh                     # every variant
#   benchmarks/accuracy/covariates.sh elecdemand          # one data set (RESULTS.md is left alone then)
#   benchmarks/accuracy/covariates.sh elecdemand_workday  # the data set without covariates and one variant
#
# Environment as run.sh (VENV default /work/venv-stats: numpy and pandas are all it needs);
# ACC_ORIGINS=N scores the last N horizons instead of the accuracy table's (RESULTS.md is left
# alone then, and the JSON is results-covariates-N.json).
source "$(dirname "$0")/common.sh"
VENV="${VENV:-/work/venv-stats}"
cmd="benchmarks/accuracy/covariates.sh${*:+ $*}"
load_before="$(cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g')"

acc_start_pg
acc_build
ACC_IMPORTS="pandas,numpy" acc_venv "$VENV" pandas numpy

commit="$(cd "$REPO" && git rev-parse --short HEAD)"
[ -n "$(cd "$REPO" && git status --porcelain -- Sources migrations Package.swift)" ] && commit="$commit (+ uncommitted changes in the work tree)"
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB"
extra=()
[ $# -gt 0 ] && extra=(--no-write --only "$@")
json="$ACC_DIR/results-covariates${1:+-partial}.json"
if [ -n "${ACC_ORIGINS:-}" ]; then
    extra+=(--no-write)
    json="$ACC_DIR/results-covariates-$ACC_ORIGINS${1:+-partial}.json"
    cmd="ACC_ORIGINS=$ACC_ORIGINS $cmd"
fi
"$VENV/bin/python" "$ACC_DIR/covariates.py" "${extra[@]}" \
    --results "$REPO/benchmarks/RESULTS.md" --json "$json" \
    --command "$cmd" --machine "$machine" --load-before "$load_before" --commit "$commit"
