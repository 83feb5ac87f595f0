#!/usr/bin/env bash
# The accuracy benchmark over seeds: run.sh's data sets at seeds 1…SEEDS of the networks
# (`[jobs.model] seed`, added to ACC_MODEL_EXTRA), each run's results kept in OUT, then per set
# the mean over the seeds, their range and at how many seeds each target holds (seeds.py).
# run.sh's run of record is one seed; on the long sets the seed alone moves a figure by more
# than most settings do (benchmarks/RESULTS.md, issue 12, session 29). Not part of CI.
#
#   SEEDS=7 FORECASTD_BIN=… benchmarks/accuracy/seeds.sh OUT [sets…]   # default: the nine long sets
#
# Environment as run.sh's (FORECASTD_BIN, VENV, ACC_PEER_CACHE, ACC_CHECKS, ACC_MODEL_EXTRA…);
# give FORECASTD_BIN, or every seed builds first. SEED_FROM (default 1): the first seed run (run.sh's
# run of record has seed 1 already). Each seed's results go to OUT/seed-N.json directly, so two
# runs in one checkout do not overwrite each other's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: seeds.sh OUT [sets…]}"; shift
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(weather elecdemand sp500 weather_dewp elec_temperature taylor msft sunspots prices)
mkdir -p "$out"
extra="${ACC_MODEL_EXTRA:-}"
for seed in $(seq "${SEED_FROM:-1}" "${SEEDS:-5}"); do
    echo "==> seed $seed: ${sets[*]}"
    ACC_JSON="$out/seed-$seed.json" ACC_MODEL_EXTRA="${extra:+$extra
}seed = $seed" "$here/run.sh" "${sets[@]}" > "$out/seed-$seed.log" 2>&1 \
        || { tail -20 "$out/seed-$seed.log" >&2; exit 1; }
done
python3 "$here/seeds.py" "$out"/seed-*.json | tee "$out/seeds.md"
