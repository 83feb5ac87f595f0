#!/usr/bin/env bash
# Training speed beside NeuralForecast (issue 4): forecastd's default LSTM and NeuralForecast's
# LSTM(h=24, input_size=72, max_steps=300) on the EWR station's hourly temperatures, retrained at
# the accuracy benchmark's last 5 origins, timed and scored by MASE in the same run. Writes the
# "## Training speed beside NeuralForecast" section of benchmarks/RESULTS.md. Not part of CI.
#
#   benchmarks/accuracy/neuralforecast_speed.sh [--no-write]
#
# NeuralForecast comes from PyPI into NF_VENV (default /work/venv-nf), outside the repository.
# When TORCH_VENV (default /work/venv-bench) already holds torch for the same Python, the new
# venv reads it through a .pth file instead of downloading torch again.
source "$(dirname "$0")/common.sh"
NF_VENV="${NF_VENV:-/work/venv-nf}"
TORCH_VENV="${TORCH_VENV:-/work/venv-bench}"
cmd="benchmarks/accuracy/neuralforecast_speed.sh${*:+ $*}"
load_before="$(cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g')"

if [ ! -x "$NF_VENV/bin/python" ]; then
    python3 -m venv "$NF_VENV"
    pyver="$("$NF_VENV/bin/python" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')"
    if [ -d "$TORCH_VENV/lib/$pyver/site-packages/torch" ]; then
        echo "$TORCH_VENV/lib/$pyver/site-packages" >"$NF_VENV/lib/$pyver/site-packages/torch-venv.pth"
        echo "==> $NF_VENV reuses torch from $TORCH_VENV"
    fi
fi
ACC_IMPORTS="neuralforecast,pandas" acc_venv "$NF_VENV" neuralforecast pandas \
    || { echo "error: NeuralForecast could not be installed from PyPI into $NF_VENV" >&2; exit 1; }

acc_start_pg
acc_build

commit="$(cd "$REPO" && git rev-parse --short HEAD)"
[ -n "$(cd "$REPO" && git status --porcelain -- Sources migrations Package.swift)" ] && commit="$commit (+ uncommitted changes in the work tree)"
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB"
"$NF_VENV/bin/python" "$ACC_DIR/neuralforecast_speed.py" "$@" \
    --results "$REPO/benchmarks/RESULTS.md" --json "$ACC_DIR/neuralforecast_speed.json" \
    --command "$cmd" --machine "$machine" --load-before "$load_before" --commit "$commit"
