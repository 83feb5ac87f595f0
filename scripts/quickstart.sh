#!/usr/bin/env bash
# The first Quick start command: installs what is missing, builds forecastd, starts a private
# PostgreSQL in .forecastd-demo/ of the checkout, loads the bundled NYC weather data, and runs
# forecastd's main job on it once. Run it again at any time: it reuses what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
source scripts/lib/pg.sh

step() { echo "==> $*"; }

step "checking Debian packages"
scripts/install-deps.sh

step "building forecastd (release; the first build takes a few minutes)"
swift build -c release --product forecastd 2>&1 | grep -E "^(Build|error|warning: unre)|Compiling|Linking" | sed -u 's/^/    /' | awk 'NR%20==1 || /Build|error|Linking/' || true
bin="$(swift build -c release --show-bin-path)/forecastd"
[ -x "$bin" ] || { echo "error: the build did not produce $bin" >&2; exit 1; }

demo="$root/.forecastd-demo"
step "starting a private PostgreSQL in $demo/pg"
pg_start "$demo/pg"
trap pg_stop EXIT
pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'forecastd_demo'" | grep -q 1 \
    || pg_psql -d postgres -c "CREATE DATABASE forecastd_demo"

step "loading the bundled NYC weather data (examples/data/weather_nyc_2013.csv)"
pg_psql -d forecastd_demo <<SQL
CREATE TABLE IF NOT EXISTS public.weather (
    station text NOT NULL, ts timestamptz NOT NULL, temp double precision, dewp double precision,
    humid double precision, wind_speed double precision, pressure double precision,
    precip double precision, visib double precision);
TRUNCATE public.weather;
\copy public.weather FROM '$root/examples/data/weather_nyc_2013.csv' WITH (FORMAT csv, HEADER true)
SQL
echo "    $(pg_psql -d forecastd_demo -tAc "SELECT count(*) FROM public.weather") rows in public.weather"

config="$demo/forecastd.toml"
sed "s|@DATABASE_URL@|$(pg_url forecastd_demo)|" examples/demo.toml >"$config"
export FORECASTD_CONFIG="$config"

step "forecastd version"
"$bin" version
