#!/bin/bash
# Run every test against each build directory given (default: build):
# the shell tests tests/t_*.sh with VMKIT=DIR/vmkit, the C unit tests
# DIR/tests/*, and each fuzz entry point replaying its corpus.
# Two files run at a time.  Prints one line per file (PASS, SKIP: some
# checks were skipped, each listed with its reason; FAIL) and, last, the
# summary line "N passed, N failed, N skipped".  A skip is not a pass: a
# file that skips what cannot be missing where scripts/deps.sh ran (a
# tool it installs, vmkit's own driver) fails instead (tests/lib.sh
# `skip`, `need`).  A shell test must reach `finish` (its "1..N" line).
#
#   bash tests/run.sh [BUILD_DIR...]
#   TESTS="t_img t_part" bash tests/run.sh build    (a subset, by prefix)
#   LONG=1 bash tests/run.sh build   (make check-long: only the files that
#       sample with lib.sh's pick, sampling more, and tests/long/t_*.sh,
#       which must call pick too, e.g. `pick 0 0 1`)
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
[ $# -gt 0 ] || set -- build
# Debian's own tools first: a version manager's shims ahead of /usr/bin (pyenv's
# python3 wrapper costs up to seconds per call on a loaded machine) only slow
# the tests down; everything they need comes from scripts/deps.sh.
export PATH=/usr/bin:/bin:$PATH
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-run.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT
JOBS=${JOBS:-2}

selected() {  # name
    [ -z "${TESTS:-}" ] && return 0
    for p in $TESTS; do case $1 in "$p"*) return 0 ;; esac; done
    return 1
}

# One job: "kind|build|path".  Writes $LOGS/<id>.log with TAP lines.
run_job() {
    IFS='|' read -r kind build path <<<"$1"
    id=$(echo "$kind-$build-$path" | tr '/ ' '__')
    log=$LOGS/$id.log
    san=0; case $build in *asan*) san=1 ;; esac
    start=$(date +%s)
    case $kind in
    sh)   VMKIT=$TOP/$build/vmkit SAN=$san timeout $([ "${LONG:-0}" = 1 ] && echo 2400 || echo 900) bash "$path" >"$log" 2>&1 ;;
    unit) SAN=$san timeout 300 "$path" >"$log" 2>&1 ;;
    fuzz) name=$(basename "$path")
          n=0; bad=0
          for f in fuzz/corpus/$name/*; do
              [ -f "$f" ] || continue
              n=$((n + 1))
              if ! timeout 60 "$path" "$f" >"$log.one" 2>&1; then
                  bad=$((bad + 1)); echo "not ok $n - $name replays $f"; sed 's/^/#   /' "$log.one" | head -30
              else echo "ok $n - $name replays $f"; fi
          done >"$log"
          echo "1..$n" >>"$log"
          rm -f "$log.one" ;;
    esac
    rc=$?
    secs=$(( $(date +%s) - start ))
    if ! grep -qE '^(not )?ok ' "$log"; then
        echo "not ok 1 - $path produced no test results (exit $rc)" >>"$log"
    elif [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
        echo "not ok 999 - $path exited $rc" >>"$log"
    elif ! grep -qE '^1\.\.[0-9]+$' "$log"; then
        echo "not ok 998 - $path stopped before its end (no plan line; exit $rc)" >>"$log"
    fi
    s=$(grep -cE '^ok .* # SKIP' "$log")
    p=$(( $(grep -cE '^ok ' "$log") - s )); f=$(grep -cE '^not ok ' "$log")
    st=PASS; [ "$s" = 0 ] || st=SKIP; [ "$f" = 0 ] || st=FAIL
    printf '%-7s %-40s %4d passed %3d failed %3d skipped %4ds\n' "$st" \
        "$( [ $san = 1 ] && echo '[asan] ')$path" "$p" "$f" "$s" "$secs" >"$log.sum"
}
export -f run_job
export LOGS TOP

jobs_list() {
    for b in "$@"; do
        [ -x "$b/vmkit" ] || { echo "missing $b/vmkit: run make first" >&2; exit 1; }
        if [ "${LONG:-0}" = 1 ]; then
            # Only what a long run changes: files that sample with pick, and tests/long/.
            for t in tests/t_*.sh tests/long/t_*.sh; do
                case $t in tests/long/*) ;; *) grep -qw pick "$t" || continue ;; esac
                [ -f "$t" ] && selected "$(basename "$t")" && echo "sh|$b|$t"
            done
            continue
        fi
        for t in tests/t_*.sh; do selected "$(basename "$t")" && echo "sh|$b|$t"; done
        for u in "$b"/tests/t_*; do [ -x "$u" ] && selected "$(basename "$u")" && echo "unit|$b|$u"; done
        for z in "$b"/replay/fuzz_*; do [ -x "$z" ] && selected "$(basename "$z")" && echo "fuzz|$b|$z"; done
    done
}

jobs_list "$@" | xargs -d '\n' -P "$JOBS" -I{} bash -c 'run_job "$1"' _ {}

passed=0; failed=0; skipped=0
for s in "$LOGS"/*.log.sum; do
    [ -f "$s" ] || continue
    cat "$s"
    log=${s%.sum}
    if grep -q '^not ok ' "$log"; then
        grep -B0 -A40 '^not ok ' "$log" | grep -E '^(not ok|#)' | head -60 | sed 's/^/    /'
    fi
    # every skip, with its reason
    sed -n 's/^ok [0-9]* - \(.*\) # SKIP \(.*\)$/    skipped: \1 -- \2/p' "$log"
    n_skip=$(grep -cE '^ok .* # SKIP' "$log")
    skipped=$((skipped + n_skip))
    passed=$((passed + $(grep -cE '^ok ' "$log") - n_skip))
    failed=$((failed + $(grep -cE '^not ok ' "$log")))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
