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

# --- observers other than vmkit -------------------------------------
# What a test claims about a VM is also asked of QEMU itself (QMP over the
# VM's socket, tests/qmp.py), of the kernel (/proc) and of the guest (its
# shell on QEMU's console socket, tests/tools/guestsh.py).  Each prints
# its answer; a failure prints a message no check expects, never "".

# qmp NAME CMD [JSON-ARGS]...: QEMU's answers, one JSON line per command.
qmp() { _q=$1; shift; timeout 30 python3 "$TOP/tests/qmp.py" "$T/run/$_q/qmp-cli.sock" "$@" 2>&1; }
_qjson() {  # PY-EXPR: evaluated on the first JSON line of stdin as r
    python3 -c "import json,sys
try: r = json.loads(sys.stdin.readline())
except Exception as e: print('(no QMP answer: %s)' % e); sys.exit()
print($1)" 2>&1
}
# qstatus NAME: query-status (running, paused, prelaunch...)
qstatus() { qmp "$1" query-status | _qjson 'r["status"]'; }
# qcpus NAME: how many vCPUs QEMU runs
qcpus() { qmp "$1" query-cpus-fast | _qjson 'len(r)'; }
# qmem NAME: the guest's base memory in MiB
qmem() { qmp "$1" query-memory-size-summary | _qjson 'r["base-memory"] >> 20'; }
# qblock NAME: "DEVICE FILE ro=True|False" per attached medium
qblock() { qmp "$1" query-block | _qjson '"\n".join("%s %s ro=%s" % (b["device"], b["inserted"]["file"], b["inserted"]["ro"]) for b in r if "inserted" in b)'; }
# qname NAME: query-name
qname() { qmp "$1" query-name | _qjson 'r.get("name")'; }
# quuid NAME: query-uuid
quuid() { qmp "$1" query-uuid | _qjson 'r["UUID"]'; }

# qemu_pid NAME: the pid in NAME's pidfile
qemu_pid() { cat "$T/run/$1/pid" 2>/dev/null || echo "(no pidfile)"; }
# mon_pid NAME: the monitor's pid
mon_pid() { cut -d' ' -f1 "$T/run/$1/monitor.pid" 2>/dev/null || echo "(no monitor.pid)"; }
# proc_runs PID TEXT: /proc: PID is a live process (not a zombie) whose
# command line contains TEXT
proc_runs() {
    [ -r "/proc/$1/cmdline" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] &&
        tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}
# proc_gone PID [SECS]: /proc: PID is gone (or a zombie), waiting up to
# SECS (default 10) for it
proc_gone() {
    case $1 in ''|*[!0-9]*) return 1 ;; esac
    _end=$(( $(date +%s) + ${2:-10} ))
    while [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; do
        [ "$(date +%s)" -gt $_end ] && return 1
        sleep 0.05
    done
}
# ppid PID: its parent's pid (/proc)
ppid() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null || echo "(no /proc/$1)"; }

# gsh NAME CMD [SECS]: what the guest's own shell prints for CMD
gsh() { python3 "$TOP/tests/tools/guestsh.py" "$T/run/$1/console.sock" "$2" "${3:-20}" 2>&1; }
# guest_cpus NAME / guest_mem_mib NAME: the guest kernel's own count of
# its CPUs (/proc/cpuinfo) and memory (MemTotal in /proc/meminfo, MiB)
guest_cpus() { gsh "$1" 'grep -c ^processor /proc/cpuinfo' | tr -d ' \n'; }
guest_mem_mib() { gsh "$1" "sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo" | awk '{print int($1 / 1024)}'; }
# in_log NAME TEXT: QEMU's log of the guest's serial console has TEXT
in_log() { grep -qF -- "$2" "$T/run/$1/console.log" 2>/dev/null; }

# vm_finish: the monitors wrote no sanitizer report, then finish.
vm_finish() {
    if [ -s "$T/monitor.log" ] && grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/monitor.log"; then
        cp "$T/monitor.log" "$T/.out"; _report 1 "monitor processes: no sanitizer report" "$T/.out"
    else
        _report 0 "monitor processes: no sanitizer report"
    fi
    finish
}
