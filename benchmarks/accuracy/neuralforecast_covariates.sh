#!/usr/bin/env bash
# NeuralForecast's LSTM with the same covariates as forecastd (issue 14): elecdemand without
# covariates, with workday future-known and temperature_c past (futr_exog_list / hist_exog_list),
# and with both future-known, on covariates.sh's windows; forecastd's figures are read from
# covariates.sh's JSON of the same windows. Writes the "### Covariates beside NeuralForecast
# (issue 14)" subsection of RESULTS.md and benchmarks/accuracy/neuralforecast_covariates.json.
# Not part of CI; needs no PostgreSQL and no forecastd build.
#
#   benchmarks/accuracy/neuralforecast_covariates.sh [--no-write] [--only none workday perfectweather]
#
# NeuralForecast comes from PyPI into NF_VENV (default /work/venv-nf), outside the repository
# (`acc_nf_venv` in common.sh, as neuralforecast_speed.sh installs it). ACC_ORIGINS=15 scores the
# last 15 horizons beside results-covariates-future-15.json (RESULTS.md is left alone then);
# NF_MAX_STEPS sets NeuralForecast's max_steps (default 300).
source "$(dirname "$0")/common.sh"
cmd="benchmarks/accuracy/neuralforecast_covariates.sh${*:+ $*}"
load_before="$(cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g')"

acc_nf_venv

commit="$(cd "$REPO" && git rev-parse --short HEAD)"
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB"
origins="${ACC_ORIGINS:-5}"
extra=()
theirs="$ACC_DIR/results-covariates-future.json"
json="$ACC_DIR/neuralforecast_covariates.json"
if [ "$origins" != 5 ]; then
    extra+=(--no-write)
    theirs="$ACC_DIR/results-covariates-future-$origins.json"
    json="$ACC_DIR/neuralforecast_covariates-$origins.json"
    cmd="ACC_ORIGINS=$origins $cmd"
fi
[ -n "${NF_MAX_STEPS:-}" ] && extra+=(--max-steps "$NF_MAX_STEPS") && cmd="NF_MAX_STEPS=$NF_MAX_STEPS $cmd"
# common.py wants these set; this script uses neither PostgreSQL nor forecastd.
export ACC_TMP="${ACC_TMP:-$(mktemp -d /tmp/forecastd-nfcov.XXXXXX)}" ACC_DB_URL="${ACC_DB_URL:-unused}" REPO DATASETS
cd "$ACC_DIR"
"$NF_VENV/bin/python" "$ACC_DIR/neuralforecast_covariates.py" --origins "$origins" "${extra[@]}" "$@" \
    --results "$REPO/benchmarks/RESULTS.md" --json "$json" --forecastd-json "$theirs" \
    --command "$cmd" --machine "$machine" --load-before "$load_before" --commit "$commit"
