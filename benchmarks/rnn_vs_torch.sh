#!/usr/bin/env bash
# RNN training throughput: `forecastd bench rnn` against PyTorch doing the same work
# (../shared/bench/torch_rnn_train_bench.py), measured in the same run, alternating, for LSTM and
# GRU at hidden 32 (batch 32), 64 (batch 32) and 128 (batch 64). PyTorch counts as the best of its
# 1- and 2-thread runs; forecastd likewise (2 threads = 2 batch shards; one more run uses 2 OpenBLAS
# threads inside one shard instead). Prints a markdown table (also written to $OUT if set).
#
# PyTorch is a benchmark peer only, never a dependency: it lives in a virtual environment outside
# the repository (default /work/venv-bench; `python3 -m venv DIR && DIR/bin/pip install torch`).
#
#   TORCH_PYTHON=/path/to/venv/bin/python REPEATS=2 benchmarks/rnn_vs_torch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
TORCH_PYTHON=${TORCH_PYTHON:-/work/venv-bench/bin/python}
TORCH_BENCH=${TORCH_BENCH:-$REPO/../shared/bench/torch_rnn_train_bench.py}
SCRATCH=${SCRATCH:-.build-nn-rel}
REPEATS=${REPEATS:-2}
CHUNKS=${CHUNKS:-40}

"$TORCH_PYTHON" -c 'import torch' 2>/dev/null || {
    echo "PyTorch not importable with $TORCH_PYTHON; create a venv outside the repo and pip install torch" >&2; exit 1; }
[ -f "$TORCH_BENCH" ] || { echo "missing $TORCH_BENCH" >&2; exit 1; }

[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --scratch-path "$SCRATCH" --product forecastd >&2
FD="$SCRATCH/release/forecastd"

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
echo "load_before $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOG"
"$FD" bench sgemm --size 2048 --threads 1 --threads 2 --json | sed 's/^/sgemm /' >>"$LOG"
for rep in $(seq "$REPEATS"); do
  for cell in lstm gru; do
    for hb in "32 32" "64 32" "128 64"; do
      set -- $hb
      for t in 1 2; do
        echo "torch $("$TORCH_PYTHON" "$TORCH_BENCH" --cell $cell --hidden $1 --batch $2 --tbptt 64 --inputs 5 --outputs 72 --threads $t 2>/dev/null)" >>"$LOG"
        echo "forecastd $("$FD" bench rnn --cell $cell --hidden $1 --batch $2 --tbptt 64 --inputs 5 --outputs 72 --threads $t --chunks "$CHUNKS" --json)" >>"$LOG"
      done
      # Threads inside each product instead of batch shards, for comparison.
      echo "blas2 $("$FD" bench rnn --cell $cell --hidden $1 --batch $2 --tbptt 64 --inputs 5 --outputs 72 --threads 1 --blas-threads 2 --chunks "$CHUNKS" --json)" >>"$LOG"
    done
  done
done
# The peak again at the end: the best of both counts (another process can depress one of them).
"$FD" bench sgemm --size 2048 --threads 1 --threads 2 --json | sed 's/^/sgemm /' >>"$LOG"
echo "load_after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOG"

"$TORCH_PYTHON" - "$LOG" <<'PY' | tee ${OUT:+"$OUT"}
import json, sys, os, platform, subprocess
rows, peak, load = {}, {}, {}
for line in open(sys.argv[1]):
    kind, _, rest = line.strip().partition(" ")
    if kind.startswith("load"):
        load[kind] = rest; continue
    d = json.loads(rest)
    if kind == "sgemm":
        peak[d["threads"]] = max(peak.get(d["threads"], 0), d["gflops"]); continue
    key = (d["cell"], d["hidden"], d["batch"])
    r = rows.setdefault(key, {"torch": {}, "forecastd": {}, "blas2": 0, "fps": None})
    if kind == "blas2":
        r["blas2"] = max(r["blas2"], d["steps_per_s"]); continue
    best = r[kind].get(d["threads"], 0)
    r[kind][d["threads"]] = max(best, d["steps_per_s"])
    if kind == "forecastd":
        r["fps"] = d["flops_per_step"]
machine_peak = max(peak.values())
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"Machine: {os.cpu_count()} CPUs ({cpu}); sgemm 2048² peak {peak.get(1, 0):.1f} GFLOP/s on 1 thread, "
      f"{peak.get(2, 0):.1f} on 2; load average {load.get('load_before', '?')} before, {load.get('load_after', '?')} after.")
print()
print("| cell | hidden | batch | PyTorch steps/s (1 thr / 2 thr) | forecastd steps/s (1 thr / 2 shards) | forecastd ÷ PyTorch (best vs best) | PyTorch % of peak | forecastd % of peak | forecastd, 1 shard × 2 BLAS threads |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (cell, h, b), r in rows.items():
    tb, fb = max(r["torch"].values()), max(r["forecastd"].values())
    tp = tb * r["fps"] / 1e9 / machine_peak * 100
    fp = fb * r["fps"] / 1e9 / machine_peak * 100
    t, f = r["torch"], r["forecastd"]
    print(f"| {cell} | {h} | {b} | {t.get(1,0):,} / {t.get(2,0):,} | {f.get(1,0):,} / {f.get(2,0):,} | **{fb/tb:.2f}×** | {tp:.1f} % | {fp:.1f} % | {r['blas2']:,} |")
PY
