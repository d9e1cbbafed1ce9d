#!/bin/bash
# Runs every libFuzzer binary in build/fuzz for a fixed time, seeded from
# fuzz/corpus/<target>/ (read only: new inputs go to a scratch directory),
# under ASan/UBSan as `make fuzz` builds them, with fuzz/<target>.dict as
# the libFuzzer dictionary when there is one.  Any crash, sanitizer
# report, leak or timeout fails the target; the reproducer is kept in
# build/fuzz/artifacts/<target>/ and named in the output.  After the bug is
# fixed, copy it into fuzz/corpus/<target>/ so `make check` replays it.
#
#   bash fuzz/smoke.sh [TARGET...]        (default: every build/fuzz/fuzz_*)
#   FUZZ_SECONDS=60  time per target     FUZZ_JOBS=2  targets run at once
#
# Prints one line per target and, last, "N passed, N failed"; exits 1 if
# any target failed.
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
SECS=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export TOP SECS WORK

if [ $# -eq 0 ]; then
    for b in build/fuzz/fuzz_*; do [ -x "$b" ] && set -- "$@" "$(basename "$b")"; done
fi
[ $# -gt 0 ] || { echo "no fuzz targets in build/fuzz: run make fuzz" >&2; exit 1; }

run_one() {
    t=$1
    bin=$TOP/build/fuzz/$t
    art=$TOP/build/fuzz/artifacts/$t
    mkdir -p "$WORK/$t" "$art"
    seeds=$TOP/fuzz/corpus/$t
    [ -d "$seeds" ] || seeds=
    dict=
    [ -f "$TOP/fuzz/$t.dict" ] && dict=-dict=$TOP/fuzz/$t.dict
    start=$(date +%s)
    # -timeout: one input may take this long (the machine is shared and
    # the binaries are sanitized); -rss_limit_mb: a bounded parser stays
    # far below it.  The scratch corpus comes first: new inputs land there.
    "$bin" -max_total_time="$SECS" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
        $dict -artifact_prefix="$art/" "$WORK/$t" $seeds >"$WORK/$t.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log" | tail -1)
    if [ $rc -eq 0 ]; then
        printf 'PASS    %-24s %9s runs %4ds\n' "$t" "${runs:-?}" "$secs" >"$WORK/$t.sum"
    else
        repro=$(sed -n 's/.*Test unit written to //p' "$WORK/$t.log" | tail -1)
        {
            printf 'FAIL    %-24s exit %d after %ds; reproducer: %s\n' "$t" "$rc" "$secs" "${repro:-none}"
            grep -E 'ERROR: |SUMMARY: |runtime error|#[0-9]+ 0x' "$WORK/$t.log" | head -25 | sed 's/^/    /'
            echo "    (full log: build/fuzz/artifacts/$t/smoke.log; after the fix: cp REPRODUCER fuzz/corpus/$t/)"
        } >"$WORK/$t.sum"
        cp "$WORK/$t.log" "$art/smoke.log"
    fi
}
export -f run_one

printf '%s\n' "$@" | xargs -P "$JOBS" -I{} bash -c 'run_one "$1"' _ {}

passed=0; failed=0
for t in "$@"; do
    if [ ! -f "$WORK/$t.sum" ]; then
        echo "FAIL    $t: did not run"; failed=$((failed + 1)); continue
    fi
    cat "$WORK/$t.sum"
    case $(head -c4 "$WORK/$t.sum") in PASS) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
