#!/bin/sh
# famcontactd quick start for a fresh Debian 12 machine.
#
#   scripts/quickstart.sh demo   install what is missing, build, run the demo
#   scripts/quickstart.sh test   install what is missing, build twice (warnings
#                                as errors; ASan+UBSan), run every test, then
#                                run each fuzz harness for 20 s (clang), then
#                                build the Debian package, run lintian on it
#                                and check it (ctest -L deb)
#   scripts/quickstart.sh deb    install the build dependencies (apt-get
#                                build-dep), build the Debian package from a
#                                copy of the tree into ./build-deb (the unit
#                                tests run during the build unless
#                                DEB_BUILD_OPTIONS has nocheck), run lintian
#
# Runs as root or through sudo for apt-get; builds in ./build, ./build-asan,
# ./build-fuzz and ./build-deb.
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
# layout check, Chromium to render the HTML parts at a phone's width,
# bash-completion to run famcontactctl's completion as bash does, and
# what builds and checks the Debian package.
DEB_PACKAGES="debhelper lintian dpkg-dev fakeroot"
TEST_PACKAGES="clang libclang-rt-14-dev llvm-14 valgrind postfix clang-format-14
chromium bash-completion $DEB_PACKAGES"

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

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

# The Debian package, from a copy of the tree (what git tracks plus new
# files it does not ignore: no build folders), so that the build starts
# clean and dpkg-buildpackage's results (written next to the source
# folder) land in build-deb/ rather than beside the checkout. lintian
# must report no error and no warning.
deb() {
	out="$ROOT/build-deb"
	src="$out/famcontactd"
	echo "==> installing the build dependencies (apt-get build-dep ./)"
	# A machine that never ran apt-get update has no package lists yet.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq \
		./ >/dev/null 2>&1 || {
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get build-dep \
			-y -qq ./ >/dev/null
	}
	rm -rf "$out"
	mkdir -p "$src"
	if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
			tar -C "$ROOT" --null --ignore-failed-read -cf - -T - 2>/dev/null |
			tar -C "$src" -xf -
	else
		tar -C "$ROOT" --exclude=./.git --exclude='./build*' \
			--exclude='./obj-*' -cf - . | tar -C "$src" -xf -
	fi
	echo "==> building the Debian package in $out" \
		"(DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-})"
	(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
		tail -n 60 "$out/build.log"
		echo "dpkg-buildpackage failed: $out/build.log" >&2
		return 1
	}
	ls "$out"/*.deb
	echo "==> lintian"
	lintian --fail-on error,warning "$out"/*.changes
	echo "lintian: no errors, no warnings"
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
	# An old package is not checked by the first run: deb/package skips.
	rm -rf "$ROOT/build-deb"
	build build -DFC_WERROR=ON
	run_tests build
	build build-asan -DFC_WERROR=ON -DFC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	run_tests build-asan
	# 20 s each keeps CI under 20 minutes; the long runs are by hand
	# (README, Fuzzing).
	echo "==> fuzzing: each harness for 20 s"
	scripts/fuzz.sh 20
	# The suite ran above: the package is built without running it again.
	DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" deb
	echo "==> checking the package"
	ctest --test-dir "$ROOT/build" -L deb --output-on-failure
	;;
deb)
	PACKAGES=$DEB_PACKAGES
	install_packages
	DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$(nproc)" deb
	;;
*)
	echo "usage: $0 demo|test|deb" >&2
	exit 64
	;;
esac
