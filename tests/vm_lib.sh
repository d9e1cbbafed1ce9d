# Shared by the VM runtime tests (tests/t_vm_*.sh): source after lib.sh.
# Every VM state goes under $T (VMKIT_RUNTIME_DIR, VMKIT_CONFIG_DIR), the
# monitors' diagnostics into $T/monitor.log (VMKIT_MONITOR_LOG) so
# sanitizer reports of the forked monitors are seen (vm_finish checks).
# At exit every VM of this test is destroyed and any QEMU still carrying
# this test's runtime path in its argv is killed: a failing test never
# leaves a VM running.
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc VMKIT_MONITOR_LOG=$T/monitor.log
mkdir -p "$T/run" "$T/etc" && chmod 700 "$T/run" "$T/etc"
FIX=$TOP/tests/fixtures

vm_cleanup() {
    for d in "$T"/run/*/; do
        [ -d "$d" ] && "$VMKIT" destroy "$(basename "$d")" >/dev/null 2>&1
    done
    pkill -9 -f -- "$T/run/" 2>/dev/null
    rm -rf "$T"
}
trap vm_cleanup EXIT

if ! command -v qemu-system-x86_64 >/dev/null; then
    skip "VM runtime" "qemu-system-x86_64 missing"; finish; exit
fi
G=$(sh "$FIX/testguest.sh" 2>"$T/guest.err") || {
    skip "VM runtime" "no test guest: $(tail -1 "$T/guest.err")"; finish; exit; }

# cfg NAME [extra xl.cfg lines...] > FILE: the direct-boot test guest.
cfg() {
    _name=$1; shift
    cat <<CFG
name = "$_name"
memory = 128
kernel = "$G/vmlinuz"
ramdisk = "$G/initrd.gz"
extra = "console=ttyS0 panic=-1 quiet"
vif = []
vnc = 0
CFG
    for l in "$@"; do echo "$l"; done
}

# count_line NAME TEXT: how many lines of NAME's console log hold TEXT.
count_line() { _c=$(grep -caF -- "$2" "$T/run/$1/console.log" 2>/dev/null); echo "${_c:-0}"; }

# wait_line NAME TEXT [N [SECS]]: until TEXT is on N lines (default 1) of
# NAME's console log, at most SECS (default 60; TCG boots take ~5-15 s).
wait_line() {
    _i=0; _max=$(( ${4:-60} * 20 ))
    while [ "$_i" -lt "$_max" ]; do
        [ "$(count_line "$1" "$2")" -ge "${3:-1}" ] && return 0
        sleep 0.05; _i=$((_i + 1))
    done
    return 1
}

# wait_gone NAME [SECS]: until NAME's runtime directory is gone.
wait_gone() {
    _i=0; _max=$(( ${2:-30} * 20 ))
    while [ -e "$T/run/$1" ] && [ "$_i" -lt "$_max" ]; do sleep 0.05; _i=$((_i + 1)); done
    [ ! -e "$T/run/$1" ]
}

# vm_state NAME: the "state" field of `vmkit list --json NAME` ("" if none).
vm_state() {
    "$VMKIT" list --json "$1" 2>/dev/null |
        python3 -c 'import json,sys; a=json.load(sys.stdin); print(a[0]["state"] if a else "")' 2>/dev/null
}

# qemu_of NAME: pids of QEMU processes of this test named NAME.
qemu_of() { pgrep -f -- "$T/run/$1/qmp.sock" | tr '\n' ' '; }

# console_cmd NAME CMD: run CMD in the guest's shell, print the console's
# answer.  The answer is framed by markers so stale output is ignored.
console_cmd() {
    printf '\n%s\n' "echo BEGIN-\$((40+2)); $2; echo END-\$((40+2))" |
        timeout 20 "$VMKIT" console --timeout 15 "$1" >"$T/.cons" 2>&1 &
    _p=$!
    _i=0
    while [ $_i -lt 300 ] && ! grep -q '^END-42' "$T/.cons" 2>/dev/null; do sleep 0.05; _i=$((_i+1)); done
    kill $_p 2>/dev/null; wait $_p 2>/dev/null
    tr -d '\r' <"$T/.cons" | sed -n '/^BEGIN-42/,/^END-42/p' | sed '1d;$d'
}

# vm_finish: no sanitizer report in any monitor's log, then finish.
vm_finish() {
    if [ -s "$T/monitor.log" ] && grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$T/monitor.log"; then
        _report 1 "no sanitizer report from the monitors" "$T/monitor.log"
    else
        _report 0 "no sanitizer report from the monitors"
    fi
    finish
}
