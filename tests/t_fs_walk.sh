#!/bin/bash
# Recursive walks (ls -R, get -r to a directory and as a tar, rm -r) on
# ext and FAT: directory loops and second links to a directory are refused
# with the image and both paths named, a tree 10,000 levels deep works, a
# 20,000-entry directory is walked in linear time, the results match
# debugfs rdump and mcopy -s; names that are not UTF-8 are shown escaped
# and accepted back.
. "$(dirname "$0")/lib.sh"
export MTOOLS_SKIP_CHECK=1
TOOLS=$TOP/tests/tools

# exit status check for a command run by hand: RC must be WANT and its
# stderr (ERRFILE) free of sanitizer reports
rc_is() {  # desc want rc errfile
    if [ "$3" = "$2" ] && ! _crashed "$3" "$4"; then _report 0 "$1"; else
        { echo "exit $3 (wanted $2)"; cat "$4"; } >"$T/.rc"; _report 1 "$1" "$T/.rc"; fi
}

# vmkit whose output a check reads: its stderr and a failing status are
# kept, and the last check wants none (no sanitizer report either).
vko() {
    "$VMKIT" "$@" 2>>"$T/vko.err"; _r=$?
    [ $_r = 0 ] || echo "exit $_r: vmkit $*" >>"$T/vko.err"
    return $_r
}

# inode number of name in directory dir, from debugfs
dbg_ino() { debugfs -R "ls -l $2" "$1" 2>/dev/null | awk -v n="$3" '$NF == n { print $1 }'; }

# ---- an ext directory that links back to an ancestor ----
src=$T/src
mkdir -p "$src/a/b/c" "$src/z"
echo hi >"$src/a/b/c/f"
echo top >"$src/top"
echo zz >"$src/z/zz"
img=$T/loop.img
ok "loop: mke2fs -d" mke2fs -q -F -t ext4 -d "$src" "$img" 8M
ok "loop: debugfs links /a/b/c/loop to /a" debugfs -w -R "link /a /a/b/c/loop" "$img"
ino=$(dbg_ino "$img" / a)
msg="$img:/a/b/c/loop: directory loop (inode $ino is also /a)"

vmkit fs ls -R "$img:/" >"$T/out" 2>"$T/err"; rc=$?
rc_is "loop: ls -R exits 1" 1 "$rc" "$T/err"
has "loop: ls -R names image, path and the ancestor" "$(cat "$T/err")" "$msg"
has "loop: ls -R lists the rest (/a/b/c)" "$(cat "$T/out")" "/a/b/c:
f
loop"
has "loop: ls -R goes on after the loop (/z)" "$(cat "$T/out")" "/z:
zz"
eq "loop: ls -R never enters the loop" "$(grep -c '^/a/b/c/loop' "$T/out")" 0

vmkit fs ls -R --json "$img:/" >"$T/json" 2>"$T/err"; rc=$?
rc_is "loop: ls -R --json exits 1" 1 "$rc" "$T/err"
eq "loop: ls -R --json prints every readable entry" \
   "$(python3 -c 'import json,sys; print(" ".join(sorted(e["path"] for e in json.load(open(sys.argv[1])))))' "$T/json")" \
   "/a /a/b /a/b/c /a/b/c/f /a/b/c/loop /lost+found /top /z /z/zz"

mkdir "$T/get"
vmkit fs get -r "$img:/" "$T/get" >"$T/out" 2>"$T/err"; rc=$?
rc_is "loop: get -r exits 1" 1 "$rc" "$T/err"
has "loop: get -r names the loop" "$(cat "$T/err")" "$msg"
eq "loop: get -r copied the files outside the loop" "$(cat "$T/get/root/a/b/c/f" "$T/get/root/z/zz")" "hi
zz"
ok "loop: get -r did not make the looping directory" test ! -e "$T/get/root/a/b/c/loop"

vmkit fs get -r "$img:/" - >"$T/loop.tar" 2>"$T/err"; rc=$?
rc_is "loop: get -r - (tar) exits 1" 1 "$rc" "$T/err"
has "loop: tar: the loop is named" "$(cat "$T/err")" "$msg"
has "loop: tar: says what is missing" "$(cat "$T/err")" "$img:/: 1 entry could not be read"
eq "loop: tar: tar lists everything else" "$(tar tf "$T/loop.tar" | sort | tr '\n' ' ')" \
   "./ ./a/ ./a/b/ ./a/b/c/ ./a/b/c/f ./lost+found/ ./top ./z/ ./z/zz "

fails_with "loop: rm -r refuses the tree" 1 "nothing removed: $msg" vmkit fs rm -r "$img:/a"
eq "loop: rm -r removed nothing (debugfs)" "$(debugfs -R 'cat /a/b/c/f' "$img" 2>/dev/null)" hi
eq "loop: rm -r removed nothing (the link)" "$(dbg_ino "$img" /a/b/c loop)" "$ino"
fails_with "loop: ls -R of the loop itself" 1 "$img:/a/b/c/loop/b/c/loop: directory loop (inode $ino is also /a/b/c/loop)" \
    vmkit fs ls -R "$img:/a/b/c/loop"

# A second link to a directory elsewhere (not a loop, but walking it twice
# could double the work at every level).
img2=$T/link.img
ok "link: mke2fs -d" mke2fs -q -F -t ext4 -d "$src" "$img2" 8M
ok "link: debugfs links /z/b2 to /a/b" debugfs -w -R "link /a/b /z/b2" "$img2"
ino=$(dbg_ino "$img2" /a b)
fails_with "link: ls -R refuses the second link" 1 \
    "$img2:/z/b2: second link to a directory (inode $ino is also /a/b)" vmkit fs ls -R "$img2:/"

# ---- a FAT directory whose entry points back at its parent ----
fimg=$T/loop.fat
ok "fat loop: mkfs.fat" mkfs.fat -C "$fimg" 4096
ok "fat loop: mmd" mmd -i "$fimg" ::sub ::sub/deep
ok "fat loop: mcopy" mcopy -i "$fimg" "$src/top" ::sub/deep/f.txt
cl=$(python3 - "$fimg" <<'EOF'
import sys
p = sys.argv[1]
img = bytearray(open(p, 'rb').read())
s = img.find(b'SUB        \x10')
d = img.find(b'DEEP       \x10')
img[d + 26:d + 28] = img[s + 26:s + 28]
img[d + 20:d + 22] = img[s + 20:s + 22]
open(p, 'wb').write(img)
print(int.from_bytes(img[s + 26:s + 28], 'little'))
EOF
)
fmsg="$fimg:/sub/deep: directory loop (cluster $cl is also /sub)"
fails_with "fat loop: ls -R refuses the loop" 1 "$fmsg" vmkit fs ls -R "$fimg:/"
fails_with "fat loop: get -r - refuses the loop" 1 "$fmsg" sh -c "'$VMKIT' fs get -r '$fimg:/' - >/dev/null"
fails_with "fat loop: rm -r refuses the tree" 1 "nothing removed: $fmsg" vmkit fs rm -r "$fimg:/sub"
has "fat loop: rm -r removed nothing (mdir)" "$(mdir -b -i "$fimg" ::/sub)" "deep"

# ---- 10,000 levels (2,100 in the sanitizer pass: past the 64 host
# directories get -r keeps open, and the paths past 4095 bytes) ----
deep=$T/deep.img
N=10000
[ "$SAN" = 1 ] && N=2100
ok "deep: mke2fs" mke2fs -q -F -t ext4 -b 1024 -N $((N + 100)) "$deep" 48M
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) print "mkdir d\ncd d"; print "write '"$src/top"' f" }' >"$T/deep.cmd"
ok "deep: debugfs builds $N levels" debugfs -w -f "$T/deep.cmd" "$deep"
# The listing is 100 MB: summed up as it goes by (headers, the line before
# "/lost+found:" and the length of the header before that).
vmkit fs ls -R "$deep:/" 2>"$T/err" | awk '/^\// { h++ } $0 == "/lost+found:" { f = p2; l = length(p3) }
    { p3 = p2; p2 = p1; p1 = $0 } END { print h, f, l }' >"$T/out"
rc=${PIPESTATUS[0]}
rc_is "deep: ls -R exits 0" 0 "$rc" "$T/err"
eq "deep: ls -R shows every level, reaches the file, deepest header $((2 * N + 1)) bytes" \
   "$(cat "$T/out")" "$((N + 2)) f $((2 * N + 1))"
mkdir "$T/dget"
ok "deep: get -r" vmkit fs get -r "$deep:/d" "$T/dget"
eq "deep: get -r copied the deepest file" "$(cd "$T/dget" && find . -name f -type f | awk '{ print length($0) }')" $((2 * N + 3))
eq "deep: its content" "$(cd "$T/dget" && find . -name f -type f -execdir cat {} \;)" top
# shellcheck disable=SC2046
set -- $(vmkit fs get -r "$deep:/" - 2>"$T/err" | tar tf - | grep -c '/$'; echo "${PIPESTATUS[0]}")
rc_is "deep: tar exits 0" 0 "$2" "$T/err"
eq "deep: tar holds every level" "$1" $((N + 2))
fails_with "deep: rm -r refuses paths past 4095 bytes, naming the image" 1 \
    "nothing removed: $deep:/d/d/d" vmkit fs rm -r "$deep:/d"
has "deep: rm -r says why" "$(cat "$T/.out")" "path longer than 4095 bytes, which rm cannot remove"
eq "deep: rm -r removed nothing (debugfs)" "$(dbg_ino "$deep" / d)" 12
rm -rf "$T/dget" "$T/deep.tar" "$T/out"

# ---- 20,000 entries: linear ----
big=$T/big.fat
ok "big: mkfs.fat" mkfs.fat -F 16 -C "$big" 65536
ok "big: mmd" mmd -i "$big" ::D
ok "big: 20,000 entries" python3 "$TOOLS/fat_bigdir.py" "$big" 20000
ok "big: fsck.fat -n clean" fsck.fat -n "$big"
# CPU seconds (user + system) of a command, in $T/cpu; its status returned.
# CPU time, not wall time: the machine may be busy with other work.
cpu() {
    local TIMEFORMAT='%3U %3S'
    { time "$@" 2>&3; } 3>&2 2>"$T/cpu.t"
    local r=$?
    tail -1 "$T/cpu.t" | awk '{ print $1 + $2 }' >"$T/cpu"
    return $r
}
cpu "$VMKIT" fs ls -lR "$big:/" >"$T/out" 2>"$T/err"; rc=$?
rc_is "big: ls -lR exits 0" 0 "$rc" "$T/err"
eq "big: ls -lR shows all (as mdir)" "$(grep -c 'F[0-9]*\.TXT$' "$T/out")" "$(mdir -b -i "$big" ::/D | wc -l)"
# Before: every entry looked up again by name, 25 s of CPU (107 s) here;
# now a tenth of a second.
ok "big: ls -lR of 20,000 entries in under 5 s of CPU ($(cat "$T/cpu") s)" test "$(echo "$(cat "$T/cpu") < 5" | bc)" = 1
mkdir "$T/bget"
cpu "$VMKIT" fs get -r "$big:/D" "$T/bget" >"$T/out" 2>"$T/err"; rc=$?
rc_is "big: get -r exits 0" 0 "$rc" "$T/err"
eq "big: get -r copied all" "$(ls "$T/bget/D" | wc -l)" 20000
ok "big: get -r of 20,000 entries in under 15 s of CPU ($(cat "$T/cpu") s)" test "$(echo "$(cat "$T/cpu") < 15" | bc)" = 1
rm -rf "$T/bget" "$T/out"

# ---- same trees as debugfs rdump and mcopy -s ----
mkdir -p "$src/s/t" && ln -s ../top "$src/s/rel" && head -c 70000 /dev/urandom >"$src/s/t/big"
ok "rdump: mke2fs -d" mke2fs -q -F -t ext4 -d "$src" "$T/t.img" 8M
mkdir "$T/rd" "$T/vk"
ok "rdump: debugfs rdump" debugfs -R "rdump / $T/rd" "$T/t.img"
ok "rdump: vmkit get -r" vmkit fs get -r "$T/t.img:/" "$T/vk"
ok "rdump: same tree as debugfs rdump" diff -r --no-dereference "$T/rd" "$T/vk/root"
ok "mcopy: mkfs.fat" mkfs.fat -C "$T/t.fat" 8192
ok "mcopy: mcopy -s" mcopy -s -i "$T/t.fat" "$src/a" "$src/z" "$src/top" ::/
mkdir "$T/mc" "$T/vf"
ok "mcopy: mcopy -s out" mcopy -s -i "$T/t.fat" ::/a ::/z ::/top "$T/mc"
ok "mcopy: vmkit get -r" vmkit fs get -r "$T/t.fat:/" "$T/vf"
ok "mcopy: same tree as mcopy -s" diff -r "$T/mc" "$T/vf/root"

# ---- names are bytes ----
nimg=$T/names.img
ok "names: mke2fs with a Latin-1 label" mke2fs -q -F -t ext4 -L "$(printf 'caf\351')" "$nimg" 8M
printf 'write %s caf\351\nmkdir d\001ir\nsymlink lnk t\377x\nwrite %s back\\slash\n' "$src/top" "$src/top" >"$T/n.cmd"
ok "names: debugfs makes non-UTF-8 names" debugfs -w -f "$T/n.cmd" "$nimg"
eq "names: ls escapes as ls -b" "$(vko fs ls "$nimg:/" | tr '\n' ' ')" 'back\\slash caf\351 d\001ir lnk lost+found '
has "names: ls -l escapes the link target" "$(vko fs ls -l "$nimg:/lnk")" 'lnk -> t\377x'
vmkit fs ls --json "$nimg:/" >"$T/json" 2>"$T/err"; rc=$?
rc_is "names: ls --json exits 0" 0 "$rc" "$T/err"
eq "names: ls --json keeps every entry, exact bytes in *_base64" "$(python3 - "$T/json" <<'EOF'
import base64, json, sys
out = []
for e in json.load(open(sys.argv[1])):
    n = base64.b64decode(e['name_base64']) if 'name_base64' in e else e['name'].encode()
    t = base64.b64decode(e['target_base64']) if 'target_base64' in e else b''
    out.append(repr(n + (b'->' + t if t else b'')))
print(' '.join(out))
EOF
)" "b'back\\\\slash' b'caf\\xe9' b'd\\x01ir' b'lnk->t\\xffx' b'lost+found'"
vmkit fs stat --json "$nimg:/$(printf 'caf\351')" >"$T/json" 2>"$T/err"; rc=$?
rc_is "names: stat --json by the raw bytes exits 0" 0 "$rc" "$T/err"
eq "names: stat --json path" "$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(e["path"], e["path_base64"])' "$T/json")" '/caf\351 L2NhZuk='
has "names: stat shows the path escaped" "$(vko fs stat "$nimg:/$(printf 'caf\351')")" 'Path: /caf\351'
eq "names: cat by the raw bytes" "$(vko fs cat "$nimg:/$(printf 'caf\351')")" top
mkdir "$T/nget"
ok "names: get -r" vmkit fs get -r "$nimg:/" "$T/nget"
eq "names: get -r makes the raw names" "$(cd "$T/nget/root" && ls -b | tr '\n' ' ')" 'back\\slash caf\351 d\001ir lnk lost+found '
vmkit fs get -r "$nimg:/" - >"$T/n.tar" 2>"$T/err"; rc=$?
rc_is "names: tar exits 0" 0 "$rc" "$T/err"
eq "names: tar members carry the raw bytes" "$(python3 -c "
import sys, tarfile
t = tarfile.open(sys.argv[1], encoding='utf-8', errors='surrogateescape')
print(' '.join(repr(m.name.encode('utf-8', 'surrogateescape')) for m in t if 'caf' in m.name or 'ir' in m.name))" "$T/n.tar")" \
   "b'./caf\\xe9' b'./d\\x01ir'"
has "names: probe escapes the label" "$(vko fs probe "$nimg")" 'LABEL="caf\351"'
eq "names: probe --json label" "$(vko fs probe --json "$nimg" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["label"], e["label_base64"])')" 'caf\351 Y2Fm6Q=='
eq "names: df --json label" "$(vko fs df --json "$nimg" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["label"], e["label_base64"])')" 'caf\351 Y2Fm6Q=='

# FAT: a long name with an unpaired surrogate stays distinct bytes (WTF-8).
nf=$T/names.fat
ok "names fat: mkfs.fat" mkfs.fat -C "$nf" 4096
ok "names fat: mcopy a long name" mcopy -i "$nf" "$src/top" ::abcdefghij.txt
ok "names fat: unpaired surrogate in the long name" python3 - "$nf" <<'EOF'
import sys
p = sys.argv[1]
img = bytearray(open(p, 'rb').read())
i = img.find('bcd'.encode('utf-16-le'))
img[i + 2:i + 4] = (0xD800).to_bytes(2, 'little')
open(p, 'wb').write(img)
EOF
ok "names fat: fsck.fat -n clean" fsck.fat -n "$nf"
eq "names fat: ls escapes the surrogate's bytes" "$(vko fs ls "$nf:/")" 'ab\355\240\200defghij.txt'
eq "names fat: ls --json" "$(vko fs ls --json "$nf:/" | python3 -c 'import json,sys; e=json.load(sys.stdin)[0]; print(e["name"], e["name_base64"])')" \
   'ab\355\240\200defghij.txt YWLtoIBkZWZnaGlqLnR4dA=='
eq "names fat: cat by the raw bytes" "$(vko fs cat "$nf:/$(printf 'ab\355\240\200defghij.txt')")" top
ok "names fat: rm by the raw bytes" vmkit fs rm "$nf:/$(printf 'ab\355\240\200defghij.txt')"
eq "names fat: gone (mdir)" "$(mdir -b -i "$nf" ::/ | wc -l)" 0
ok "names fat: fsck.fat -n clean after rm" fsck.fat -n "$nf"

# ---- errors of a recursive get name the image and the path ----
mkdir -p "$T/busy/root/a"
: >"$T/busy/root/a/b"
fails_with "errors: get -r names host path, image and image path" 1 \
    "$T/busy/root/a/b: Not a directory (copying $T/t.img:/a/b)" vmkit fs get -r "$T/t.img:/" "$T/busy"
fails_with "errors: get of a directory without -r names the image" 1 \
    "$T/t.img:/a: is a directory (use get -r)" vmkit fs get "$T/t.img:/a" "$T/busy"
ok "every vmkit run read by a check exited 0, without sanitizer reports" test ! -s "$T/vko.err"
finish
