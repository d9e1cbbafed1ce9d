#!/bin/bash
# serial = [ "pty", "pty" ] boots a guest with two serial ports: port 0 is
# vmkit's console, port 1 the guest's ttyS1 on a socket (and log) in the
# runtime directory.  The guest's own words prove it: it writes a line to
# /dev/ttyS1 and the test reads it from serial1.sock and serial1.log.  A
# config whose port 0 is not a pty has no console, and says so.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/vm_lib.sh"

guest_cfg two 'serial = [ "pty", "pty" ]' >two.cfg
ok "create with two serial ports" vmkit create two.cfg
ok "guest ready on ttyS0 (the console)" wait_log two VMKIT-READY 1 120
ok "serial1.sock is a socket in the runtime directory" test -S "$T/run/two/serial1.sock"
has "QEMU has a second isa-serial on it" "$(tr '\0' ' ' <"$T/run/two/argv")" \
    "-device isa-serial,chardev=serial1,index=1"
echo 'echo TTYS1-HELLO $((6*7)) >/dev/ttyS1' | vmkit console --timeout 5 two >"$T/con.out" 2>&1
for _ in $(seq 300); do grep -q "TTYS1-HELLO 42" "$T/run/two/serial1.log" 2>/dev/null && break; sleep 0.1; done
has "the guest's line arrives on port 1's chardev (its log, written by QEMU)" \
    "$(cat "$T/run/two/serial1.log" 2>/dev/null)" "TTYS1-HELLO 42"
case $(cat "$T/run/two/console.log") in
*"TTYS1-HELLO 42"*) eq "port 1's output is not on the console" on-console nowhere-else ;;
*) eq "port 1's output is not on the console" ok ok ;;
esac
ok "destroy" vmkit destroy two

guest_cfg tcp0 'serial = [ "null", "pty" ]' >tcp0.cfg
ok "create with a null port 0" vmkit create tcp0.cfg
fails_with "no console when port 0 is not a pty" 1 "tcp0: no console: serial port 0 is 'null', not \"pty\"" \
    vmkit console --timeout 1 tcp0 </dev/null
ok "destroy" vmkit destroy tcp0
no_qemu_left "nothing left running"
vm_finish
