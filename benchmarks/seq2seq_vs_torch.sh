#!/usr/bin/env bash
# Encoder-decoder training throughput (issue 13): `forecastd bench rnn --decoder recurrent`
# against PyTorch's nn.LSTM encoder + nn.LSTMCell decoder loop doing the same work
# (benchmarks/torch_seq2seq_train_bench.py): LSTM, hidden 64, batch 32, TBPTT chunks of 64,
# 5 inputs, horizon 24 × 3 quantiles, 4 known features per future step, scheduled sampling at
# 0.5, decoding from every 16th step of a chunk and (classic seq2seq) from its last only.
# Alternates the two, REPEATS times, at 1 and 2 threads; each side counts as its best.
# Beside them, forecastd's dense head and output feedback on the same chunks. Prints a
# markdown table (also written to $OUT if set).
#
#   TORCH_PYTHON=/work/venv-torch/bin/python REPEATS=3 benchmarks/seq2seq_vs_torch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_PYTHON=${TORCH_PYTHON:-/work/venv-torch/bin/python}
SCRATCH=${SCRATCH:-.build}
REPEATS=${REPEATS:-3}
CHUNKS=${CHUNKS:-40}
"$TORCH_PYTHON" -c 'import torch' 2>/dev/null || { echo "PyTorch not importable with $TORCH_PYTHON" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --scratch-path "$SCRATCH" --product forecastd >&2
FD="$SCRATCH/release/forecastd"
COMMON="--hidden 64 --batch 32 --tbptt 64 --inputs 5 --chunks $CHUNKS"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
echo "load_before $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOG"
for rep in $(seq "$REPEATS"); do
  for t in 1 2; do
    for stride in 16 64; do
      echo "torch $("$TORCH_PYTHON" benchmarks/torch_seq2seq_train_bench.py $COMMON --threads $t --decoder-stride $stride)" >>"$LOG"
      echo "forecastd $("$FD" bench rnn --cell lstm $COMMON --outputs 72 --threads $t --decoder recurrent --decoder-stride $stride --json)" >>"$LOG"
    done
    echo "dense $("$FD" bench rnn --cell lstm $COMMON --outputs 72 --threads $t --json)" >>"$LOG"
    echo "feedback $("$FD" bench rnn --cell lstm $COMMON --outputs 72 --threads $t --feedback output --json)" >>"$LOG"
  done
done
echo "load_after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOG"
"$TORCH_PYTHON" - "$LOG" <<'PY' | tee ${OUT:+"$OUT"}
import json, sys
best, runs, load = {}, {}, {}
for line in open(sys.argv[1]):
    kind, _, rest = line.strip().partition(" ")
    if kind.startswith("load"):
        load[kind] = rest; continue
    d = json.loads(rest)
    key = (kind, d.get("decoder_stride"), d["threads"])
    runs.setdefault(key, []).append(d["steps_per_s"])
def b(kind, stride):
    vals = [(max(v), t) for (k, s, t), v in runs.items() if k == kind and s == stride]
    return max(vals) if vals else (0, 0)
print(f"load before {load.get('load_before')}, after {load.get('load_after')}; best of {len(next(iter(runs.values())))} runs at 1 and 2 threads")
print()
print("| design (LSTM, hidden 64, batch 32, horizon 24 × 3) | forecastd steps/s (threads) | PyTorch steps/s (threads) | ratio |")
print("| --- | ---: | ---: | ---: |")
for stride, name in ((16, "encoder-decoder, origins every 16 steps"), (64, "encoder-decoder, one origin per chunk")):
    f, ft = b("forecastd", stride); p, pt = b("torch", stride)
    print(f"| {name} | {f:,} ({ft}) | {p:,} ({pt}) | {f / p:.2f}x |")
for kind, name in (("dense", "dense head (forking sequences)"), ("feedback", "dense head + output feedback")):
    f, ft = b(kind, None)
    print(f"| {name} | {f:,} ({ft}) | | |")
print()
print("all runs:", json.dumps({f"{k}/{s}/{t}": v for (k, s, t), v in sorted(runs.items(), key=str)}))
PY
