#!/bin/bash
# vmkit migrate --copy-storage --tls, both ends on this machine (the
# "other host" is a second runtime and config dir behind an ssh stand-in,
# as in t_vm_migrate): the NBD disk copies run under TLS between the two
# QEMUs (the stream itself goes through the ssh command).  The receiving
# side has a CA and issued the sender's certificate with --qemu-dir into
# the sender's tls/migrate.
# Refused, each time with the source running on and nothing left there:
# no credentials here, no CA there, a revoked certificate, one of another
# CA, and a HOST name its server certificate does not carry.  Then the
# migration (live, disks copied over TCP with TLS): the guest runs there
# on its copy and reads what it wrote.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
. "$TOP/tests/mig_lib.sh"   # after vm_lib.sh, which cds into $T
mig() { "$VMKIT" migrate -s "sh $T/ssh.sh" --tls "$@"; }

ok "a local qcow2 disk for mv" qemu-img create -q -f qcow2 local.qcow2 32M
guest_cfg mv "disk = [ 'format=qcow2,vdev=xvda,access=rw,target=$T/local.qcow2' ]" >mv.cfg
ok "create mv" vmkit create mv.cfg
ok "mv boots" wait_log mv 'VMKIT-READY' 1 90
has "the guest writes its disk" \
    "$(gsh mv 'echo TLS-MARK-0815 | dd of=/dev/vda conv=fsync 2>/dev/null; echo WROTE')" WROTE

fails_with "--tls without --copy-storage: usage" 2 "go with --copy-storage" mig --live mv localhost
# no credentials here yet
fails_with "no tls/migrate here: refused" 1 "no credentials for migrating with --tls" \
    mig --live --copy-storage --storage-dir "$T/dst" mv localhost
runs_on "no credentials"
# the other side: a CA, the sender's certificate into our tls/migrate
ok "there: tls init" $R2 "$VMKIT" tls init
ok "there: issue the sender's certificate as QEMU credentials" \
    $R2 "$VMKIT" tls issue-client sender --qemu-dir "$T/etc/tls/migrate"
for f in ca-cert.pem client-cert.pem client-key.pem; do ok "tls/migrate/$f" test -s "etc/tls/migrate/$f"; done
eq "client-key.pem is 0600" "$(stat -c %a etc/tls/migrate/client-key.pem)" 600
ok "openssl: the sender's certificate is of their CA" \
    openssl verify -CAfile etc2/tls/ca.crt etc/tls/migrate/client-cert.pem
ok "there: a second client, revoked" \
    $R2 "$VMKIT" tls issue-client old --qemu-dir "$T/old"
ok "there: revoke it" $R2 "$VMKIT" tls revoke old
ok "a third CA and a client of it" env VMKIT_CONFIG_DIR="$T/etc3" sh -c \
    '"$0" tls init >/dev/null && "$0" tls issue-client x --qemu-dir "$1"' "$VMKIT" "$T/foreign"
fails_with "--qemu-dir onto existing files: refused" 1 "exists" \
    $R2 "$VMKIT" tls issue-client again --qemu-dir "$T/old"

# a HOST its server certificate does not name
fails_with "wrong host name: refused" 1 "connecting to its copy" \
    mig --live --copy-storage --storage-dir "$T/dst" mv otherhost
runs_on "wrong host name"
# a revoked certificate, one of another CA
mv etc/tls/migrate etc/tls/good
cp -r old etc/tls/migrate
fails_with "revoked certificate: refused" 1 "connecting to its copy" \
    mig --live --copy-storage --storage-dir "$T/dst" mv localhost
runs_on "revoked"
rm -rf etc/tls/migrate && cp -r foreign etc/tls/migrate
fails_with "another CA's certificate: refused" 1 "connecting to its copy" \
    mig --live --copy-storage --storage-dir "$T/dst" mv localhost
runs_on "another CA"
rm -rf etc/tls/migrate && mv etc/tls/good etc/tls/migrate
# no CA there
mv etc2/tls etc2/tls.off
fails_with "no CA there: refused, in its words" 1 "no CA: run vmkit tls init" \
    mig --live --copy-storage --storage-dir "$T/dst" mv localhost
runs_on "no CA there"
mv etc2/tls.off etc2/tls

# and over TLS, live, the disk copied over TCP
port=$((20000 + RANDOM % 30000))
pid=$(qemu_pid mv)
ok "migrate --tls --live --copy-storage --nbd-port $port mv localhost" \
    mig --live --copy-storage --storage-dir "$T/dst" --nbd-port $port mv localhost
has "it says the disks went too" "$(cat "$T/.out")" "Migrated mv and its disks to localhost live"
ok "/proc: the source's QEMU is gone" proc_gone "$pid"
eq "QMP: mv runs on the other side" "$(q2 query-status | _qjson 'r["status"]')" running
has "QMP there: on the copy" "$(q2 query-block)" "$T/dst/local.qcow2"
has "the guest there reads what it wrote before" \
    "$(gsh2 mv 'dd if=/dev/vda bs=13 count=1 2>/dev/null; echo')" "TLS-MARK-0815"
ok "destroy mv there" $R2 "$VMKIT" destroy mv
eq "nothing runs there" "$(nqemu run2)" 0
no_qemu_left "no QEMU left here"
vm_finish
