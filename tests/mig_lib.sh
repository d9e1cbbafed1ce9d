# The "other host" of the migration tests with --copy-storage
# (t_vm_migrate_cs, t_vm_migrate_tls): a second runtime and config dir
# behind an ssh stand-in, both ends on this machine.  Source it after
# lib.sh and vm_lib.sh (which cds into $T, where it makes its files).
#   $R2 CMD...    run CMD with the other side's environment
#   ssh.sh        the ssh stand-in: ARGS are HOST vmkit migrate-receive ...
#   nqemu DIR     how many QEMUs run from $T/DIR
#   gsh2 VM CMD   CMD in VM's guest shell over there
#   q2 QMP...     QMP on mv over there
#   runs_on WHY   mv runs on here, nothing of it is left over there
R2="env VMKIT_RUNTIME_DIR=$T/run2 VMKIT_CONFIG_DIR=$T/etc2 VMKIT_MONITOR_LOG=$T/monitor2.log"
mkdir -p run2 etc2 dst && chmod 700 run2 etc2
cleanup2() {
    for d in "$T"/run2/*/; do
        [ -d "$d" ] && VMKIT_RUNTIME_DIR=$T/run2 "$VMKIT" destroy "$(basename "$d")" >/dev/null 2>&1
    done
    pkill -KILL -f "$T/run2/" 2>/dev/null
    vm_cleanup
}
trap cleanup2 EXIT
printf '#!/bin/sh\nshift 2\nexec %s "%s" "$@"\n' "$R2" "$VMKIT" >ssh.sh

nqemu() { pgrep -f "qemu-system.*$T/$1/" | wc -l; }
gsh2() { python3 "$TOP/tests/tools/guestsh.py" "$T/run2/$1/console.sock" "$2" "${3:-20}" 2>&1; }
q2() { timeout 30 python3 "$TOP/tests/qmp.py" "$T/run2/mv/qmp-cli.sock" "$@" 2>&1; }
runs_on() {
    eq "QMP: mv still runs here ($1)" "$(qstatus mv)" running
    has "... its guest answers ($1)" "$(gsh mv 'echo ALIVE-$((6*7))')" "ALIVE-42"
    eq "nothing runs on the other side ($1)" "$(nqemu run2)" 0
    none "no VM dir left on the other side ($1)" ls run2
    # its tls/ (a CA) is the other host's own, not the VM's
    none "no VM defined on the other side ($1)" sh -c "ls etc2 | grep -v '^tls' || true"
    none "no disk file left in the storage dir ($1)" ls dst
}
