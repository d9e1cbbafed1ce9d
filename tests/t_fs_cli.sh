#!/bin/sh
# vmkit fs command line: the old partition workflow, populate from a
# directory and a tarball, get/put as tar, and get -r never writing
# outside HOSTDEST.  Oracles: sfdisk, dumpe2fs, debugfs, e2fsck, blkid, tar.
. "$(dirname "$0")/lib.sh"

fsck_clean() { e2fsck -fn "$1" >"$T/.fsck" 2>&1; }

# --- the old workflow: 3950M disk, one partition, ext3 of exactly its size ---
fmt=qcow2; D=$T/disk.qcow2   # vmkit's own qcow2 driver: never a fallback to raw
ok "create a 3950M $fmt disk" vmkit img create -f $fmt "$D" 3950M
ok "partition it" sh -c "'$VMKIT' part init '$D' mbr && '$VMKIT' part add '$D' --type linux"
ok "mkfs -t ext3 in partition 1" vmkit fs mkfs -t ext3 -L old "$D:1"
printf 'proc /proc proc defaults 0 0\n/dev/sda1 / ext3 defaults 0 1\n' >"$T/fstab"
ok "put /etc/fstab" sh -c "'$VMKIT' fs mkdir '$D:1:/etc' && '$VMKIT' fs put '$T/fstab' '$D:1:/etc/fstab'"
R=$D
if [ $fmt = qcow2 ]; then R=$T/disk.raw; ok "qemu-img convert to raw" qemu-img convert -O raw "$D" "$R"; fi
run_ok dump sfdisk -d "$R"
start=$(echo "$dump" | sed -n 's/.*start= *\([0-9]*\),.*/\1/p' | head -1)
size=$(echo "$dump" | sed -n 's/.*size= *\([0-9]*\),.*/\1/p' | head -1)
ok "sfdisk reads the partition's start and size ($start, $size)" test -n "$start" -a -n "$size"
P="$R?offset=$((start * 512))"
bc=$(dumpe2fs -h "$P" 2>/dev/null | sed -n 's/^Block count: *//p')
bs=$(dumpe2fs -h "$P" 2>/dev/null | sed -n 's/^Block size: *//p')
eq "ext3 spans exactly the partition" "$((bc * bs))" "$((size * 512))"
eq "debugfs reads /etc/fstab" "$(debugfs -R 'cat /etc/fstab' "$P" 2>/dev/null)" "$(cat "$T/fstab")"
ok "e2fsck -fn clean in the partition" fsck_clean "$P"
eq "blkid -p -O sees ext3 'old'" "$(blkid -p -O $((start * 512)) -o value -s LABEL "$R")" old
has "probe of the partition" "$(vmkit fs probe "$D:1")" 'TYPE="ext3"'

# --- populate from a directory ---
S=$T/src
mkdir -p "$S/etc/sub" "$S/dev" "$S/var/empty"
printf 'host\n' >"$S/etc/hostname"
head -c 100000 /dev/urandom >"$S/etc/sub/blob"
ln "$S/etc/hostname" "$S/etc/hostname.hard"
ln -s hostname "$S/etc/hostname.sym"
mkfifo "$S/dev/fifo"
truncate -s 50M "$S/sparse"; printf 'end' >>"$S/sparse"
chmod 0750 "$S/etc/sub"
touch -d '2001-02-03 04:05:06' "$S/etc/hostname"
# a user xattr, when the host filesystem takes one (python3: setfattr is
# not among the tools scripts/deps.sh installs)
xattr=$(python3 -c '
import errno, os, sys
try:
    os.setxattr(sys.argv[1], "user.vmkit", b"hello"); print(1)
except OSError as e:
    print(0 if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP) else "error: %s" % e)' "$S/etc/hostname")
one_of "setting a user xattr on the source: done or not supported by the host fs" "$xattr" "0 1"
I=$T/pop.img
truncate -s 128M "$I"
ok "mkfs --from DIR --owner 0:0" vmkit fs mkfs -t ext4 --from "$S" --owner 0:0 "$I"
ok "populated: e2fsck clean" fsck_clean "$I"
eq "debugfs cat" "$(debugfs -R 'cat /etc/hostname' "$I" 2>/dev/null)" host
debugfs -R "dump /etc/sub/blob $T/blob" "$I" >/dev/null 2>&1
ok "blob identical" cmp "$T/blob" "$S/etc/sub/blob"
st=$(debugfs -R 'stat /etc/hostname' "$I" 2>/dev/null)
has "hard link: 2 links" "$st" "Links: 2"
has "owner forced to 0" "$st" "User:     0   Group:     0"
has "mtime kept" "$st" "Sat Feb  3 04:05:06 2001"
if [ "$xattr" = 1 ]; then
    has "xattr kept" "$(debugfs -R 'ea_list /etc/hostname' "$I" 2>/dev/null)" "user.vmkit"
else
    skip "xattr kept" "the host filesystem under \$TMPDIR takes no user xattrs"
fi
has "mode 0750 kept" "$(debugfs -R 'stat /etc/sub' "$I" 2>/dev/null)" "Mode:  0750"
has "fifo" "$(debugfs -R 'stat /dev/fifo' "$I" 2>/dev/null)" "Type: FIFO"
has "symlink" "$(debugfs -R 'stat /etc/hostname.sym' "$I" 2>/dev/null)" 'Fast link dest: "hostname"'
sb=$(debugfs -R 'stat /sparse' "$I" 2>/dev/null | sed -n 's/.*Blockcount: *\([0-9]*\).*/\1/p')
[ "$sb" -lt 100 ]; eq "sparse file stays sparse ($sb sectors)" $? 0
eq "sparse file size" "$(vmkit fs stat --json "$I:/sparse" | sed -n 's/.*"size": \([0-9]*\).*/\1/p')" $((50 * 1048576 + 3))

# --- populate from a tarball, export as tar ---
ok "tar czf src.tgz" tar -C "$S" -czf "$T/src.tgz" --xattrs .
J=$T/tar.img
truncate -s 128M "$J"
ok "mkfs --from TAR.gz" vmkit fs mkfs -t ext4 --from "$T/src.tgz" "$J"
ok "from tar: e2fsck clean" fsck_clean "$J"
eq "from tar: file" "$(debugfs -R 'cat /etc/hostname' "$J" 2>/dev/null)" host
has "from tar: hard link" "$(debugfs -R 'stat /etc/hostname' "$J" 2>/dev/null)" "Links: 2"
mkdir "$T/zt"; head -c 65536 /dev/urandom >"$T/zt/z"; head -c 4194304 /dev/zero >>"$T/zt/z"; echo end >>"$T/zt/z"
ok "tar cf zt.tar" tar -C "$T/zt" -cf "$T/zt.tar" .
truncate -s 32M "$T/zt.img"
ok "mkfs --from a tar with a zero run" vmkit fs mkfs -t ext4 --from "$T/zt.tar" "$T/zt.img"
zb=$(debugfs -R 'stat /z' "$T/zt.img" 2>/dev/null | sed -n 's/.*Blockcount: *\([0-9]*\).*/\1/p')
[ "$zb" -lt 1000 ]; eq "zero run in a tar becomes a hole ($zb sectors)" $? 0
ok "file with a hole reads back identical" sh -c "'$VMKIT' fs cat '$T/zt.img:/z' | cmp - '$T/zt/z'"
# owners that do not fit 32 bits (pax headers carry any number): refused,
# never truncated (uid 4294967296 was stored as root)
python3 -c "
import io, sys, tarfile
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo('f'); i.size = 2; i.uid = int(sys.argv[2]); i.gid = 7
t.addfile(i, io.BytesIO(b'hi')); t.close()" "$T/bigid.tar" 4294967296
truncate -s 16M "$T/bigid.img"
fails_with "tar owner 2^32 refused" 1 "f: owner 4294967296:7 out of range" vmkit fs mkfs -t ext4 --from "$T/bigid.tar" "$T/bigid.img"
ok "--owner overrides it" vmkit fs mkfs -t ext4 --from "$T/bigid.tar" --owner 5:6 "$T/bigid.img"
has "debugfs: owner 5:6" "$(debugfs -R 'stat /f' "$T/bigid.img" 2>/dev/null)" "User:     5   Group:     6"
fails_with "--owner 2^32 refused" 2 "uid out of range" vmkit fs mkfs -t ext4 --owner 4294967296:0 "$T/bigid.img"
fails_with "--owner needs both" 2 "owner '5' must be UID:GID" vmkit fs mkfs -t ext4 --owner 5 "$T/bigid.img"
mkdir "$T/out"
ok "get - | tar x" bash -o pipefail -c '"$0" fs get "$1" - | tar -C "$2" -xf -' "$VMKIT" "$J:/etc" "$T/out"
ok "get - | tar x: blob identical" cmp "$T/out/sub/blob" "$S/etc/sub/blob"
ok "tar c | put -" bash -o pipefail -c 'tar -C "$1" -cf - sub | "$0" fs put - "$2"' "$VMKIT" "$S/etc" "$I:/var/empty"
ok "put - (tar on stdin)" cmp "$(debugfs -R "dump /var/empty/sub/blob $T/blob2" "$I" >/dev/null 2>&1; echo "$T/blob2")" "$S/etc/sub/blob"
ok "after tar put: e2fsck clean" fsck_clean "$I"

# --- get -r stays inside HOSTDEST ---
E=$T/evil.img
truncate -s 16M "$E"
ok "evil: mkfs ext2" vmkit fs mkfs -t ext2 "$E"
mkdir -p "$T/victim"
ok "evil: mkdir /d" vmkit fs mkdir "$E:/d"
ok "evil: symlink /d/x to the victim dir" vmkit fs ln -s "$T/victim" "$E:/d/x"
ok "evil: symlink /d/up" vmkit fs ln -s ../../../../../../../../tmp "$E:/d/up"
ok_in "evil: write /d/q" 'pwned\n' vmkit fs write "$E:/d/q"
# Crafted image: rename the directory entry "q" to "x" by hand (ext2 has no
# checksums), so /d holds a symlink x and a regular file x: writing the
# file must not follow the symlink just created on the host.
blk=$(debugfs -R 'blocks /d' "$E" 2>/dev/null | awk '{print $1}')
python3 - "$E" "$blk" <<'PY'
import sys
f, blk = sys.argv[1], int(sys.argv[2])
with open(f, 'r+b') as h:
    h.seek(blk * 1024); b = bytearray(h.read(1024))
    i = 0
    while i < 1024:
        rl = int.from_bytes(b[i+4:i+6], 'little'); nl = b[i+6]
        if nl == 1 and b[i+8:i+9] == b'q':
            b[i+8] = ord('x')
        if rl < 8: break
        i += rl
    h.seek(blk * 1024); h.write(b)
PY
eq "crafted: two entries named x" "$(debugfs -R 'ls /d' "$E" 2>/dev/null | grep -o ' x ' | wc -l)" 2
mkdir "$T/dest"
fails "get -r of the crafted tree fails" 1 vmkit fs get -r "$E:/d" "$T/dest"
none "nothing written through the symlink" ls -A "$T/victim"
eq "symlink recreated as a symlink" "$(readlink "$T/dest/d/up")" "../../../../../../../../tmp"
ok "get -r of a normal tree works" vmkit fs get -r "$I:/etc" "$T/dest2"
ok "got the blob" cmp "$T/dest2/sub/blob" "$S/etc/sub/blob"
fails_with "get of a directory needs -r" 1 "use get -r" vmkit fs get "$I:/etc" "$T/dest3"
finish
