#!/usr/bin/env bash
# Issue 13, item 5: every data set of run.sh with the three network designs (the dense head, the
# recurrent decoder and output feedback: [jobs.model] decoder/feedback), same seeds and budgets,
# one run.sh each, then designs.py puts them side by side in RESULTS.md ("Forecast accuracy",
# subsection "Issue 13: ..."). About 15-25 minutes per design on the shared 2-core machine.
#
#   benchmarks/accuracy/designs.sh                   # all data sets
#   benchmarks/accuracy/designs.sh weather sp500     # some (results-<design>-partial.json; RESULTS.md is written all the same, saying which)
#
# Environment: as run.sh (VENV, FORECASTD_BIN, FORECASTD_SCRATCH, DATASETS); DESIGNS to run only
# some designs (default "dense recurrent feedback"; designs.py needs all three results files).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for design in ${DESIGNS:-dense recurrent feedback}; do
    echo "==> design $design"
    ACC_DESIGN="$design" "$here/run.sh" "$@"
done
VENV="${VENV:-/work/venv-acc}"
"$VENV/bin/python" "$here/designs.py" ${1:+--partial}
