# Crash-injection harness for the filesystem write paths, shared by
# tests/t_fs_crash_*.sh.  Source it after lib.sh.
#
# A writer (a vmkit command) is killed with SIGKILL just before its Nth
# write system call to the image (tests/tools/crashpoint: pwrite, fsync,
# fallocate... on that file count; the page cache survives the kill, so
# writes 1..N-1 are what a crashed process leaves).  Crash points are
# sampled evenly over the writer's whole count of writes.  After each
# kill a verdict function of the test inspects the image with the real
# tools and says whether every file holds its old or its new content.
#
#   crash_writes IMAGE CMD...
#       Run CMD (it must exit 0) and print how many writes it made to IMAGE.
#   crash_points W K
#       Print at most K crash points spread evenly over 1..W.
#   crash_test NAME IMAGE PRISTINE K VERDICT CMD...
#       For each sampled point N (1..W-1, W the writes of a whole run):
#       copy PRISTINE to IMAGE, run CMD killed before its Nth write, then run "VERDICT IMAGE", which must print
#       one line: "old", "new", "mixed" (some files old, some new: fine for
#       a run that writes several) or "wrong: WHY".  First runs CMD once
#       uninterrupted on a copy of PRISTINE to count its writes (its
#       verdict must be "new").  Checks (TAP): the full run exits 0 and
#       gives "new"; every kill landed (exit status 137 from SIGKILL and
#       the counter reached N; a run that made fewer writes than the first
#       and exited 0 is no crash point, is reported, and at least 3/4 of
#       the sampled points must be reached); no crash point gives a wrong
#       file.  Prints "# NAME: P crash points, a old, b new, m mixed,
#       c wrong".
#       CMD may start with "vmkit" (lib.sh's function): $VMKIT runs.
#   crash_test_reset NAME TARGET RESET K VERDICT CMD...
#       The same with a RESET command instead of PRISTINE (run before each
#       run) and a VERDICT taking no argument; TARGET, what crashpoint
#       counts writes to, may be a directory: then writes to any file in it
#       count (an output built under a temporary name, then renamed).
#       Environment: CRASH_STDIN=FILE feeds CMD's standard input;
#       CRASH_ALL=1 samples up to the last write too (for writers whose
#       last write is not timing-dependent);
#       CRASH_CLEAN=FUNC, when set, is run as "FUNC IMAGE" on the result of
#       the uninterrupted run and must succeed (the real checker: clean).  The
#       last wrong image is kept as $T/wrong-NAME.img for the failure log.
#   CRASH_K: default number of crash points (smaller under $SAN=1).
#
# Power cuts.  A kill leaves the writes before it in order; a power cut
# can also lose any of the writes made since the file's last sync while
# keeping later ones.  So when TARGET is a regular file, crash_test_reset
# then runs CMD once more, recorded (crashpoint -r), and rebuilds up to K
# such states with tests/tools/powercut.py: of the writes between two
# syncs, only one persisted, or all but one, or one write only up to its
# first 4 KiB page or from its last (every epoch is sampled, the one
# after the last sync too).  Each state is
# judged by the same VERDICT: old, new or mixed, never wrong; and no
# write may be left unsynced when CMD exits.  Prints
# "# NAME: power cuts: S states of E reorderable epochs, ...".  A writer
# that touches files other than TARGET must set CRASH_POWERCUT=0 (the
# states would pair a rebuilt TARGET with the others as RESET left them).
CRASHPOINT=${CRASHPOINT:-$(dirname "$VMKIT")/tools/crashpoint}
CRASH_K=${CRASH_K:-$([ "$SAN" = 1 ] && echo 12 || echo 30)}

_crash_run() {  # N IMAGE CMD...  -> exit status of crashpoint; stderr in $T/.crash
    _cn=$1 _ci=$2; shift 2
    [ "$1" = vmkit ] && { shift; set -- "$VMKIT" "$@"; }   # lib.sh's function
    # LeakSanitizer cannot run under ptrace: the sanitizer build checks
    # leaks in the other tests.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        "$CRASHPOINT" "$_cn" "$_ci" "$@" <"${CRASH_STDIN:-/dev/null}" >"$T/.crash.out" 2>"$T/.crash"
}

crash_writes() {  # IMAGE CMD...
    _crash_run 0 "$@" || { cat "$T/.crash" "$T/.crash.out" >&2; return 1; }
    sed -n 's/^crashpoint: \([0-9]*\) writes$/\1/p' "$T/.crash" | tail -1
}

crash_points() {  # W K
    awk -v w="$1" -v k="$2" 'BEGIN {
        if (w < 1) exit
        if (k > w) k = w
        for (i = 0; i < k; i++) {
            p = (k == 1) ? 1 : 1 + int(i * (w - 1) / (k - 1) + 0.5)
            if (p != last) print p
            last = p
        } }'
}

crash_test() {  # NAME IMAGE PRISTINE K VERDICT CMD...
    _ct_img=$2 _ct_pristine=$3 _ct_verdict=$5 _ct_name=$1 _ct_k=$4
    shift 5
    crash_test_reset "$_ct_name" "$_ct_img" _crash_copy_pristine "$_ct_k" _crash_verdict_img "$@"
}
_crash_copy_pristine() { cp --sparse=always "$_ct_pristine" "$_ct_img"; }
_crash_verdict_img() { "$_ct_verdict" "$_ct_img"; }

crash_test_reset() {  # NAME TARGET RESET K VERDICT CMD...
    _name=$1 _img=$2 _reset=$3 _k=$4 _verdict=$5
    shift 5
    $_reset
    _w=$(crash_writes "$_img" "$@")
    _clean=ok
    [ -n "${CRASH_CLEAN:-}" ] && ! "$CRASH_CLEAN" "$_img" >"$T/.crash.clean" 2>&1 && _clean="not clean: $(tail -3 "$T/.crash.clean" | tr '\n' ' ')"
    _full=$([ -n "$_w" ] && $_verdict 2>&1)
    eq "$_name: uninterrupted run succeeds with the new content" "${_w:+ok} $_full" "ok new"
    eq "$_name: uninterrupted run leaves a clean filesystem" "$_clean" ok
    _old=0 _new=0 _mixed=0 _wrong=0 _missed=0 _early=0 _pts=0 _tried=0 _why=
    # The writer's very last write (a final sync at close) may or may not
    # happen depending on timing: points stop one short of it.
    for _p in $(crash_points "$((${_w:-1} - (${CRASH_ALL:-0} == 1 ? 0 : 1)))" "$_k"); do
        _tried=$((_tried + 1))
        $_reset
        _crash_run "$_p" "$_img" "$@"
        _rc=$?
        if [ $_rc = 0 ] && ! grep -q "killed before" "$T/.crash"; then
            # Fewer writes this time (timing): no crash point, but say so.
            _early=$((_early + 1))
            continue
        fi
        if [ $_rc != 137 ] || ! grep -qx "crashpoint: killed before write $_p" "$T/.crash"; then
            _missed=$((_missed + 1))
            _why="$_why point $_p: exit $_rc $(tail -2 "$T/.crash" | tr '\n' ' ');"
            continue
        fi
        _pts=$((_pts + 1))
        _v=$($_verdict 2>&1)
        case $_v in
        old) _old=$((_old + 1)) ;;
        new) _new=$((_new + 1)) ;;
        mixed) _mixed=$((_mixed + 1)) ;;
        *) _wrong=$((_wrong + 1))
           _why="$_why point $_p: $_v;"
           [ -f "$_img" ] && cp --sparse=always "$_img" "$T/wrong-${_name//[^A-Za-z0-9_.-]/_}.img" ;;
        esac
    done
    echo "# $_name: $_pts crash points, $_old old, $_new new, $_mixed mixed, $_wrong wrong$([ $_early = 0 ] || echo ", $_early runs finished before their point")"
    eq "$_name: every kill landed mid-write, killed by SIGKILL" "$_missed" 0
    [ $_missed = 0 ] || echo "# $_why" | head -c 2000
    # (with a handful of points, one that timing made the writer finish
    # before is allowed: 2 of 3 reached is not a harness failure)
    eq "$_name: most sampled points were reached ($_pts of $_tried)" \
        "$((_pts * 4 >= _tried * 3 || (_pts >= 1 && _pts + 1 >= _tried && _tried <= 4)))" 1
    eq "$_name: old or new content at every crash point" "$_wrong" 0
    [ $_wrong = 0 ] || echo "# $_why" | head -c 2000
    [ "$_pts" -ge 2 ] || eq "$_name: enough crash points" "$_pts" ">= 2"
    if [ -f "$_img" ] && [ "${CRASH_POWERCUT:-1}" = 1 ]; then
        _powercut "$@"
    fi
}

# The power-cut pass of crash_test_reset (its variables; CMD as arguments).
_powercut() {
    $_reset
    cp --sparse=always "$_img" "$T/.pc.pristine"
    _cn=0 _ci=$_img
    _crash_run_rec "$@"
    _rc=$?
    eq "$_name: recorded run succeeds (power cuts)" "$_rc $(tail -1 "$T/.crash" | sed 's/[0-9]* writes/N writes/')" "0 crashpoint: N writes" || return
    python3 "$TOP/tests/tools/powercut.py" states "$T/.pc.log" "$_k" >"$T/.pc.states" 2>"$T/.pc.err"
    eq "$_name: powercut reads the record" "$? $(head -c 300 "$T/.pc.err")" "0 " || return
    _old=0 _new=0 _mixed=0 _wrong=0 _why= _pcn=0
    for _s in $(tail -n +2 "$T/.pc.states"); do
        _pcn=$((_pcn + 1))
        $_reset
        if ! python3 "$TOP/tests/tools/powercut.py" build "$T/.pc.log" "$T/.pc.pristine" "$_img" "$_s" 2>"$T/.pc.err"; then
            _wrong=$((_wrong + 1)) _why="$_why state $_s: build failed: $(head -c 200 "$T/.pc.err");"
            continue
        fi
        _v=$($_verdict 2>&1)
        case $_v in
        old) _old=$((_old + 1)) ;;
        new) _new=$((_new + 1)) ;;
        mixed) _mixed=$((_mixed + 1)) ;;
        *) _wrong=$((_wrong + 1))
           _why="$_why state $_s: $_v;"
           cp --sparse=always "$_img" "$T/wrong-pc-${_name//[^A-Za-z0-9_.-]/_}.img" ;;
        esac
    done
    echo "# $_name: power cuts: $_pcn states ($(head -1 "$T/.pc.states")), $_old old, $_new new, $_mixed mixed, $_wrong wrong"
    eq "$_name: old or new content after every power cut" "$_wrong" 0
    [ $_wrong = 0 ] || echo "# $_why" | head -c 2000
    # A command that returned must not lose its work to a later cut.
    eq "$_name: every write synced before the command exits" \
        "$(head -1 "$T/.pc.states" | sed -n 's/.* unsynced \([0-9]*\)$/\1/p')" 0
}

_crash_run_rec() {  # CMD...: crashpoint -r $T/.pc.log 0 $_img CMD
    [ "$1" = vmkit ] && { shift; set -- "$VMKIT" "$@"; }
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        "$CRASHPOINT" -r "$T/.pc.log" 0 "$_img" "$@" <"${CRASH_STDIN:-/dev/null}" >"$T/.crash.out" 2>"$T/.crash"
}
