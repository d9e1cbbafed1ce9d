#!/bin/bash
# vmkit backup save NAME: the disks of a VM, a running one frozen at one
# instant while its guest keeps writing.  The guest mounts the ext4 of its
# qcow2 disk and writes files in a loop, and a raw second disk, during the
# backup; the restored disk (journal replayed, as a crash would) passes
# e2fsck and holds the file written before the backup, not the one written
# after; the VM runs throughout, its disks are its own images again
# (query-block, no backing file, no overlay left) and everything the
# guest wrote meanwhile is in them.  An overlay a killed backup left in
# use is merged back by the next one; a stray one QEMU does not use is
# refused; a stopped VM's disks are read as they are; bad names refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
need e2fsck qemu-img || { finish; exit; }

SUF=.vmkit-backup.qcow2
ok "a qcow2 disk: MBR, ext4 with /hello" sh -c "'$VMKIT' img create -f qcow2 d.qcow2 64M >/dev/null &&
    '$VMKIT' part init d.qcow2 mbr && '$VMKIT' part add d.qcow2 && '$VMKIT' fs mkfs -t ext4 d.qcow2:1 &&
    printf 'hello\n' >h && '$VMKIT' fs put h d.qcow2:1:/hello"
printf 'RAW-BEFORE' >e.raw && truncate -s 8M e.raw
guest_cfg bv "disk = ['format=qcow2,vdev=xvda,target=$T/d.qcow2', 'format=raw,vdev=xvdb,target=$T/e.raw']" >bv.cfg
ok "start bv" vmkit create bv.cfg
ok "bv is ready" wait_log bv VMKIT-READY 1 90
has "the guest mounts its ext4" "$(gsh bv 'mkdir -p /mnt && mount -t ext4 /dev/vda1 /mnt && ls /mnt')" hello
has "the guest writes before.txt and syncs" \
    "$(gsh bv 'echo before >/mnt/before.txt && sync && echo written')" written
has "the guest starts writing and syncing in a loop (ext4 files and the raw disk)" "$(gsh bv '(i=0; while :; do
    echo $i >/mnt/w$((i % 40)); sync; echo RAW-$i | dd of=/dev/vdb bs=512 seek=8 conv=notrunc,fsync 2>/dev/null
    i=$((i + 1)); done) >/dev/null 2>&1 & echo looping')" looping
# the backup must catch the loop under way: wait (on the host, reading
# the file QEMU writes through) for its first marker on the raw disk
marker() { dd if=e.raw bs=512 skip=8 count=1 2>/dev/null | tr -d '\0'; }
for _ in $(seq 300); do case "$(marker)" in RAW-[0-9]*) break;; esac; sleep 0.1; done
has "the loop's first marker is on the raw disk" "$(marker)" RAW-

R=$T/repo
ok "backup init" vmkit backup init "$R"
run_ok ids vmkit backup save bv "$R"
eq "two snapshots, one per disk" "$(echo "$ids" | wc -l)" 2
run_ok list vmkit backup list "$R"
has "named bv-xvda" "$list" " bv-xvda"
has "and bv-xvdb" "$list" " bv-xvdb"
eq "bv still runs (QMP)" "$(qstatus bv)" running
run_ok blk qblock bv
has "QEMU runs on d.qcow2 again" "$blk" "disk0 $T/d.qcow2 ro=False"
has "and on e.raw" "$blk" "disk1 $T/e.raw ro=False"
ok "no overlay file left" test ! -e "d.qcow2$SUF" -a ! -e "e.raw$SUF"
has "the guest writes after.txt after the backup" \
    "$(gsh bv 'echo after >/mnt/after.txt && sync && echo written')" written

# the frozen instant is a crash's: the journal is replayed as a boot would,
# on partition 1 (from 1 MiB) copied to a file of its own
ok "restore bv-xvda" vmkit backup restore "$R" bv-xvda "$T/x.raw"
ok "e2fsck -fy replays its journal" sh -c "dd if=x.raw of=xr.ext4 bs=1M skip=1 status=none &&
    e2fsck -fy xr.ext4 >/dev/null; test \$? -le 1"
ok "then e2fsck -fn: clean" e2fsck -fn xr.ext4
run_ok got vmkit fs cat xr.ext4:/before.txt
eq "the file written before the backup is there" "$got" before
fails "the file written after it is not" 1 vmkit fs cat xr.ext4:/after.txt
run_ok n vmkit fs ls xr.ext4:/
ok "the loop's files as of that instant are there ($(echo "$n" | grep -c '^w') of them)" \
    test "$(echo "$n" | grep -c '^w')" -ge 1
ok "restore bv-xvdb" vmkit backup restore "$R" bv-xvdb "$T/y.raw"
has "the raw disk holds one of the loop's markers" "$(dd if=y.raw bs=512 skip=8 count=1 2>/dev/null | tr -d '\0')" RAW-
eq "and its first bytes as before" "$(head -c 10 y.raw)" RAW-BEFORE

# a killed backup leaves the VM on its overlay: the next one merges it
ok "freeze by hand as a killed backup would leave it" python3 "$TOP/tests/qmp.py" "$T/run/bv/qmp-cli.sock" \
    blockdev-snapshot-sync "{\"device\": \"disk0\", \"snapshot-file\": \"$T/d.qcow2$SUF\", \"format\": \"qcow2\"}"
has "QEMU runs on the overlay" "$(qblock bv)" "disk0 $T/d.qcow2$SUF"
run_ok ids2 vmkit backup save --name again bv "$R"
eq "two more snapshots" "$(echo "$ids2" | wc -l)" 2
has "QEMU runs on d.qcow2 again" "$(qblock bv)" "disk0 $T/d.qcow2 ro=False"
ok "the overlay file is gone" test ! -e "d.qcow2$SUF"
ok "restore again-xvda" vmkit backup restore "$R" again-xvda "$T/a.raw"
ok "  e2fsck -fy replays, then -fn clean" sh -c "dd if=a.raw of=a.ext4 bs=1M skip=1 status=none &&
    { e2fsck -fy a.ext4 >/dev/null; e2fsck -fn a.ext4; }"
run_ok got vmkit fs cat a.ext4:/after.txt
eq "  it holds after.txt (written on the overlay, merged back)" "$got" after

printf 'not ours' >"e.raw$SUF"
fails_with "a stray overlay file QEMU does not use: refused" 1 "e.raw$SUF exists" vmkit backup save bv "$R"
has "  QEMU runs on its images, nothing frozen" "$(qblock bv)" "disk0 $T/d.qcow2 ro=False"
eq "  the stray file is untouched" "$(cat "e.raw$SUF")" "not ours"
rm -f "e.raw$SUF"

has "the guest stops its loop and unmounts" "$(gsh bv 'kill %1 2>/dev/null; killall sh 2>/dev/null; sync; umount /mnt && echo unmounted')" unmounted
ok "destroy bv" vmkit destroy bv
ok "qemu-img check d.qcow2" qemu-img check -q d.qcow2
fails "d.qcow2 has no backing file" 1 sh -c "qemu-img info d.qcow2 | grep -i backing"
ok "e2fsck -fn of d.qcow2's ext4 (the guest unmounted it)" sh -c "qemu-img convert -O raw d.qcow2 dd.raw && e2fsck -fn 'dd.raw?offset=1048576'"
run_ok got vmkit fs cat d.qcow2:1:/after.txt
eq "what the guest wrote during the backups is in d.qcow2" "$got" after

# a defined VM that is not running: its images as they are
ok "define bv" vmkit define bv.cfg
run_ok ids3 vmkit backup save --name off bv "$R"
eq "two snapshots of the stopped VM" "$(echo "$ids3" | wc -l)" 2
ok "restore off-xvda" vmkit backup restore "$R" off-xvda "$T/o.raw"
ok "  e2fsck -fn clean (no journal to replay)" e2fsck -fn "o.raw?offset=1048576"
guest_cfg cd "disk = ['format=raw,vdev=hdc,devtype=cdrom,target=$T/e.raw']" >cd.cfg
ok "define cd (only a CD-ROM)" vmkit define cd.cfg
fails_with "a VM with no writable disk: refused" 1 "no writable local disk" vmkit backup save cd "$R"
fails_with "no such VM or file: refused" 1 "nosuch: no such disk image or VM" vmkit backup save nosuch "$R"
vm_finish
