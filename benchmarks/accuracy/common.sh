# Shared by run.sh and neuralforecast_speed.sh: builds forecastd (release, own scratch folder),
# makes a Python venv outside the repository, and starts a throwaway PostgreSQL that is stopped
# and removed on exit. Sourced, not run.
set -euo pipefail
ACC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$ACC_DIR/../.." && pwd)"
DATASETS="${DATASETS:-$REPO/../shared/datasets}"
SCRATCH="${FORECASTD_SCRATCH:-.build-acc}"
source "$REPO/scripts/lib/pg.sh"

acc_build() {
    if [ -n "${FORECASTD_BIN:-}" ]; then
        echo "==> using FORECASTD_BIN=$FORECASTD_BIN"
    else
        echo "==> building forecastd (release, scratch $SCRATCH)"
        (cd "$REPO" && swift build -c release --scratch-path "$SCRATCH" --product forecastd >"$ACC_TMP/build.log" 2>&1) \
            || { grep -E "error:" "$ACC_TMP/build.log" >&2 || tail -20 "$ACC_TMP/build.log" >&2; return 1; }
        FORECASTD_BIN="$REPO/$SCRATCH/release/forecastd"
    fi
    # A private copy, so a rebuild during the run does not swap the binary under it.
    cp "$FORECASTD_BIN" "$ACC_TMP/forecastd"
    export FORECASTD_BIN="$ACC_TMP/forecastd"
    export FORECASTD_MIGRATIONS="$REPO/migrations"
}

# acc_venv DIR PACKAGES...: creates DIR when missing and pip-installs what it lacks.
acc_venv() {
    local dir="$1"; shift
    [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
    if ! "$dir/bin/python" -c "import $(IFS=,; echo "${ACC_IMPORTS:-$*}")" >/dev/null 2>&1; then
        echo "==> pip install $* into $dir"
        "$dir/bin/pip" install -q --upgrade pip
        "$dir/bin/pip" install -q "$@"
    fi
}

# acc_nf_venv: NeuralForecast from PyPI into NF_VENV (default /work/venv-nf), outside the
# repository; when TORCH_VENV (default /work/venv-torch) holds torch for the same Python, the new
# venv reads it through a .pth file instead of downloading torch again.
acc_nf_venv() {
    NF_VENV="${NF_VENV:-/work/venv-nf}"
    TORCH_VENV="${TORCH_VENV:-/work/venv-torch}"
    if [ ! -x "$NF_VENV/bin/python" ]; then
        python3 -m venv "$NF_VENV"
        local pyver
        pyver="$("$NF_VENV/bin/python" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')"
        if [ -d "$TORCH_VENV/lib/$pyver/site-packages/torch" ]; then
            echo "$TORCH_VENV/lib/$pyver/site-packages" >"$NF_VENV/lib/$pyver/site-packages/torch-venv.pth"
            echo "==> $NF_VENV reuses torch from $TORCH_VENV"
        fi
    fi
    ACC_IMPORTS="neuralforecast,pandas" acc_venv "$NF_VENV" neuralforecast pandas \
        || { echo "error: NeuralForecast could not be installed from PyPI into $NF_VENV" >&2; return 1; }
}

acc_start_pg() {
    ACC_TMP="$(mktemp -d /tmp/forecastd-acc.XXXXXX)"
    chmod 755 "$ACC_TMP"
    trap 'pg_stop; rm -rf "$ACC_TMP"' EXIT INT TERM
    echo "==> starting a throwaway PostgreSQL in $ACC_TMP/pg"
    pg_start "$ACC_TMP/pg"
    pg_psql -d postgres -c "CREATE DATABASE forecastd_acc"
    export ACC_DB_URL="$(pg_url forecastd_acc)"
    export ACC_PSQL="$PG_BIN/psql"
    export ACC_TMP DATASETS REPO
}

acc_machine() {
    echo "nproc=$(nproc); cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load_before=\"$(uptime | sed 's/.*load average: //')\""
}
