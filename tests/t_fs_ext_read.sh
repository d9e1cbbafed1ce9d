#!/bin/sh
# vmkit reads ext filesystems made by mke2fs (ext2/3/4, with and without
# metadata_csum, inline_data, huge files, mke2fs -d): listings and file
# contents compared with debugfs.
. "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src/d/e" "$src/empty"
printf 'small\n' >"$src/small"
head -c 200000 /dev/urandom >"$src/d/mid"
printf 'x' >"$src/d/e/tiny"
ln -s d/mid "$src/rel"
ln -s "$(printf 'L%.0s' $(seq 1 100))" "$src/longlink"
ln "$src/small" "$src/d/hard"
# links followed by vmkit's own walk: mid-path, absolute, chained, "..",
# and loops (refused)
ln -s /d "$src/absd"
ln -s absd "$src/chain"
ln -s ../small "$src/d/up"
ln -s e/../e "$src/d/ee"
ln -s self "$src/self"
ln -s loopb "$src/loopa"; ln -s loopa "$src/loopb"
i=0; while [ $i -lt 300 ]; do : >"$src/d/f$i"; i=$((i + 1)); done

# list "type name" lines of a directory from debugfs, sorted
dbg_ls() { debugfs -R "ls -p $2" "$1" 2>/dev/null | awk -F/ 'NF>5 && $6!="." && $6!=".." {print $6}' | sort; }

check_fs() {  # name image
    n=$1; img=$2
    for d in / /d /d/e; do
        eq "$n: ls $d matches debugfs" "$(vmkit fs ls "$img:$d" | sort | tr '\n' ' ')" "$(dbg_ls "$img" "$d" | tr '\n' ' ')"
    done
    for f in /small /d/mid /d/e/tiny /d/hard; do
        ok "$n: cat $f" sh -c '"$0" fs cat "$1" >"$2"' "$VMKIT" "$img:$f" "$T/got"
        ok "$n: cat $f equals the source" cmp "$T/got" "$src$f"
    done
    eq "$n: readlink" "$(vmkit fs stat --json "$img:/rel" | sed -n 's/.*"target": "\(.*\)".*/\1/p')" "d/mid"
    has "$n: long symlink" "$(vmkit fs ls -l "$img:/longlink")" "LLLLLLLLLL"
    ok "$n: cat through a symlink" bash -o pipefail -c '"$0" fs cat "$1" | cmp - "$2"' "$VMKIT" "$img:/rel" "$src/d/mid"
    for l in /absd/mid:/d/mid /chain/mid:/d/mid /chain/e/tiny:/d/e/tiny /d/up:/small \
             /d/ee/tiny:/d/e/tiny /chain/up:/small; do
        eq "$n: cat ${l%%:*} (links in the path)" "$(vmkit fs cat "$img:${l%%:*}" 2>&1 | md5sum)" \
            "$(md5sum <"$src${l#*:}")"
    done
    fails_with "$n: a link to itself is refused" 1 "self" vmkit fs cat "$img:/self"
    fails_with "$n: two links in a loop are refused" 1 "loopa" vmkit fs cat "$img:/loopa/x"
}

for spec in "ext2:-t ext2" "ext3:-t ext3" "ext4:-t ext4" "ext4-nocsum:-t ext4 -O ^metadata_csum" \
            "ext4-inline:-t ext4 -O inline_data" "ext4-huge:-t ext4 -O huge_file,^resize_inode" \
            "ext4-1k:-t ext4 -b 1024"; do
    n=${spec%%:*}; opts=${spec#*:}
    img=$T/$n.img
    # shellcheck disable=SC2086
    ok "$n: mke2fs $opts -d" mke2fs -q -F $opts -d "$src" "$img" 32M || continue
    check_fs "$n" "$img"
done

# Writing into a mke2fs-made inline_data filesystem stays consistent.
img=$T/ext4-inline.img
if ok "inline_data image was made" test -f "$img"; then
    ok_in "inline_data fs: write a new file" 'new\n' vmkit fs write "$img:/d/e/new"
    ok "inline_data fs: rm of an inline file" vmkit fs rm "$img:/d/e/tiny"
    ok "inline_data fs: e2fsck clean after writes" e2fsck -fn "$img"
    eq "inline_data fs: debugfs reads the new file" "$(debugfs -R 'cat /d/e/new' "$img" 2>/dev/null)" new
fi

# Sizes of 2^63 and more (a damaged inode, a damaged superblock) are
# unsigned numbers in --json, as debugfs prints them, never negative.
big=$T/big.img
truncate -s 8M "$big"
mke2fs -q -F -t ext4 -O 64bit,^has_journal "$big"
printf 'hi\n' >"$T/hi"
debugfs -w -R "write $T/hi f" "$big" >/dev/null 2>&1
debugfs -w -R "sif f size 0x8000000000000010" "$big" >/dev/null 2>&1
has "debugfs: size 2^63+16" "$(debugfs -R 'stat f' "$big" 2>/dev/null)" "Size: 9223372036854775824"
has "stat --json: the same size" "$(vmkit fs stat --json "$big:/f")" '"size": 9223372036854775824,'
has "ls --json: the same size" "$(vmkit fs ls --json "$big:/")" '"size": 9223372036854775824,'
eq "--json parses with the exact value" "$(vmkit fs stat --json "$big:/f" | python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')" 9223372036854775824
debugfs -w -R "ssv blocks_count 0x20000000000001" "$big" >/dev/null 2>&1
has "probe --json: 2^63+1024 bytes" "$(vmkit fs probe --json "$big")" '"size": 9223372036854776832,'
finish
