# Shared helpers for the shell tests (tests/t_*.sh).  Source it first:
#     . "$(dirname "$0")/lib.sh"
# Every check prints one TAP line ("ok N - ..." / "not ok N - ...");
# tests/run.sh counts them.  Call `finish` at the end.
#
#   ok DESC CMD...          CMD must exit 0
#   fails DESC CODE CMD...  CMD must exit with CODE (and not crash)
#   eq DESC ACTUAL EXPECTED strings must be equal
#   has DESC HAYSTACK NEEDLE  HAYSTACK must contain NEEDLE
#   skip DESC WHY
#
# $VMKIT is the command under test (absolute), $T a fresh scratch
# directory removed at exit, $TOP the source tree.  $SAN is 1 when the
# binary is the sanitizer build (tests may shrink slow loops, not checks).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
case $VMKIT in /*) ;; *) VMKIT=$TOP/$VMKIT ;; esac
SAN=${SAN:-0}
LONG=${LONG:-0}     # 1 under `make check-long`: sample more, run the heavy cases
# pick N_CHECK N_SAN N_LONG: a sampling count for this run (make check's plain
# build, its sanitizer build, or make check-long).  Shrinks loops, never checks.
pick() { if [ "$LONG" = 1 ]; then echo "$3"; elif [ "$SAN" = 1 ]; then echo "$2"; else echo "$1"; fi; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
_n=0
_failed=0
vmkit() { "$VMKIT" "$@"; }

_report() {  # status desc [output-file]
    _n=$((_n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $_n - $2"
    else
        _failed=$((_failed + 1))
        echo "not ok $_n - $2"
        if [ -n "${3:-}" ] && [ -s "$3" ]; then sed 's/^/#   /' "$3" | head -40; fi
    fi
}

# A sanitizer report or a signal is never an acceptable outcome.
_crashed() {  # exit-code output-file
    [ "$1" -ge 128 ] && return 0
    grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$2" 2>/dev/null
}

ok() {
    _d=$1; shift
    "$@" >"$T/.out" 2>&1; _rc=$?
    if [ $_rc -eq 0 ] && ! _crashed 0 "$T/.out"; then _report 0 "$_d"; else
        echo "exit $_rc: $*" >>"$T/.out"; _report 1 "$_d" "$T/.out"; fi
}

fails() {
    _d=$1; _want=$2; shift 2
    "$@" >"$T/.out" 2>&1; _rc=$?
    if [ $_rc -eq "$_want" ] && ! _crashed $_rc "$T/.out"; then _report 0 "$_d"; else
        echo "exit $_rc (wanted $_want): $*" >>"$T/.out"; _report 1 "$_d" "$T/.out"; fi
}

# Like fails, and the error message (stderr+stdout) must contain $3.
fails_with() {
    _d=$1; _want=$2; _msg=$3; shift 3
    "$@" >"$T/.out" 2>&1; _rc=$?
    if [ $_rc -eq "$_want" ] && ! _crashed $_rc "$T/.out" && grep -qF -- "$_msg" "$T/.out"; then
        _report 0 "$_d"; else
        echo "exit $_rc (wanted $_want, message '$_msg'): $*" >>"$T/.out"; _report 1 "$_d" "$T/.out"; fi
}

eq() {
    if [ "$2" = "$3" ]; then _report 0 "$1"; else
        printf 'got:      %s\nexpected: %s\n' "$2" "$3" >"$T/.out"; _report 1 "$1" "$T/.out"; fi
}

has() {
    case $2 in *"$3"*) _report 0 "$1" ;; *)
        printf 'output:\n%s\nlacks: %s\n' "$2" "$3" >"$T/.out"; _report 1 "$1" "$T/.out" ;; esac
}

skip() { _n=$((_n + 1)); echo "ok $_n - $1 # SKIP $2"; }

finish() {
    echo "1..$_n"
    [ $_failed -eq 0 ]
}
