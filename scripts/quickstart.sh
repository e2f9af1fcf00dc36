#!/bin/sh
# famcontactd quick start for a fresh Debian 12 machine.
#
#   scripts/quickstart.sh demo   install what is missing, build, run the demo
#   scripts/quickstart.sh test   install what is missing, build twice (warnings
#                                as errors; ASan+UBSan), run every test, then
#                                run each fuzz harness for 60 s (clang)
#
# Runs as root or through sudo for apt-get; builds in ./build, ./build-asan
# and ./build-fuzz.
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)

# Debian packages: build, run, and test (SMTP and IMAP servers, time travel,
# manuals, systemd-analyze for the unit, with kill(1) from procps for its
# ExecReload=; container images of Debian lack both; clang with libFuzzer,
# which clang only recommends, and llvm-symbolizer for the fuzzers' stack
# traces).
PACKAGES="build-essential cmake pkg-config libcurl4-openssl-dev libsqlite3-dev
libconfig-dev libgmime-3.0-dev libgpgme-dev gpg gpg-agent libcmocka-dev tzdata python3 mandoc faketime
python3-aiosmtpd dovecot-imapd openssl systemd procps"
# Only for the tests: the fuzzing stage, valgrind for the soak, Postfix's
# own smtpd where a real relay's wording matters (set to "No configuration",
# so that installing it starts no mail system), clang-format for the
# layout check, Chromium to render the HTML parts at a phone's width.
TEST_PACKAGES="clang libclang-rt-14-dev llvm-14 valgrind postfix clang-format-14
chromium"

install_packages() {
	missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "==> installing:$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	echo "postfix postfix/main_mailer_type select No configuration" |
		$sudo debconf-set-selections
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends $missing >/dev/null
}

build() {
	dir=$1
	shift
	echo "==> building in $dir $*"
	cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$ROOT/$dir" -j "$(nproc)"
}

run_tests() {
	dir=$1
	echo "==> testing $dir"
	ctest --test-dir "$ROOT/$dir" --output-on-failure -j "$(nproc)"
}

demo() {
	ctl="$ROOT/build/famcontactctl"
	work=/tmp/famcontactd-demo
	rm -rf "$work"
	mkdir -p "$work"
	# Dates in the demo are relative to today, so that it always shows a mix
	# of overdue, due and current families.
	awk -F, -v OFS=, '{
		for (i = 1; i <= NF; i++)
			if ($i ~ /^@-[0-9]+$/) {
				cmd = "date -d \"" substr($i, 2) " days\" +%F"
				cmd | getline $i
				close(cmd)
			}
		print
	}' etc/demo/families.csv.in >"$work/families.csv"
	conf="$ROOT/etc/demo.conf"
	echo "==> loading the fictional demo data into $work"
	"$ctl" -c "$conf" caseworker import etc/demo/caseworkers.csv
	"$ctl" -c "$conf" family import "$work/families.csv"
	"$ctl" -c "$conf" contact log FXD-003 --channel video --outcome reached --note "demo note" >/dev/null
	"$ctl" -c "$conf" contact log FXD-008 --channel phone --outcome attempted >/dev/null
	"$ctl" -c "$conf" family pause FXD-011 --reason "family asked for a break (demo)" \
		--until "$(date -d '+10 days' +%F)" >/dev/null
	echo
	echo "\$ famcontactctl status"
	"$ctl" -c "$conf" status
	echo
	echo "\$ famcontactctl family list --due"
	"$ctl" -c "$conf" family list --due
	echo
	echo "\$ famcontactd --once   # one pass: queue today's reminders, deliver them"
	"$ROOT/build/famcontactd" -c "$conf" --once
	echo
	echo "==> the emails it wrote (reminders, escalations, weekly summaries) into $work/maildir/new:"
	for m in "$work"/maildir/new/*; do
		[ -e "$m" ] || continue
		sed -n 's/^\(To\|Subject\): /  \1: /p' "$m"
		echo
	done
	first=$(grep -l '^Subject: Reminder' "$work"/maildir/new/* 2>/dev/null |
		head -n 1)
	if [ -n "$first" ]; then
		echo "==> a reminder in full ($first):"
		cat "$first"
	fi
	echo
	echo "Try: $ctl -c $conf family list"
	echo "     $ctl -c $conf outbox list"
}

case "${1:-}" in
demo)
	install_packages
	build build
	demo
	;;
test)
	PACKAGES="$PACKAGES $TEST_PACKAGES"
	install_packages
	build build -DFC_WERROR=ON
	run_tests build
	build build-asan -DFC_WERROR=ON -DFC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	run_tests build-asan
	echo "==> fuzzing: each harness for 60 s"
	scripts/fuzz.sh 60
	;;
*)
	echo "usage: $0 demo|test" >&2
	exit 64
	;;
esac
