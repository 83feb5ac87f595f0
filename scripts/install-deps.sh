#!/usr/bin/env bash
# Installs the Debian packages forecastd needs to build, test and run, when any is missing.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

# chromium renders `forecastd report` pages in the test suite (headless); recommends are not
# installed, so its page fonts come explicitly (fonts-dejavu-core, the report's first choice).
# python3-prometheus-client: Debian's build of PyPI's prometheus_client, whose parser the tests
# run on /metrics (scripts/parse-prometheus-text.py); from apt, so no pip, venv or network to PyPI.
# systemd: systemd-analyze, with which a test checks the shipped unit (it need not be running).
packages=(pkg-config libpq-dev libopenblas-dev postgresql postgresql-contrib python3 python3-prometheus-client tzdata chromium fonts-dejavu-core systemd)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "==> installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql package starts a cluster of its own; forecastd's scripts start private ones.
