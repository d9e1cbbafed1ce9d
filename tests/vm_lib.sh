# Shared setup for the VM runtime tests (t_vm_life, t_vm_actions,
# t_vm_multi, t_vm_bad).  Source after lib.sh.
#  - runtime and config dirs inside $T (VMKIT_RUNTIME_DIR/VMKIT_CONFIG_DIR),
#    so a test never sees or touches the user's VMs;
#  - VMKIT_MONITOR_LOG=$T/monitor.log collects every monitor's
#    diagnostics: vm_finish fails on a sanitizer report in it;
#  - an EXIT trap destroys every VM left in $T/run and kills anything
#    still carrying $T/run in its command line, so a failing test never
#    leaves QEMU running;
#  - $G is the direct-boot test guest (tests/fixtures/testguest.sh).
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc VMKIT_MONITOR_LOG=$T/monitor.log
mkdir -p "$T/run" "$T/etc" && chmod 700 "$T/run" "$T/etc"

vm_cleanup() {
    for d in "$T"/run/*/; do
        [ -d "$d" ] && "$VMKIT" destroy "$(basename "$d")" >/dev/null 2>&1
    done
    pkill -KILL -f "$T/run/" 2>/dev/null
    rm -rf "$T"
}
trap vm_cleanup EXIT

need qemu-system-x86_64 || { finish; exit; }
# The test guest comes from the Debian mirror scripts/deps.sh installs
# from (cached after the first time): not having it is a failure.
run_ok G sh "$TOP/tests/fixtures/testguest.sh" || { finish; exit; }

# guest_cfg NAME [extra xl.cfg lines...]: a direct-boot test guest config
# on stdout (no NIC, no display, 128 MiB: the Debian kernel resets at once in 64).
guest_cfg() {
    _name=$1; shift
    printf 'name = "%s"\nmemory = 128\nkernel = "%s/vmlinuz"\nramdisk = "%s/initrd.gz"\n' \
        "$_name" "$G" "$G"
    printf 'extra = "console=ttyS0 panic=-1 quiet"\nvif = []\nvnc = 0\n'
    for l in "$@"; do printf '%s\n' "$l"; done
}

# wait_log NAME TEXT [COUNT] [SECS]: wait until TEXT is in NAME's console
# log COUNT times (default 1), at most SECS (default 60).  Short polls: the
# guest boots in a few seconds under TCG.
wait_log() {
    _want=${3:-1}; _end=$(( $(date +%s) + ${4:-60} ))
    while [ "$(date +%s)" -le $_end ]; do
        _c=$(grep -c -- "$2" "$T/run/$1/console.log" 2>/dev/null)
        [ "${_c:-0}" -ge "$_want" ] && return 0
        sleep 0.1
    done
    return 1
}

# wait_gone NAME [SECS]: until NAME's runtime dir is gone (default 30 s).
wait_gone() {
    _end=$(( $(date +%s) + ${2:-30} ))
    while [ -d "$T/run/$1" ]; do
        [ "$(date +%s)" -gt $_end ] && return 1
        sleep 0.05
    done
}

# no_qemu_left DESC: nothing of this test runs any more (QEMU carries
# $T/run in its socket paths).
no_qemu_left() {
    sleep 0.2
    eq "$1" "$(pgrep -f "qemu-system.*$T/run/" | wc -l)" 0
}

# vm_finish: the monitors wrote no sanitizer report, then finish.
vm_finish() {
    if [ -s "$T/monitor.log" ] && grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/monitor.log"; then
        cp "$T/monitor.log" "$T/.out"; _report 1 "monitor processes: no sanitizer report" "$T/.out"
    else
        _report 0 "monitor processes: no sanitizer report"
    fi
    finish
}
