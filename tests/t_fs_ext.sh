#!/bin/sh
# ext2/3/4 through libext2fs: mkfs, probe, file operations; every write
# checked with e2fsck -fn, debugfs, dumpe2fs and blkid.
. "$(dirname "$0")/lib.sh"

fsck_clean() { e2fsck -fn "$1" >"$T/.fsck" 2>&1; }
dbg() { debugfs -R "$2" "$1" 2>/dev/null; }

# --- mkfs of each type, oracle-checked ---
for t in ext2 ext3 ext4; do
    img=$T/$t.img
    ok "$t: 64M image" truncate -s 64M "$img"
    ok "mkfs -t $t" vmkit fs mkfs -t $t -L lbl$t "$img"
    ok "$t: e2fsck -fn clean" fsck_clean "$img"
    eq "$t: blkid type" "$(blkid -p -o value -s TYPE "$img")" "$t"
    eq "$t: blkid label" "$(blkid -p -o value -s LABEL "$img")" "lbl$t"
    eq "$t: probe agrees with blkid on UUID" \
       "$(vmkit fs probe "$img" | sed -n 's/^UUID="\(.*\)"/\1/p')" "$(blkid -p -o value -s UUID "$img")"
    bc=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Block count: *//p')
    bs=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Block size: *//p')
    eq "$t: block count x block size is the device" "$((bc * bs))" "$((64 << 20))"
done
feat=$(dumpe2fs -h "$T/ext4.img" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
for f in has_journal extent 64bit metadata_csum dir_index flex_bg huge_file dir_nlink extra_isize sparse_super; do
    has "ext4 has $f" "$feat" "$f"
done
feat3=$(dumpe2fs -h "$T/ext3.img" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
has "ext3 has a journal" "$feat3" has_journal
case $feat3 in *extent*) eq "ext3 has no extents" yes no ;; *) eq "ext3 has no extents" 1 1 ;; esac

# Options: -b, -N, -U, --reserved
truncate -s 200M "$T/o.img"
ok "mkfs with -b -N -U --reserved" vmkit fs mkfs -t ext4 -b 4096 -N 5000 \
   -U 0b4e9b2a-1c1d-4d7e-9a51-7f6c1a2b3c4d --reserved 1 "$T/o.img"
ok "options: e2fsck clean" fsck_clean "$T/o.img"
h=$(dumpe2fs -h "$T/o.img" 2>/dev/null)
has "block size 4096" "$h" "Block size:               4096"
has "UUID as given" "$h" "0b4e9b2a-1c1d-4d7e-9a51-7f6c1a2b3c4d"
ic=$(echo "$h" | sed -n 's/^Inode count: *//p')
[ "$ic" -ge 5000 ] && [ "$ic" -lt 6000 ]; eq "about 5000 inodes ($ic)" $? 0
rc=$(echo "$h" | sed -n 's/^Reserved block count: *//p')
eq "1% reserved" "$rc" "$((51200 / 100))"
fails_with "bad UUID refused" 1 "not a UUID" vmkit fs mkfs -t ext4 -U nope "$T/o.img"
fails_with "bad block size refused" 1 "block size" vmkit fs mkfs -t ext4 -b 3000 "$T/o.img"
truncate -s 10K "$T/tiny.img"
fails_with "absurdly small device refused" 1 "not a sensible size" vmkit fs mkfs -t ext4 "$T/tiny.img"
truncate -s 1440K "$T/floppy.img"
ok "ext4 on a floppy: made without a journal" vmkit fs mkfs -t ext4 "$T/floppy.img"
ok "floppy ext4: e2fsck clean" fsck_clean "$T/floppy.img"
ok "img create pt.img" vmkit img create "$T/pt.img" 64M
ok "part init pt.img" vmkit part init "$T/pt.img" mbr
ok "part add pt.img" vmkit part add "$T/pt.img" --type linux
fails_with "mkfs over a partition table refused" 1 "holds a partition table" vmkit fs mkfs -t ext4 "$T/pt.img"
ok "partition table intact" sfdisk -d "$T/pt.img"
ok "--force makes it over the whole disk" vmkit fs mkfs -t ext4 --force "$T/pt.img"
fails_with "absurd inode count refused" 1 "requested number of inodes" vmkit fs mkfs -t ext4 -N 99999999999 "$T/o.img"
fails_with "label over 16 bytes refused" 1 "longer than 16 bytes" vmkit fs mkfs -t ext4 -L 12345678901234567 "$T/o.img"
fails "reserved over 50% is a usage error" 2 vmkit fs mkfs -t ext4 --reserved 60 "$T/o.img"
has "fs put --help" "$(vmkit fs put --help)" "HOSTSRC"
fails "unknown type is an error" 1 vmkit fs mkfs -t xfs "$T/o.img"
fails "mkfs without -t is a usage error" 2 vmkit fs mkfs "$T/o.img"

# --- file operations on ext4, read back with debugfs ---
I=$T/ext4.img
ok_in "write /hello.txt" 'hello\n' vmkit fs write "$I:/hello.txt"
eq "write: debugfs cat" "$(dbg "$I" 'cat /hello.txt')" "hello"
head -c 3000000 /dev/urandom >"$T/big"
ok "put a 3 MB file" vmkit fs put "$T/big" "$I:/big"
dbg "$I" 'dump /big '"$T/big.dbg" >/dev/null
ok "put: debugfs dump is identical" cmp "$T/big" "$T/big.dbg"
ok "cat /big" sh -c '"$0" fs cat "$1" >"$2"' "$VMKIT" "$I:/big" "$T/big.cat"
ok "cat reads it back" cmp "$T/big" "$T/big.cat"
ok "mkdir -p" vmkit fs mkdir -p "$I:/a/b/c"
eq "ls -R of empty directories (no qsort(NULL) under UBSan)" "$(vmkit fs ls -R "$I:/a/b"; echo "rc=$?")" "$(printf '/a/b:\nc\n\n/a/b/c:\nrc=0')"
ok "ln -s" vmkit fs ln -s ../hello.txt "$I:/a/link"
eq "symlink target via debugfs" "$(dbg "$I" 'stat /a/link' | sed -n 's/^Fast link dest: "\(.*\)"/\1/p')" "../hello.txt"
ok "hard link" vmkit fs ln "$I:/hello.txt" "$I:/a/hard"
has "link count 2" "$(dbg "$I" 'stat /hello.txt')" "Links: 2"
ok "chmod" vmkit fs chmod 0600 "$I:/hello.txt"
ok "chown" vmkit fs chown 1234:5678 "$I:/hello.txt"
st=$(dbg "$I" 'stat /hello.txt')
has "debugfs: mode 0600" "$st" "Mode:  0600"
has "debugfs: uid 1234" "$st" "User:  1234"
has "debugfs: gid 5678" "$st" "Group:  5678"
# ids that do not fit are refused, never truncated (4294967296 was uid 0)
fails_with "chown uid 2^32 refused" 2 "uid out of range" vmkit fs chown 4294967296:0 "$I:/hello.txt"
fails_with "chown gid 2^32 refused" 2 "gid out of range" vmkit fs chown 0:4294967296 "$I:/hello.txt"
fails_with "chown uid -1 refused" 2 "uid must be a decimal number" vmkit fs chown -1:0 "$I:/hello.txt"
fails_with "chown 4294967295 ((uid_t)-1) refused" 2 "out of range" vmkit fs chown 4294967295:0 "$I:/hello.txt"
fails_with "chown 'UID:' refused" 2 "owner 4294967296:: uid out of range" vmkit fs chown 4294967296: "$I:/hello.txt"
fails_with "chown '5:' refused" 2 "owner 5:: empty gid" vmkit fs chown 5: "$I:/hello.txt"
has "debugfs: uid still 1234" "$(dbg "$I" 'stat /hello.txt')" "User:  1234"
ok "chown to the largest id" vmkit fs chown 4294967294:4294967294 "$I:/hello.txt"
has "debugfs: uid and gid 4294967294 (debugfs prints -2)" "$(dbg "$I" 'stat /hello.txt')" "User:    -2   Group:    -2"
ok "chown back" vmkit fs chown 1234:5678 "$I:/hello.txt"
ok "mv into a directory" vmkit fs mv "$I:/big" "$I:/a/b"
eq "moved file readable by debugfs" "$(dbg "$I" 'dump /a/b/big '"$T/big2" >/dev/null; cmp "$T/big" "$T/big2" && echo same)" same
ok "mv a directory across parents" vmkit fs mv "$I:/a/b/c" "$I:/c2"
ok "touch new file" vmkit fs touch "$I:/empty"
ok "after many ops: e2fsck clean" fsck_clean "$I"
out=$(vmkit fs ls "$I:/")
eq "ls matches debugfs ls" "$(echo "$out" | tr '\n' ' ')" \
   "$(dbg "$I" 'ls -p /' | awk -F/ 'NF>5 && $6!="." && $6!=".." {print $6}' | sort | tr '\n' ' ')"
has "ls -l shows the symlink" "$(vmkit fs ls -l "$I:/a")" "link -> ../hello.txt"
has "ls --json" "$(vmkit fs ls --json "$I:/a")" '"target": "../hello.txt"'
has "stat --json" "$(vmkit fs stat --json "$I:/hello.txt")" '"uid": 1234'
ok "rm a file" vmkit fs rm "$I:/a/hard"
has "link count back to 1" "$(dbg "$I" 'stat /hello.txt')" "Links: 1"
fails_with "rm of a directory needs -r" 1 "is a directory" vmkit fs rm "$I:/a"
ok "rm -r" vmkit fs rm -r "$I:/a"
has "gone for debugfs" "$(debugfs -R 'stat /a' "$I" 2>&1)" "File not found"
ok "after rm: e2fsck clean" fsck_clean "$I"
has "df" "$(vmkit fs df "$I")" "ext4"
fails_with "missing file" 1 "no such file" vmkit fs cat "$I:/nope"
long=$(printf 'x%.0s' $(seq 1 256))
fails_with "name of 256 bytes refused" 1 "longer than 255" vmkit fs write "$I:/$long" </dev/null
ok "name of 255 bytes accepted" sh -c "echo x | '$VMKIT' fs write '$I:/$(printf 'y%.0s' $(seq 1 255))'"
ok "'..' clamps at the root" sh -c "echo clamp | '$VMKIT' fs write '$I:/../../clamped'"
eq "clamped file is at the root" "$(dbg "$I" 'cat /clamped')" clamp
ok "after names: e2fsck clean" fsck_clean "$I"

# --- symlinked directories and renames (the lookup cache must not lie) ---
ok "mkdir /real" vmkit fs mkdir "$I:/real"
ok "ln -s real /sl" vmkit fs ln -s real "$I:/sl"
ok_in "write through /sl" 'via\n' vmkit fs write "$I:/sl/f"
eq "write through a symlinked dir lands in the target" "$(dbg "$I" 'cat /real/f')" via
has "stat of the symlink is a symlink" "$(vmkit fs stat --json "$I:/sl")" '"type": "symlink"'
ok "mv the real dir away" vmkit fs mv "$I:/real" "$I:/real2"
fails_with "dangling symlink path now fails" 1 "no such file" vmkit fs cat "$I:/sl/f"
eq "file moved with its dir" "$(vmkit fs cat "$I:/real2/f")" via
ok "after symlink games: e2fsck clean" fsck_clean "$I"

# --- edit ---
ok_in "write /ed.txt" 'one\n' vmkit fs write "$I:/ed.txt"
ok "edit with EDITOR=sed" env EDITOR="sed -i s/one/two/" "$VMKIT" fs edit "$I:/ed.txt"
eq "edit wrote the change" "$(dbg "$I" 'cat /ed.txt')" two

# --- full filesystem: ENOSPC, consistent ---
truncate -s 4M "$T/full.img"
ok "mkfs 4M ext4" vmkit fs mkfs -t ext4 "$T/full.img"
head -c 8000000 /dev/urandom >"$T/huge"
fails_with "put larger than the filesystem: ENOSPC" 1 "no space" vmkit fs put "$T/huge" "$T/full.img:/huge"
ok "after ENOSPC: e2fsck clean" fsck_clean "$T/full.img"

truncate -s 8M "$T/full2.img"
ok "mkfs 8M ext2" vmkit fs mkfs -t ext2 "$T/full2.img"
fails_with "ext2 full: ENOSPC" 1 "no space" vmkit fs put "$T/huge" "$T/full2.img:/huge"
ok "ext2 after ENOSPC: e2fsck clean" fsck_clean "$T/full2.img"
truncate -s 8M "$T/ino.img"
ok "mkfs -N 16" vmkit fs mkfs -t ext4 -N 16 "$T/ino.img"
i=0; while [ $i -lt 20 ] && echo $i | "$VMKIT" fs write "$T/ino.img:/f$i" 2>/dev/null; do i=$((i + 1)); done
ok "some files were written before the inodes ran out ($i)" test $i -ge 4 -a $i -lt 20
fails_with "out of inodes: ENOSPC" 1 "allocating an inode: no space" vmkit fs write "$T/ino.img:/g" </dev/null
ok "out of inodes: e2fsck clean" fsck_clean "$T/ino.img"

# --- corrupted superblock ---
cp "$T/ext2.img" "$T/bad.img"
printf '\377\377\377\377' | dd of="$T/bad.img" bs=1 seek=$((1024 + 24)) conv=notrunc 2>/dev/null
fails_with "corrupt superblock: clear error, exit 1" 1 "no filesystem found" vmkit fs ls "$T/bad.img:/"
cp "$T/ext4.img" "$T/bad2.img"
printf '\001\000\000\000' | dd of="$T/bad2.img" bs=1 seek=$((1024 + 4)) conv=notrunc 2>/dev/null
fails_with "superblock with 1 block: exit 1" 1 "cannot open the ext filesystem: The ext2 superblock is corrupt" vmkit fs ls "$T/bad2.img:/"
cp "$T/ext4.img" "$T/bad3.img"
dd if=/dev/urandom of="$T/bad3.img" bs=1k seek=2 count=200 conv=notrunc 2>/dev/null
fails "random group descriptors: exit 1" 1 vmkit fs ls -R "$T/bad3.img:/"
fails "random group descriptors: no write" 1 vmkit fs put "$T/ed" "$T/bad3.img:/x"


# A copy of a real root holds lost+found; mke2fs -d takes it, so must we.
mkdir -p "$T/rootcopy/lost+found" "$T/rootcopy/etc"
echo web1 >"$T/rootcopy/etc/hostname"
ok "img create lf.img" vmkit img create "$T/lf.img" 64M
ok "mkfs --from a tree holding lost+found" vmkit fs mkfs -t ext4 --from "$T/rootcopy" "$T/lf.img"
ok "lost+found tree: e2fsck -fn clean" fsck_clean "$T/lf.img"
has "lost+found tree: debugfs reads the file" "$(debugfs -R 'cat /etc/hostname' "$T/lf.img" 2>/dev/null)" web1

finish
