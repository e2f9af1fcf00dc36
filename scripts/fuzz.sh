#!/bin/bash
# Build the libFuzzer harnesses with clang and run them.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
#
# SECONDS: how long each harness runs (default 60). HARNESS: fuzz_conf or
# conf, ... (default: every tests/fuzz/fuzz_*.c). Builds in ./build-fuzz
# (-DFC_FUZZ=ON, clang). Each harness fuzzes a copy of its seed corpus
# (tests/fuzz/corpus/NAME) in a temporary folder, so the repository's corpus
# does not grow; FUZZ_MERGE=1 adds the inputs that reached new code to it.
# Harnesses run FUZZ_JOBS at a time (default: one per CPU).
#
# Stops at the first crash, leak, timeout or broken invariant, names the
# input (kept in build-fuzz/fuzz-out/NAME/) and says how to make it a
# regression test. Exit 0 when every harness ran its time clean, 1 when one
# found a problem, 64 on a usage error, 69 when clang or libFuzzer is missing.
#
# Needs clang with libFuzzer: on Debian 12 the packages clang and
# libclang-rt-14-dev (clang only recommends it), and llvm-14 for
# llvm-symbolizer (stack traces with function names and lines).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=$ROOT/build-fuzz
OUT=$BUILD/fuzz-out
CORPORA=$ROOT/tests/fuzz/corpus
# libFuzzer: a slower input than this is a hang, reported like a crash.
INPUT_TIMEOUT=10
PACKAGES_HINT="clang libclang-rt-14-dev llvm-14"

usage() {
	echo "usage: $0 [SECONDS] [HARNESS...]" >&2
	echo "harnesses: $(all_harnesses | tr '\n' ' ')" >&2
	exit 64
}

all_harnesses() {
	for f in "$ROOT"/tests/fuzz/fuzz_*.c; do
		basename "$f" .c
	done
}

seconds=60
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
	seconds=$1
	shift
fi
[ "$seconds" -gt 0 ] || usage
harnesses=()
for h in "$@"; do
	h=fuzz_${h#fuzz_}
	[ -f "$ROOT/tests/fuzz/$h.c" ] || { echo "$0: no harness $h" >&2; usage; }
	harnesses+=("$h")
done
[ ${#harnesses[@]} -gt 0 ] || mapfile -t harnesses < <(all_harnesses)
jobs=${FUZZ_JOBS:-$(nproc)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "$0: FUZZ_JOBS must be a number" >&2; exit 64; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/famcontactd-fuzz.XXXXXX")
declare -A running=()
cleanup() {
	for pid in "${!running[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# clang, and a libFuzzer it can link (libclang-rt-*-dev on Debian).
if ! command -v clang >/dev/null; then
	echo "$0: clang is missing (Debian 12: apt-get install $PACKAGES_HINT)" >&2
	exit 69
fi
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
	>"$tmp/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" 2>"$tmp/probe.log"; then
	cat "$tmp/probe.log" >&2
	echo "$0: clang cannot link libFuzzer (Debian 12: apt-get install $PACKAGES_HINT)" >&2
	exit 69
fi
symbolizer=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 ||
	ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | tail -n 1 || true)
if [ -n "$symbolizer" ]; then
	export ASAN_SYMBOLIZER_PATH=$symbolizer
else
	echo "==> no llvm-symbolizer: stack traces will lack names (install llvm-14)"
fi
# A known leak in libconfig 1.5, not in famcontactd (see the file).
export LSAN_OPTIONS=suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1

echo "==> building the fuzz harnesses in build-fuzz (clang, libFuzzer, ASan+UBSan)"
build_start=$(date +%s)
CC=clang cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DFC_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target fuzzers -j "$(nproc)" >"$tmp/build.log" 2>&1 ||
	{ cat "$tmp/build.log" >&2; exit 1; }
echo "    built in $(($(date +%s) - build_start)) s"
mkdir -p "$OUT"

# Start harness $1: its corpus copy in $tmp/NAME, its log in $OUT/NAME.log.
start() {
	local h=$1 name=${1#fuzz_}

	mkdir -p "$tmp/$name" "$OUT/$name"
	cp -R "$CORPORA/$name/." "$tmp/$name/"
	echo "==> $h: ${seconds} s on $(ls "$tmp/$name" | wc -l) seed inputs"
	(cd "$OUT/$name" && exec "$BUILD/tests/$h" -max_total_time="$seconds" \
		-timeout=$INPUT_TIMEOUT -print_final_stats=1 \
		-artifact_prefix="$OUT/$name/" "$tmp/$name") >"$OUT/$name.log" 2>&1 &
	running[$!]=$h
}

# One line of figures from a clean run's log.
report() {
	local h=$1 name=${1#fuzz_} log=$OUT/${1#fuzz_}.log runs rate last

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 |
		sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, features \2, corpus \3/p')
	printf '    %-13s %12s runs  %8s/s  %s (seeds %s)\n' "$h" "${runs:-?}" "${rate:-?}" \
		"${last:-?}" "$(ls "$CORPORA/$name" | wc -l)"
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		"$BUILD/tests/$h" -merge=1 "$CORPORA/$name" "$tmp/$name" >>"$log" 2>&1
		echo "    merged into tests/fuzz/corpus/$name: $(ls "$CORPORA/$name" | wc -l) inputs"
	fi
}

# What a harness found: the input, its report, and how to keep it.
found() {
	local h=$1 name=${1#fuzz_} log=$OUT/${1#fuzz_}.log input

	input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	echo
	echo "==> $h FOUND A PROBLEM:"
	grep -E 'invariant broken|^==[0-9]+==ERROR|runtime error:|^SUMMARY' "$log" | head -n 5
	echo "==> the end of its report (all of it in ${log#"$ROOT"/}):"
	grep -v -E '^(#[0-9]+|INFO:|MS:|base unit:|\s*"|0x)' "$log" | tail -n 60
	echo
	if [ -n "$input" ]; then
		echo "The input: ${input#"$ROOT"/}"
		echo "Run it again:   build-fuzz/tests/$h ${input#"$ROOT"/}"
		echo "Make it a regression test, replayed by CTest in every build (fuzz/${name}_replay):"
		echo "    cp ${input#"$ROOT"/} tests/fuzz/corpus/$name/WHAT-IT-IS"
		echo "then fix the code and check: ctest --test-dir build -R fuzz/${name}_replay"
	else
		echo "$h stopped without naming an input (see the log)."
	fi
}

# Reap harness $1 (finished): report it, or stop everything at its problem.
finish() {
	local pid=$1 h=${running[$1]} rc=0

	wait "$pid" || rc=$?
	unset "running[$pid]"
	if [ $status -ne 0 ]; then
		return	# stopped because another one found a problem
	elif [ $rc -eq 0 ]; then
		echo "==> $h: clean"
		report "$h"
	else
		status=1
		next=${#harnesses[@]}
		# Stop the others: the first problem is the one to look at.
		for other in "${!running[@]}"; do
			kill "$other" 2>/dev/null || true
		done
		found "$h"
	fi
}

total_start=$(date +%s)
next=0
status=0
while [ $next -lt ${#harnesses[@]} ] || [ ${#running[@]} -gt 0 ]; do
	if [ $next -lt ${#harnesses[@]} ] && [ ${#running[@]} -lt "$jobs" ]; then
		start "${harnesses[$next]}"
		next=$((next + 1))
		continue
	fi
	sleep 1
	for pid in "${!running[@]}"; do
		kill -0 "$pid" 2>/dev/null || finish "$pid"
	done
done
echo "==> fuzzing took $(($(date +%s) - total_start)) s (${#harnesses[@]} harnesses, $jobs at a time)"
exit $status
