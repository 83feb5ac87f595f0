#!/usr/bin/env bash
# The first Quick start command: installs what is missing, builds forecastd, starts a private
# PostgreSQL in .forecastd-demo/ of the checkout, loads the bundled NYC weather data, and runs
# forecastd's main job on it once. Run it again at any time: it reuses what is already there.
# The demo server keeps running afterwards so you can query it; `scripts/quickstart.sh --stop`
# stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
source scripts/lib/pg.sh
demo="$root/.forecastd-demo"

if [ "${1:-}" = "--stop" ]; then
    pg_attach "$demo/pg"
    pg_stop
    echo "stopped the demo PostgreSQL in $demo/pg"
    exit 0
fi

step() { echo "==> $*"; }

step "checking Debian packages"
scripts/install-deps.sh

step "building forecastd (release; the first build takes a few minutes)"
log="$(mktemp)"
swift build -c release --product forecastd >"$log" 2>&1 &
build_pid=$!
# Progress while it builds: one line per module compiled.
tail -n +1 -f --pid="$build_pid" "$log" | grep --line-buffered -E "Compiling|Linking|Build" | sed -u 's/^/    /' || true
if ! wait "$build_pid"; then
    echo "error: the build failed:" >&2
    grep -E "error:" "$log" >&2 || tail -20 "$log" >&2
    exit 1
fi
rm -f "$log"
bin="$(swift build -c release --show-bin-path)/forecastd"
[ -x "$bin" ] || { echo "error: the build did not produce $bin" >&2; exit 1; }

step "starting a private PostgreSQL in $demo/pg"
# A server left from an earlier run is restarted, since its port was chosen then.
pg_attach "$demo/pg"
pg_stop
pg_start "$demo/pg"
pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'forecastd_demo'" | grep -q 1 \
    || pg_psql -d postgres -c "CREATE DATABASE forecastd_demo"

step "loading the bundled NYC weather data (examples/data/weather_nyc_2013.csv)"
pg_psql -d forecastd_demo <<SQL
SET client_min_messages TO warning;
CREATE TABLE IF NOT EXISTS public.weather (
    station text NOT NULL, ts timestamptz NOT NULL, temp double precision, dewp double precision,
    humid double precision, wind_speed double precision, pressure double precision,
    precip double precision, visib double precision);
TRUNCATE public.weather;
\copy public.weather FROM '$root/examples/data/weather_nyc_2013.csv' WITH (FORMAT csv, HEADER true)
-- The readings are from 2013; shift them so the last one is this hour's, as live data would be.
UPDATE public.weather SET ts = ts + (date_trunc('hour', now()) - (SELECT max(ts) FROM public.weather));
SQL
echo "    $(pg_psql -d forecastd_demo -tAc "SELECT count(*) FROM public.weather") rows in public.weather"

config="$demo/forecastd.toml"
url="$(pg_url forecastd_demo)"
template="$(cat examples/demo.toml)"
# The quoted replacement keeps bash from reading the URL's '&' as "the matched text".
printf '%s\n' "${template//@DATABASE_URL@/"$url"}" >"$config"
export FORECASTD_CONFIG="$config"

step "forecastd migrate (creates the forecastd schema and its tables)"
"$bin" migrate

step "forecastd check-config (validates $config and checks the job's source)"
"$bin" check-config

step "forecastd run --once (trains an LSTM per station, backtests it against seasonal naive, writes forecasts)"
"$bin" run --once

step "the first forecasts (forecastd.latest_forecasts)"
pg_psql -d forecastd_demo -P footer=off <<SQL
SELECT series AS station, target_ts, step, round(forecast_value::numeric, 1) AS temp_f,
       round(lower_bound::numeric, 1) AS lower, round(upper_bound::numeric, 1) AS upper
FROM forecastd.latest_forecasts WHERE step IN (1, 6, 12, 24) ORDER BY series, step;
SQL
step "the models and how they did in the backtest (skill > 0 beats seasonal naive)"
pg_psql -d forecastd_demo -P footer=off <<SQL
SELECT m.series AS station, m.cell, m.status, m.epochs, round(m.train_seconds::numeric, 1) AS train_s,
       round(max(x.value) FILTER (WHERE x.metric = 'mase')::numeric, 3) AS mase,
       round(max(x.value) FILTER (WHERE x.metric = 'baseline_mase')::numeric, 3) AS baseline_mase,
       round(max(x.value) FILTER (WHERE x.metric = 'skill')::numeric, 3) AS skill
FROM forecastd.models m LEFT JOIN forecastd.model_metrics x USING (model_id)
GROUP BY m.model_id ORDER BY m.series, m.model_id;
SQL

report="$demo/report-nyc_temperature.html"
step "forecastd report (history, forecast and interval, accuracy and training curves per station, as one HTML page)"
"$bin" report nyc_temperature --output "$report"

echo
echo "Next: open the report in a browser (a self-contained file, no network needed):"
echo "    $report"
echo "    (again at any time: $bin --config $config report nyc_temperature --output FILE.html)"
echo "Query the tables yourself (schema forecastd of database forecastd_demo):"
echo "    $PG_BIN/psql '$(pg_url forecastd_demo)' -c 'SELECT * FROM forecastd.runs'"
echo "The demo PostgreSQL keeps running; stop it with: scripts/quickstart.sh --stop"
