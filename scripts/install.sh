#!/usr/bin/env bash
# Installs forecastd as a systemd service: builds a release binary (Swift runtime linked in, so
# it does not depend on where the toolchain lives), then puts in place
#   $PREFIX/bin/forecastd                       the binary
#   $PREFIX/share/forecastd/migrations/         what `forecastd migrate` applies
#   $PREFIX/share/doc/forecastd/README.md       the unit's Documentation=
#   /etc/systemd/system/forecastd.service       the unit (paths follow $PREFIX)
#   /etc/sysusers.d/forecastd.conf              the forecastd user
#   /etc/tmpfiles.d/forecastd.conf              /etc/forecastd, root:forecastd 0750
#   /etc/forecastd/forecastd.toml               the example config, only if there is none yet
# and, on a live system (no DESTDIR), creates the user and directories and reloads systemd.
#
# Environment: DESTDIR (stage into a folder, e.g. for packaging or a test), PREFIX (default
# /usr/local), FORECASTD_SCRATCH (build folder, default .build-install), FORECASTD_BIN (install
# this binary instead of building). It never enables, starts or migrates anything: run
# `forecastd migrate` and `systemctl enable --now forecastd` yourself when the config is ready.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix="${PREFIX:-/usr/local}"
destdir="${DESTDIR:-}"
destdir="${destdir%/}"
scratch="${FORECASTD_SCRATCH:-.build-install}"

say() { echo "==> $*"; }

# --- binary -----------------------------------------------------------------------------------
bin="${FORECASTD_BIN:-}"
if [ -z "$bin" ]; then
    say "building release (scratch $scratch)"
    swift build -c release --static-swift-stdlib --product forecastd --scratch-path "$scratch"
    bin="$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)/forecastd"
fi
[ -x "$bin" ] || { echo "no forecastd binary at $bin" >&2; exit 1; }

say "installing into ${destdir:-/} with prefix $prefix"
install -d -m 0755 "$destdir$prefix/bin" "$destdir$prefix/share/forecastd/migrations" \
    "$destdir$prefix/share/doc/forecastd" \
    "$destdir/etc/systemd/system" "$destdir/etc/sysusers.d" "$destdir/etc/tmpfiles.d"
install -m 0755 "$bin" "$destdir$prefix/bin/forecastd"

# --- data -------------------------------------------------------------------------------------
# Replaced wholesale so a migration removed upstream does not linger.
rm -f "$destdir$prefix/share/forecastd/migrations/"*.sql
install -m 0644 migrations/*.sql "$destdir$prefix/share/forecastd/migrations/"
install -m 0644 README.md "$destdir$prefix/share/doc/forecastd/README.md"

# --- systemd ----------------------------------------------------------------------------------
sed -e "s|/usr/local/bin/forecastd|$prefix/bin/forecastd|g" \
    -e "s|/usr/local/share/doc/forecastd|$prefix/share/doc/forecastd|g" \
    systemd/forecastd.service >"$destdir/etc/systemd/system/forecastd.service"
chmod 0644 "$destdir/etc/systemd/system/forecastd.service"
# sysusers.d and tmpfiles.d only read *.conf.
install -m 0644 systemd/forecastd.sysusers "$destdir/etc/sysusers.d/forecastd.conf"
install -m 0644 systemd/forecastd.tmpfiles "$destdir/etc/tmpfiles.d/forecastd.conf"

live=no
[ -z "$destdir" ] && [ "$(id -u)" = 0 ] && live=yes

if [ "$live" = yes ]; then
    # Needs no running systemd: it edits /etc/passwd and /etc/group.
    if command -v systemd-sysusers >/dev/null; then
        systemd-sysusers /etc/sysusers.d/forecastd.conf
    elif ! getent passwd forecastd >/dev/null; then
        useradd --system --user-group --home-dir /var/lib/forecastd --no-create-home \
            --shell /usr/sbin/nologin --comment "forecastd daemon" forecastd
    fi
    if command -v systemd-tmpfiles >/dev/null; then
        systemd-tmpfiles --create /etc/tmpfiles.d/forecastd.conf
    fi
fi

# --- configuration ----------------------------------------------------------------------------
config="$destdir/etc/forecastd/forecastd.toml"
install -d -m 0750 "$destdir/etc/forecastd"
if [ -e "$config" ]; then
    say "keeping the existing $config"
else
    install -m 0640 config/forecastd.toml "$config"
    say "installed the example configuration at $config: set [database] url and the jobs"
fi
# Readable by the daemon's group, not by everyone: the URL may carry a password.
if [ "$(id -u)" = 0 ] && getent group forecastd >/dev/null; then
    chown root:forecastd "$destdir/etc/forecastd" "$config"
else
    say "not changing ownership (not root, or no forecastd group here): make /etc/forecastd and forecastd.toml root:forecastd on the target"
fi

if [ "$live" = yes ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    say "systemd reloaded"
elif [ "$live" = yes ]; then
    say "systemd is not running here: skipped systemctl daemon-reload"
else
    say "staged install: run systemd-sysusers, systemd-tmpfiles --create and systemctl daemon-reload on the target"
fi

cat <<NEXT
==> next steps
    edit /etc/forecastd/forecastd.toml, then
    sudo -u forecastd $prefix/bin/forecastd check-config
    sudo -u forecastd $prefix/bin/forecastd migrate
    systemctl enable --now forecastd
NEXT
