#!/bin/bash
# Identities of VMs: every NIC gets its own MAC (xl's 00:16:3e + random),
# kept by define so a defined VM keeps it across starts, fresh per create
# of an undefined config (as xl); QEMU itself is asked (QMP `info network`)
# which MAC the NIC has.  A uuid another defined or running VM has is
# refused (as libvirt).  list --all shows defined VMs that are not running
# ("shut off", as virsh).  edit: $VISUAL/$EDITOR on the stored config,
# checked as define checks it, replaced atomically; a bad edit keeps the
# old config (exit 1), on a terminal the user may edit again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
export TMPDIR=$T    # edit's copies: this run's own, whatever another left in /tmp

mac_of() {  # NAME: the MAC of QEMU's first NIC, from QEMU
    python3 "$TOP/tests/qmp.py" "$T/run/$1/qmp-cli.sock" human-monitor-command \
        '{"command-line": "info network"}' | grep -o 'macaddr=[0-9a-f:]*' | head -1 | cut -d= -f2
}
stored_mac() { grep -o 'mac=[0-9a-f:]*' "$T/etc/$1.cfg" | head -1 | cut -d= -f2; }

guest_cfg w1 >w1.cfg
sed -i '/^vif = \[\]$/d' w1.cfg                     # no vif key: the default NIC
guest_cfg w2 'vif = [ "type=user", "type=user,model=e1000" ]' | sed '/^vif = \[\]$/d' >w2.cfg
ok "define w1 (no vif)" vmkit define w1.cfg
ok "define w2 (two vifs without mac)" vmkit define w2.cfg
m1=$(stored_mac w1)
m2=$(grep -o 'mac=[0-9a-f:]*' "$T/etc/w2.cfg" | cut -d= -f2 | tr '\n' ' ')
case $m1 in 00:16:3e:[0-7]?:??:??) r=xl ;; *) r="$m1" ;; esac
eq "w1's stored MAC is xl's 00:16:3e with the 4th byte < 0x80" "$r" xl
eq "w2 got two MACs" "$(echo $m2 | wc -w)" 2
eq "three different MACs" "$(printf '%s\n' $m1 $m2 | sort -u | wc -l)" 3

ok "start w1 (paused)" vmkit start -p w1
eq "QEMU's NIC has the stored MAC" "$(mac_of w1)" "$m1"
ok "destroy w1" vmkit destroy w1
ok "start w1 again" vmkit start -p w1
eq "... and the same MAC on the second start" "$(mac_of w1)" "$m1"

# an undefined config: a fresh MAC per create, as xl
a=$(vmkit create -n w1.cfg name=u1 accel=tcg | grep -o 'mac=[0-9a-f:]*' | head -1)
b=$(vmkit create -n w1.cfg name=u1 accel=tcg | grep -o 'mac=[0-9a-f:]*' | head -1)
ok "create -n shows a MAC" test -n "$a"
ok "two creates of one undefined config: two MACs" test "$a" != "$b"

# uuids: refused when another VM has it
u1=$(grep -o 'uuid = "[^"]*"' "$T/etc/w1.cfg" | cut -d'"' -f2)
guest_cfg dup "uuid = \"$u1\"" >dup.cfg
fails_with "define with w1's uuid: refused" 1 "dup: uuid $u1 already belongs to the defined domain 'w1'" \
    vmkit define dup.cfg
ok "nothing stored for dup" test ! -e "$T/etc/dup.cfg"
U=$(echo "$u1" | tr a-f A-F)
guest_cfg dup2 "uuid = \"$U\"" >dup2.cfg
fails_with "create with w1's uuid in capitals: refused" 1 "uuid $U already belongs to the" vmkit create dup2.cfg
ok "vmkit undefine w1 (it keeps running)" vmkit undefine w1
fails_with "create with the running w1's uuid: refused" 1 "dup2: uuid $U already belongs to the running domain 'w1'" \
    vmkit create dup2.cfg
eq "no runtime dir for dup2" "$(ls "$T/run")" w1

# list --all
ok "define w1 again" vmkit define w1.cfg name=w3
o=$(vmkit list)
case $o in *w2*|*w3*) r=listed ;; *) r=absent ;; esac
eq "plain list: defined VMs that do not run are not listed" "$r" absent
o=$(vmkit list --all)
has "list --all: w2 shut off" "$o" "$(printf '%-32s %5s %6s %5s %6s %9s' w2 - 128 1 off -)"
has "list --all: w1 running, once" "$(echo "$o" | grep -c '^w1 ')" 1
j=$(vmkit list --all --json | python3 -c "
import json, sys
print(' '.join('%s:%s' % (d['name'], d['state']) for d in json.load(sys.stdin)))")
eq "list --all --json" "$j" "w1:paused w2:shut off w3:shut off"
fails_with "list --all NAME of nothing" 1 "nope: no such VM (neither running nor defined)" vmkit list --all nope
has "list --all NAME" "$(vmkit list --all w3)" "w3 "

# edit
cp "$T/etc/w2.cfg" w2.orig
cat >ed-mem.sh <<'EOF'
#!/bin/sh
sed -i 's/^memory = .*/memory = 200/' "$1"
EOF
cat >ed-bad.sh <<'EOF'
#!/bin/sh
echo 'memory = "lots"' >>"$1"
EOF
cat >ed-name.sh <<'EOF'
#!/bin/sh
sed -i 's/^name = .*/name = "other"/' "$1"
EOF
cat >ed-nouuid.sh <<'EOF'
#!/bin/sh
sed -i '/^uuid = /d' "$1"
EOF
chmod +x ed-*.sh
u2=$(grep -o 'uuid = "[^"]*"' "$T/etc/w2.cfg" | cut -d'"' -f2)
fails_with "edit with a bad value: exit 1 (not a tty)" 1 "memory: 'lots' is not a valid number" \
    env EDITOR="$T/ed-bad.sh" "$VMKIT" edit w2
ok "... the stored config is unchanged" cmp "$T/etc/w2.cfg" w2.orig
fails_with "edit renaming the VM: refused" 1 'edit cannot rename "w2"' env EDITOR="$T/ed-name.sh" "$VMKIT" edit w2
ok "... unchanged" cmp "$T/etc/w2.cfg" w2.orig
ok "edit with EDITOR=true: nothing changed" env EDITOR=true "$VMKIT" edit w2
ok "edit memory" env EDITOR="$T/ed-mem.sh" "$VMKIT" edit w2
has "the stored config has the new memory" "$(cat "$T/etc/w2.cfg")" "memory = 200"
has "vmkit config shows it" "$(vmkit config w2)" "memory = 200"
has "its MACs stay" "$(grep -o 'mac=[0-9a-f:]*' "$T/etc/w2.cfg" | cut -d= -f2 | tr '\n' ' ')" "$m2"
ok "edit removing the uuid" env EDITOR="$T/ed-nouuid.sh" "$VMKIT" edit w2
has "the uuid is kept" "$(cat "$T/etc/w2.cfg")" "uuid = \"$u2\""
ok "VISUAL wins over EDITOR (as virsh)" env VISUAL="$T/ed-bad.sh" EDITOR=true sh -c "! '$VMKIT' edit w2"
fails_with "edit of an undefined VM" 1 "nope: no such domain defined" env EDITOR=true "$VMKIT" edit nope
ls "$TMPDIR"/vmkit-edit-w2-* >/dev/null 2>&1 && r=left || r=none
eq "no temporary file left" "$r" none
# on a terminal: a bad edit, "y", a good edit
cat >ed-twice.sh <<EOF
#!/bin/sh
if [ -e "$T/edited-once" ]; then sed -i '/lots/d; s/^memory = .*/memory = 300/' "\$1"
else touch "$T/edited-once"; echo 'memory = "lots"' >>"\$1"; fi
EOF
chmod +x ed-twice.sh
o=$(printf 'y\n' | EDITOR="$T/ed-twice.sh" script -qec "'$VMKIT' edit w2" /dev/null 2>&1)
has "terminal: the error and the question" "$o" "Try again? [y,n]"
has "terminal: the second edit is stored" "$(cat "$T/etc/w2.cfg")" "memory = 300"

ok "destroy w1" vmkit destroy w1
no_qemu_left "nothing of this test runs"
vm_finish
