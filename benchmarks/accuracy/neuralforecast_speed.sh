#!/usr/bin/env bash
# Training speed beside NeuralForecast (issue 4): forecastd's default LSTM and NeuralForecast's
# LSTM(h=24, input_size=72, max_steps=300) on the EWR station's hourly temperatures, retrained at
# the accuracy benchmark's last 5 origins, timed and scored by MASE in the same run. Writes the
# "## Training speed beside NeuralForecast" section of benchmarks/RESULTS.md. Not part of CI.
#
#   benchmarks/accuracy/neuralforecast_speed.sh [--no-write]
#
# NeuralForecast comes from PyPI into NF_VENV (default /work/venv-nf), outside the repository.
# When TORCH_VENV (default /work/venv-torch) already holds torch for the same Python, the new
# venv reads it through a .pth file instead of downloading torch again (`acc_nf_venv`).
source "$(dirname "$0")/common.sh"
cmd="benchmarks/accuracy/neuralforecast_speed.sh${*:+ $*}"
load_before="$(cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g')"

acc_nf_venv

acc_start_pg
acc_build

commit="$(cd "$REPO" && git rev-parse --short HEAD)"
[ -n "$(cd "$REPO" && git status --porcelain -- Sources migrations Package.swift)" ] && commit="$commit (+ uncommitted changes in the work tree)"
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB"
"$NF_VENV/bin/python" "$ACC_DIR/neuralforecast_speed.py" "$@" \
    --results "$REPO/benchmarks/RESULTS.md" --json "$ACC_DIR/neuralforecast_speed.json" \
    --command "$cmd" --machine "$machine" --load-before "$load_before" --commit "$commit"
