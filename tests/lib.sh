# Shared helpers for the shell tests (tests/t_*.sh).  Source it first:
#     . "$(dirname "$0")/lib.sh"
# Every check prints one TAP line ("ok N - ..." / "not ok N - ...");
# tests/run.sh counts them.  Call `finish` at the end.  Each check's
# status is 0 when it passed, 1 when it failed.
#
#   ok DESC CMD...          CMD must exit 0
#   ok_in DESC TEXT CMD...  the same, TEXT (printf %b) on its stdin
#   fails DESC CODE CMD...  CMD must exit with CODE (and not crash)
#   eq DESC ACTUAL EXPECTED strings must be equal (EXPECTED never empty)
#   none DESC CMD...        CMD must exit 0 and print nothing
#   has DESC HAYSTACK NEEDLE  HAYSTACK must contain NEEDLE (never empty)
#   one_of DESC VALUE "A B.." VALUE must be one of the words A, B...
#   run_ok VAR CMD...       CMD must exit 0; its stdout goes into $VAR
#   need TOOL...            each TOOL (scripts/deps.sh installs it) is in
#                           PATH: a failed check otherwise, and status 1
#   skip DESC WHY           only for what a machine set up by
#                           scripts/deps.sh may truly lack (KVM, a host
#                           setting): tests/run.sh counts and lists skips
#
# A skip is not a pass.  vmkit's own features and the tools deps.sh
# installs are never a reason to skip: `skip` turns such a reason (see
# _bad_skip) into a failed check.
#
# $VMKIT is the command under test (absolute), $T a fresh scratch
# directory removed at exit, $TOP the source tree.  $SAN is 1 when the
# binary is the sanitizer build (tests may shrink slow loops, not checks).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$TOP/tests/lib.sh" ] || TOP=$(cd "$TOP/.." && pwd)   # tests/long/t_*.sh
VMKIT=${VMKIT:-$TOP/build/vmkit}
case $VMKIT in /*) ;; *) VMKIT=$TOP/$VMKIT ;; esac
SAN=${SAN:-0}
LONG=${LONG:-0}     # 1 under `make check-long`: sample more, run the heavy cases
# pick N_CHECK N_SAN N_LONG: a sampling count for this run (make check's plain
# build, its sanitizer build, or make check-long).  Shrinks loops, never checks.
# qemu_locked FILE PID [ERRFILE]: wait (60 s) until the QEMU of PID holds
# FILE's image locks (its OFD locks show in /proc/locks); prints "yes", or
# "no: ..." when QEMU exited (with ERRFILE's start) or never took them.
# Not by trying qemu-img info: its own lock, met at the moment QEMU opens
# the image, makes QEMU exit with 'Failed to get "write" lock'.
qemu_locked() {
    _ino=$(stat -c %i "$1")
    for _ in $(seq 600); do
        grep -q ":$_ino " /proc/locks && { echo yes; return; }
        kill -0 "$2" 2>/dev/null || { echo "no: QEMU exited: $(head -c 300 "${3:-/dev/null}")"; return; }
        sleep 0.1
    done
    echo "no: QEMU took no lock on $1 in 60 s"
}
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
    return "$1"   # so a check can guard what depends on it: ok ... || ...
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
    if [ -z "$3" ]; then   # "" is also what a failed $(cmd) gives: use `none`
        printf 'eq against an empty expected value (got: %s): use none CMD\n' "$2" >"$T/.out"
        _report 1 "$1" "$T/.out"; return; fi
    if [ "$2" = "$3" ]; then _report 0 "$1"; else
        printf 'got:      %s\nexpected: %s\n' "$2" "$3" >"$T/.out"; _report 1 "$1" "$T/.out"; fi
}

has() {
    if [ -z "$3" ]; then   # an empty needle is in every haystack: a check that cannot fail
        printf 'empty needle (haystack: %s)\n' "$2" >"$T/.out"; _report 1 "$1" "$T/.out"; return; fi
    case $2 in *"$3"*) _report 0 "$1" ;; *)
        printf 'output:\n%s\nlacks: %s\n' "$2" "$3" >"$T/.out"; _report 1 "$1" "$T/.out" ;; esac
}

# ok_in DESC TEXT CMD...: like ok, TEXT (printf %b: \n is a newline) on
# CMD's stdin.
ok_in() {
    _d=$1; _in=$2; shift 2
    printf '%b' "$_in" | "$@" >"$T/.out" 2>&1; _rc=$?
    if [ $_rc -eq 0 ] && ! _crashed 0 "$T/.out"; then _report 0 "$_d"; else
        echo "exit $_rc: $*" >>"$T/.out"; _report 1 "$_d" "$T/.out"; fi
}

# none DESC CMD...: CMD exits 0 and prints nothing (stdout nor stderr).
none() {
    _d=$1; shift
    "$@" >"$T/.out" 2>&1; _rc=$?
    if [ $_rc -eq 0 ] && [ ! -s "$T/.out" ]; then _report 0 "$_d"; else
        echo "exit $_rc (wanted 0 and no output): $*" >>"$T/.out"; _report 1 "$_d" "$T/.out"; fi
}

# one_of DESC VALUE WORDS: VALUE (never empty) is one of the words.
one_of() {
    case " $3 " in *" $2 "*) [ -n "$2" ] && { _report 0 "$1"; return; } ;; esac
    printf 'got:      %s\nexpected one of: %s\n' "$2" "$3" >"$T/.out"; _report 1 "$1" "$T/.out"
}

# run_ok VAR CMD...: run CMD (one check: it must exit 0 and not crash),
# its stdout (trailing newlines stripped, as $(...) does) into VAR.
# Returns CMD's status.  For setup output a later check relies on:
# $(cmd) alone hides a failure behind empty output.
run_ok() {
    _v=$1; shift
    "$@" >"$T/.stdout" 2>"$T/.stderr"; _rc=$?
    printf -v "$_v" '%s' "$(cat "$T/.stdout")"
    _d="runs: $*"; _d=${_d//$T/\$T}; _d=${_d//$TOP/\$TOP}; [ ${#_d} -gt 100 ] && _d="${_d:0:97}..."
    if [ $_rc -eq 0 ] && ! _crashed 0 "$T/.stderr"; then _report 0 "$_d"; else
        { cat "$T/.stderr"; echo "exit $_rc: $*"; } >"$T/.out"; _report 1 "$_d" "$T/.out"; fi
    return $_rc
}

# need TOOL...: scripts/deps.sh installs each TOOL, so a missing one is a
# failed check (never a skip).  Status 1 when any is missing.
need() {
    _miss=0
    for _t in "$@"; do
        command -v "$_t" >/dev/null && continue
        _miss=1
        echo "$_t not in PATH: run scripts/deps.sh" >"$T/.out"; _report 1 "$_t is installed" "$T/.out"
    done
    return $_miss
}

# Reasons that cannot be true where scripts/deps.sh has run: a tool it
# installs is missing, or a part of vmkit itself is.
_bad_skip() {
    printf '%s' "$1" | grep -qiE 'missing|not found|not installed|not in (this|the) (tree|build)|no [a-z0-9]+ driver|not built|not implemented|cannot (write|read|open|create)|apt-get'
}

skip() {
    if _bad_skip "$2"; then
        echo "skipped because: $2 -- which cannot be true where scripts/deps.sh ran and vmkit is built" >"$T/.out"
        _report 1 "$1 (skipped)" "$T/.out"; return
    fi
    _n=$((_n + 1)); echo "ok $_n - $1 # SKIP $2"
}

finish() {
    echo "1..$_n"
    [ $_failed -eq 0 ]
}
