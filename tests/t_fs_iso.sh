#!/bin/bash
# ISO 9660 through the fs layer: images made by xorriso (Rock Ridge +
# Joliet) and genisoimage (Joliet only; plain level 1) read back and
# compared with xorriso -find / isoinfo (file lists, owners, modes, link
# targets, bytes); ISOs inside MBR partitions of raw and qcow2 disks;
# ISOs vmkit writes checked by xorriso, isoinfo and blkid; damaged ISOs
# give clear errors.  t_fs_iso_boot.sh boots what vmkit writes.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
for t in xorriso isoinfo genisoimage blkid; do
    command -v $t >/dev/null || { skip "ISO tests" "$t missing (scripts/deps.sh)"; finish; exit; }
done

# "mode uid gid size path[ -> target]" per entry, sorted, from vmkit's
# JSON listing and from xorriso -find -exec lsdl (sizes of directories and
# symlinks left out: the two count them differently).
vk_list() {
    vmkit fs ls -R --json "$1" | python3 -c '
import json, stat, sys
for e in json.load(sys.stdin):
    m = e["mode"] | {"dir": stat.S_IFDIR, "file": stat.S_IFREG, "symlink": stat.S_IFLNK}.get(e["type"], 0)
    size = e["size"] if e["type"] == "file" else 0
    link = " -> " + e["target"] if "target" in e else ""
    print(stat.filemode(m), e["uid"], e["gid"], size, e["path"] + link)' | sort
}
xo_list() {
    xorriso -indev "$1" -find / -exec lsdl 2>/dev/null | python3 -c '
import re, sys
for l in sys.stdin:
    m = re.match(r"^(\S+)\s+\d+\s+(\S+)\s+(\S+)\s+(\d+)\s+\S+\s+\d+\s+\S+\s+\x27(.*?)\x27(?: -> \x27(.*)\x27)?$", l.rstrip("\n"))
    if not m or m.group(5) == "/":
        continue
    size = m.group(4) if m.group(1)[0] == "-" else "0"
    link = " -> " + m.group(6) if m.group(6) is not None else ""
    print(m.group(1), m.group(2), m.group(3), size, m.group(5) + link)' | sort
}
# Every regular file of the list compared byte for byte with the tree.
same_bytes() {  # SPEC-PREFIX TREE
    _bad=""
    while IFS= read -r p; do
        cmp -s <(vmkit fs cat "$1$p") "$2$p" || _bad="$_bad $p"
    done < <(cd "$2" && find . -type f | sed 's|^\.||')
    echo "${_bad:-none}"
}

# The tree: long names, a deep directory, symlinks, a 5 MB file, empty
# files, UTF-8 names, owners and modes, a fixed mtime, a hard link.
mkdir -p src/d/a/b/c/d/e/f/g/h/i/j/k src/empty_dir src/isolinux
long=$(printf 'long-name-%.0s' $(seq 1 20))
echo deep >src/d/a/b/c/d/e/f/g/h/i/j/k/deep.txt
echo "a long name" >"src/$long.txt"
head -c 5000000 /dev/urandom >src/five.bin
: >src/empty
: >src/d/empty2
echo "unicode" >"src/héllo wörld.txt"
ln -s five.bin src/rel_link
ln -s /d/a/b src/abs_link
ln -s ../nowhere src/d/dangling
echo "x" >src/owned; chown 1234:5678 src/owned; chmod 0750 src/owned
touch -d '2021-06-15 12:34:56 UTC' src/five.bin
seq 1 20000 >src/d/seq.txt

# 1. xorriso's Rock Ridge + Joliet image
xorriso -as mkisofs -R -J -V XO_RJ -o rj.iso src >/dev/null 2>&1
ok "xorriso made an RR+Joliet ISO" test -s rj.iso
eq "probe = blkid -p (TYPE LABEL UUID)" "$(vmkit fs probe rj.iso | grep -E '^(TYPE|LABEL|UUID)=' | sort | tr '\n' ' ')" \
   "$(blkid -p -o export rj.iso | grep -E '^(TYPE|LABEL|UUID)=' | sed 's/=\(.*\)/="\1"/' | sort | tr '\n' ' ')"
python3 "$TOP/tests/iso_craft.py" relabel rj.iso relabel.iso OTHER
eq "label from Joliet when the primary's differs, as blkid" "$(vmkit fs probe relabel.iso | grep '^LABEL=')" \
   "$(blkid -p -o export relabel.iso | sed -n 's/^LABEL=\(.*\)/LABEL="\1"/p')"
vk_list rj.iso:/ >vk.txt; xo_list rj.iso >xo.txt
ok "file list, modes, owners, sizes, link targets = xorriso -find -exec lsdl" diff xo.txt vk.txt
has "the long name is whole (Rock Ridge, not Joliet's 64)" "$(cat vk.txt)" "/$long.txt"
eq "bytes of every file = the source" "$(same_bytes rj.iso: src)" none
ok "5 MB file = isoinfo -R -x" cmp <(vmkit fs cat rj.iso:/five.bin) <(isoinfo -R -i rj.iso -x /five.bin)
j=$(vmkit fs stat --json rj.iso:/five.bin)
has "mtime kept" "$j" '"mtime": 1623760496'
j=$(vmkit fs stat --json rj.iso:/owned)
has "uid kept" "$j" '"uid": 1234'
has "gid kept" "$j" '"gid": 5678'
has "mode kept" "$j" '"mode": 488'
eq "cat through a symlink" "$(vmkit fs cat rj.iso:/abs_link/c/d/e/f/g/h/i/j/k/deep.txt)" deep
eq "readdir through a symlink" "$(vmkit fs ls rj.iso:/abs_link)" c
ok "get -r the whole ISO" vmkit fs get -r rj.iso:/ out
ok "get -r = the source tree (diff -r, links not followed)" diff -r --no-dereference src out
fails_with "put refused: read-only" 1 "read-only filesystem" vmkit fs put /etc/hostname rj.iso:/x
fails_with "mkdir refused: read-only" 1 "read-only filesystem" vmkit fs mkdir rj.iso:/x
fails_with "rm refused: read-only" 1 "read-only filesystem" vmkit fs rm rj.iso:/empty
fails_with "missing path" 1 "rj.iso:/nope: no such file" vmkit fs cat rj.iso:/nope
# a damaged tree on which libarchive yields one entry forever (found by
# fuzz_isomenu): refused at once, by the fs reader and by usbkey's reader
cp "$TOP/fuzz/corpus/fuzz_iso/repeating-tree" loop.iso
fails_with "a tree that repeats itself: fs ls refuses it" 1 "repeats itself" timeout 60 "$VMKIT" fs ls loop.iso:/
fails_with "a tree that repeats itself: guest usbkey refuses it" 1 "repeats itself" \
    timeout 60 "$VMKIT" guest usbkey -q key.img --iso loop.iso
# a root directory record claiming 4 GiB (found by fuzz_isomenu: libarchive
# reads the root in one buffer of the size it states): refused before
# libarchive sees it, by both readers
cp "$TOP/fuzz/corpus/fuzz_iso/root-dir-4g" huge.iso
fails_with "a 4 GiB root directory: fs ls refuses it" 1 "root directory (block 19, 4294967040 bytes) lies past the end" \
    "$VMKIT" fs ls huge.iso:/
fails_with "a 4 GiB root directory: guest usbkey refuses it" 1 "lies past the end of the volume" \
    "$VMKIT" guest usbkey -q key.img --iso huge.iso
python3 - <<'PY'
import struct
d = bytearray(open('huge.iso', 'rb').read())
d[16*2048+156+10:16*2048+156+14] = struct.pack('<I', 2048)
d[16*2048+128:16*2048+130] = struct.pack('<H', 256)
open('lbs.iso', 'wb').write(d)
d[16*2048+128:16*2048+130] = struct.pack('<H', 2048)
d[16*2048+80:16*2048+84] = struct.pack('<I', 100000)
open('short.iso', 'wb').write(d)
PY
fails_with "logical block size 256 refused" 1 "logical block size 256 is not 512, 1024 or 2048" "$VMKIT" fs ls lbs.iso:/
fails_with "a volume larger than the file is refused" 1 "truncated ISO image" "$VMKIT" guest usbkey -q key.img --iso short.iso

# 2. Joliet only (genisoimage -J): names from the Joliet tree
genisoimage -quiet -J -joliet-long -input-charset utf-8 -o jo.iso src 2>/dev/null
eq "Joliet-only names = isoinfo -J -f" "$(vmkit fs ls -R --json jo.iso:/ | python3 -c 'import json,sys; print("\n".join(sorted(e["path"] for e in json.load(sys.stdin))))')" \
   "$(isoinfo -J -j iso8859-1 -f -i jo.iso | iconv -f latin1 -t utf-8 | sed 's/;1$//' | sort)"
ok "Joliet UTF-8 name readable" cmp <(vmkit fs cat "jo.iso:/héllo wörld.txt") "src/héllo wörld.txt"

# 3. Plain ISO 9660 level 1 (no RR, no Joliet): 8.3 names with ;1
rm -rf plain && mkdir -p plain/sub && cp src/five.bin plain/five.bin && cp src/d/seq.txt plain/sub/numbers.txt && : >plain/empty
genisoimage -quiet -o plain.iso plain 2>/dev/null
isoinfo -f -i plain.iso | sed 's/;1$//; s/\.$//' | sort >iso.txt
vmkit fs ls -R --json plain.iso:/ | python3 -c 'import json,sys; print("\n".join(sorted(e["path"] for e in json.load(sys.stdin))))' >vkp.txt
ok "plain names = isoinfo -f without ;1" diff iso.txt vkp.txt
ok "plain bytes = isoinfo -x" cmp <(vmkit fs cat plain.iso:/SUB/NUMBERS.TXT) <(isoinfo -i plain.iso -x '/SUB/NUMBERS.TXT;1')
ok "plain 5 MB file" cmp <(vmkit fs cat plain.iso:/FIVE.BIN) plain/five.bin
eq "plain: empty file" "$(vmkit fs stat --json plain.iso:/EMPTY | grep '"size"')" '  "size": 0,'

# zisofs-compressed files (xorriso's --zisofs filter) read decompressed
xorriso -outdev z.iso -map plain / -set_filter_r --zisofs / -- -commit >/dev/null 2>&1
stored=$(isoinfo -l -i z.iso | awk '/NUMBERS.TXT/ {print $5}')
ok "zisofs: the file is stored compressed ($stored bytes)" test "${stored:-0}" -gt 0 -a "${stored:-0}" -lt 100000
ok "zisofs: read back decompressed" cmp <(vmkit fs cat z.iso:/sub/numbers.txt) plain/sub/numbers.txt
ok "zisofs: random data (left uncompressed)" cmp <(vmkit fs cat z.iso:/five.bin) plain/five.bin

# 4. An ISO inside an MBR partition, raw and qcow2
truncate -s 40M disk.img
echo 'start=2048, type=83' | sfdisk -q disk.img >/dev/null
dd if=rj.iso of=disk.img bs=1M seek=1 conv=notrunc status=none
qemu-img convert -O qcow2 disk.img disk.qcow2
for d in disk.img disk.qcow2; do
    eq "$d:1 probe" "$(vmkit fs probe $d:1 | sed -n 's/^LABEL=//p')" '"XO_RJ"'
    vk_list $d:1:/ >vkd.txt
    ok "$d:1 list = xorriso's of the ISO" diff xo.txt vkd.txt
    ok "$d:1 5 MB file" cmp <(vmkit fs cat $d:1:/five.bin) src/five.bin
done

# 5. ISOs vmkit writes, from a directory and from tars
ok "mkfs -t iso9660 --from DIR" vmkit fs mkfs -t iso9660 -L VmkitVol -U 2024-01-02-03-04-05-00 --from src vk.iso
none "no temporary file left" find . -maxdepth 1 -name 'vk.iso.*'
b=$(blkid -p -o export vk.iso)
has "blkid: TYPE" "$b" "TYPE=iso9660"
has "blkid: LABEL (Joliet's, as given)" "$b" "LABEL=VmkitVol"
has "blkid: UUID from -U" "$b" "UUID=2024-01-02-03-04-05-00"
eq "probe = blkid -p" "$(vmkit fs probe vk.iso | grep -E '^(TYPE|LABEL|UUID)=' | sort | tr '\n' ' ')" \
   "$(echo "$b" | grep -E '^(TYPE|LABEL|UUID)=' | sed 's/=\(.*\)/="\1"/' | sort | tr '\n' ' ')"
d=$(isoinfo -d -i vk.iso)
has "isoinfo: Rock Ridge present" "$d" "Rock Ridge signatures"
has "isoinfo: Joliet present" "$d" "Joliet with UCS level"
has "xorriso -pvd_info: creation time" "$(xorriso -indev vk.iso -pvd_info 2>&1)" "Creation Time: 2024010203040500"
xo_list vk.iso >xo2.txt
ok "xorriso reads vk.iso: same list as xorriso's own ISO" diff xo.txt xo2.txt
rm -rf ext && xorriso -osirrox on -indev vk.iso -extract / ext >/dev/null 2>&1
ok "xorriso extracts vk.iso = the source (diff -r)" diff -r --no-dereference src ext
eq "Joliet long name kept to 103 characters" "$(isoinfo -J -f -i vk.iso | grep -c 'long-name-long')" 1
tar -C src -cf src.tar . && tar -C src -czf src.tgz .
for t in src.tar src.tgz; do
    ok "mkfs --from $t" vmkit fs mkfs -t iso9660 --from $t $t.iso
    xo_list $t.iso >xo3.txt
    ok "$t: xorriso list = the tree's" diff xo.txt xo3.txt
    eq "$t: bytes" "$(same_bytes $t.iso: src)" none
done
fails_with "--from missing: clear error" 1 "nosuch: No such file" vmkit fs mkfs -t iso9660 --from nosuch none.iso
ok "... and nothing written" test ! -e none.iso
none "... no temporary file" find . -maxdepth 1 -name 'none.iso*'
fails_with "-t iso9660 without --from: usage" 2 "needs --from" vmkit fs mkfs -t iso9660 x.iso
fails_with "--owner refused for iso9660" 2 "--owner is not supported" vmkit fs mkfs -t iso9660 --owner 0:0 --from src x.iso
fails_with "bad -U" 1 "bad ISO UUID" vmkit fs mkfs -t iso9660 -U 2024 --from src x.iso
fails_with "partitioned disk not replaced without --force" 1 "holds a partition table" \
    vmkit fs mkfs -t iso9660 --from src disk.img
ok "mkfs into a partition (disk.img:1)" vmkit fs mkfs -t iso9660 -L INPART --from src/d disk.img:1
dd if=disk.img of=part.iso bs=1M skip=1 status=none
has "xorriso reads the ISO in the partition" "$(xorriso -indev part.iso -find / 2>/dev/null)" "'/a/b/c/d/e/f/g/h/i/j/k/deep.txt'"
eq "blkid -p on the partition" "$(blkid -p -o value -s LABEL -O 1048576 disk.img)" INPART
mkdir -p own/'[BOOT]' && echo mine >own/'[BOOT]'/catalog && head -c 2048 /dev/zero >own/b.img
ok "mkfs --boot with a 2 KiB image at the root" vmkit fs mkfs -t iso9660 --from own --boot b.img own.iso
eq "an ISO's own /[BOOT] wins over the virtual one" "$(vmkit fs cat 'own.iso:/[BOOT]/catalog')" mine
fails_with "--boot of a missing file" 1 "boot image /nope.bin: no such file in the tree" \
    vmkit fs mkfs -t iso9660 --from own --boot nope.bin nope.iso
ok "... nothing written" test ! -e nope.iso
truncate -s 4M small.img && echo 'start=2048, type=83' | sfdisk -q small.img >/dev/null
fails_with "partition too small: ENOSPC" 1 "the ISO needs" vmkit fs mkfs -t iso9660 --from src small.img:1

# 6. Damaged ISOs: clear errors, no crash
rm -rf small && mkdir -p small/D && echo hi >small/D/f && head -c 100000 /dev/urandom >small/FIVE
xorriso -as mkisofs -R -J -o small.iso small >/dev/null 2>&1
head -c 60000 small.iso >trunc.iso
fails_with "truncated ISO" 1 "vmkit: trunc.iso: truncated ISO image" vmkit fs ls trunc.iso:/
python3 "$TOP/tests/iso_craft.py" loop small.iso loop.iso D
fails_with "directory loop" 1 "vmkit: loop.iso: Directory structure contains loop" vmkit fs ls -R loop.iso:/
python3 "$TOP/tests/iso_craft.py" pastend small.iso pastend.iso D
fails_with "directory past the end" 1 "vmkit: pastend.iso: Invalid location of extent" vmkit fs ls pastend.iso:/
python3 "$TOP/tests/iso_craft.py" noterm small.iso noterm.iso
fails_with "no terminator" 1 "vmkit: noterm.iso: the volume descriptor set has no terminator" vmkit fs ls noterm.iso:/
python3 "$TOP/tests/iso_craft.py" huge small.iso huge.iso FIVE
fails_with "huge extent: clear error" 1 "vmkit: huge.iso: Invalid location of extent of file" \
    vmkit fs ls huge.iso:/
finish
