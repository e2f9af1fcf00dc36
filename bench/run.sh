#!/bin/sh
# run.sh - the famcontactd benchmark: delivery throughput against Postfix's
# smtp-source and Python's smtplib, peak RSS with 100,000 families, wakeups
# while idle. See bench/README.md.
#
#     bench/run.sh [BUILD_DIR]        (default: build/ in the repository)
#
# Installs Postfix's smtp-sink/smtp-source (Debian package postfix, without
# configuring or starting a mail server) when they are missing. Exits 1 when
# a step fails; a missed target is reported as MISS and is not a failure.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
PATH=$PATH:/usr/sbin:/sbin
PYTHONDONTWRITEBYTECODE=1
export PATH PYTHONDONTWRITEBYTECODE

die() {
	echo "bench: $*" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# Whether anything listens on TCP port 25 (IPv4 or IPv6).
port25() {
	awk 'NR > 1 && $4 == "0A" && $2 ~ /:0019$/ { found = 1 }
	    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

apt_install() {
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends "$@" ||
	{ as_root apt-get update && as_root env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y --no-install-recommends "$@"; }
}

[ $# -le 1 ] || die "usage: bench/run.sh [BUILD_DIR]"
if [ ! -x "$build/famcontactd" ] || [ ! -x "$build/famcontactctl" ]; then
	die "no famcontactd/famcontactctl in $build; build first:
    cmake -S $root -B $root/build && cmake --build $root/build -j"
fi

command -v python3 >/dev/null 2>&1 || apt_install python3
[ -x /usr/bin/time ] || apt_install time      # GNU time, for peak RSS
command -v sqlite3 >/dev/null 2>&1 || apt_install sqlite3  # the million step's floor
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] ||
	apt_install libfaketime          # the million step's days

if ! command -v smtp-sink >/dev/null 2>&1 ||
   ! command -v smtp-source >/dev/null 2>&1; then
	busy25=no
	port25 && busy25=yes
	echo "bench: installing postfix for smtp-sink and smtp-source" \
	    "(no mail server is configured or started)"
	echo "postfix postfix/main_mailer_type select No configuration" |
		as_root debconf-set-selections
	apt_install postfix >/dev/null || die "cannot install postfix"
	# "No configuration" leaves no main.cf, so Postfix cannot start; make
	# sure nothing of ours took port 25 anyway.
	if [ "$busy25" = no ] && port25; then
		echo "bench: postfix started a mail server on port 25; stopping it"
		as_root postfix stop >/dev/null 2>&1 || true
		if command -v systemctl >/dev/null 2>&1; then
			as_root systemctl disable --now postfix >/dev/null 2>&1 || true
		fi
		sleep 1
		! port25 || die "port 25 is still taken after installing postfix"
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/famcontactd-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The driver runs in the background so that a signal reaches it at once
# (a trap waits for a foreground command); it stops what it started.
python3 "$here/bench.py" --build "$build" --tmp "$tmp" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || :' INT TERM HUP
status=0
wait "$child" || status=$?
while kill -0 "$child" 2>/dev/null; do
	status=0
	wait "$child" || status=$?
done
exit "$status"
