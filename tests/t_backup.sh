#!/bin/bash
# vmkit backup: save -> restore round trips of an MBR disk (raw: ext4,
# FAT32, a logical swap) and a GPT disk (qcow2: the same), checked with
# the real tools (e2fsck -fn, fsck.fat -n, debugfs, mtools, qemu-img
# compare, sfdisk); free blocks not stored (a deleted file's bytes do not
# come back), GRUB's gap kept, dedup across snapshots, a flipped bit found
# by verify --read-data and refused by restore, bad input refused.
. "$(dirname "$0")/lib.sh"
need e2fsck debugfs dumpe2fs fsck.fat mtype mdir sfdisk qemu-img zstd sha256sum flock || { finish; exit; }

# start of partition N of raw image R in bytes, from sfdisk
pstart() { sfdisk -d "$1" | sed -n "s|^$1$2 : start= *\([0-9]*\),.*|\1|p" | awk '{ print $1 * 512 }'; }
# copy partition N of raw image R to file OUT (fsck.fat wants a file)
part_out() {
    read -r s z < <(sfdisk -d "$1" | sed -n "s|^$1$2 : start= *\([0-9]*\), size= *\([0-9]*\),.*|\1 \2|p")
    [ -n "$s" ] && dd if="$1" of="$3" bs=1M iflag=skip_bytes,count_bytes skip=$((s * 512)) \
        count=$((z * 512)) status=none
}
fat_ok() { part_out "$1" "$2" "$T/p.fat" && fsck.fat -n "$T/p.fat"; }
ext_ok() { e2fsck -fn "$1?offset=$(pstart "$1" "$2")"; }
# the bytes of one file inside partition N of raw image R
ext_cat() { debugfs -R "cat $3" "$1?offset=$(pstart "$1" "$2")" 2>/dev/null; }
fat_cat() { mtype -i "$1@@$(pstart "$1" "$2")" "::$3"; }

head -c 3000000 /dev/urandom >"$T/blob"
head -c 700000 /dev/urandom >"$T/blob2"
printf 'hello from ext\n' >"$T/hello"
# a deleted file's marker: present in the source's free blocks, absent after
for i in $(seq 2000); do printf 'SECRET-MARKER-%05d-deleted-file\n' $i; done >"$T/secret"

# --- the MBR disk: raw, ext4 + FAT32 + a logical swap, GRUB-like gap ---
M=$T/mbr.raw
ok "create a 100M raw disk" truncate -s 100M "$M"
ok "MBR with ext4, FAT32, extended, logical swap" sh -c "'$VMKIT' part init '$M' mbr &&
    '$VMKIT' part add '$M' --size 40M --type linux && '$VMKIT' part add '$M' --size 40M --type fat32 &&
    '$VMKIT' part add '$M' --type extended && '$VMKIT' part add '$M' --logical --type swap"
ok "mkfs ext4, vfat -F 32, swap" sh -c "'$VMKIT' fs mkfs -t ext4 '$M:1' &&
    '$VMKIT' fs mkfs -t vfat -F 32 '$M:2' && '$VMKIT' fs mkfs -t swap '$M:5'"
ok "files in" sh -c "'$VMKIT' fs put '$T/blob' '$M:1:/blob' && '$VMKIT' fs put '$T/hello' '$M:1:/hello' &&
    '$VMKIT' fs put '$T/blob2' '$M:2:/blob2' && '$VMKIT' fs put '$T/hello' '$M:2:/hello.txt'"
ok "secret files in, then deleted" sh -c "'$VMKIT' fs put '$T/secret' '$M:1:/secret' &&
    '$VMKIT' fs put '$T/secret' '$M:2:/secret' && '$VMKIT' fs rm '$M:1:/secret' '$M:2:/secret'"
eq "the deleted marker is in the source's free blocks (ext and FAT)" \
    "$(grep -a -c 'SECRET-MARKER-01234' "$M")" 2
# GRUB's core image lives between the MBR and the first partition
head -c $((2047 * 512)) /dev/urandom >"$T/gap"
ok "fill the gap before partition 1" dd if="$T/gap" of="$M" bs=512 seek=1 conv=notrunc status=none
# swap's unused pages hold old data that must not be stored
sw=$(pstart "$M" 5)
ok "garbage in the swap area past its header" sh -c "head -c 1M /dev/urandom |
    dd of='$M' bs=1M seek=$((sw / 1048576 + 2)) conv=notrunc status=none"

R=$T/repo
ok "backup init" vmkit backup init "$R"
ok "config names the format" grep -q '"format": "vmkit-backup"' "$R/config"
run_ok id1 vmkit backup save "$M" "$R" --name mbr
has "save prints the snapshot id" "$id1" "Z-"
ok "the snapshot index exists" test -s "$R/snapshots/$id1.json"
run_ok list vmkit backup list "$R"
has "list shows it" "$list" "$id1"
run_ok js vmkit backup info --json "$R" mbr
has "info --json: the table" "$js" '"table": "mbr"'
has "info --json: ext4 in partition 1" "$js" '"fs": "ext4"'
has "info --json: swap" "$js" '"fs": "swap"'
run_ok kept python3 -c 'import json,sys; d=json.load(sys.stdin)
print(" ".join(str(p["kept"]) for p in d["partitions"]), d["partitions"][1]["size"])' <<<"$js"
read -r kext kfat kswap fatsize <<<"$kept"
# the used-block maps against the tools' own counts
read -r bc fb bs < <(dumpe2fs -h "$M?offset=$(pstart "$M" 1)" 2>/dev/null |
    awk -F: '/^Block count/ { c = $2 } /^Free blocks/ { f = $2 } /^Block size/ { b = $2 } END { print c, f, b }')
eq "ext kept = dumpe2fs's used blocks" "$kext" "$(( (bc - fb) * bs ))"
fatfree=$(mdir -i "$M@@$(pstart "$M" 2)" :: | grep 'bytes free' | tr -dc 0-9)
ok "FAT kept = partition - mdir's free bytes ($kfat, $fatsize - $fatfree)" \
    test $((fatsize - fatfree - kfat)) -ge 0 -a $((fatsize - fatfree - kfat)) -lt 4096
eq "swap kept = its header page" "$kswap" 4096

ok "restore to raw" vmkit backup restore "$R" "$id1" "$T/m1.raw"
ok "no .partial left" test ! -e "$T/m1.raw.partial"
eq "same size" "$(stat -c %s "$T/m1.raw")" "$(stat -c %s "$M")"
eq "sfdisk: same table" "$(sfdisk -d "$T/m1.raw" | sed 's|m1.raw|X|')" "$(sfdisk -d "$M" | sed 's|mbr.raw|X|')"
ok "the gap before partition 1 (GRUB's) came back" cmp <(dd if="$T/m1.raw" bs=512 skip=1 count=2047 status=none) "$T/gap"
ok "restored ext4: e2fsck -fn clean" ext_ok "$T/m1.raw" 1
ok "restored FAT32: fsck.fat -n clean" fat_ok "$T/m1.raw" 2
ok "ext /blob equal (debugfs)" cmp <(ext_cat "$T/m1.raw" 1 /blob) "$T/blob"
ok "ext /hello equal (debugfs)" cmp <(ext_cat "$T/m1.raw" 1 /hello) "$T/hello"
ok "FAT /blob2 equal (mtools)" cmp <(fat_cat "$T/m1.raw" 2 /blob2) "$T/blob2"
ok "FAT /hello.txt equal (mtools)" cmp <(fat_cat "$T/m1.raw" 2 /hello.txt) "$T/hello"
eq "blkid: swap in partition 5" "$(blkid -p -o value -s TYPE -O "$sw" "$T/m1.raw")" swap
eq "the deleted marker did not come back" "$(grep -a -c 'SECRET-MARKER-01234' "$T/m1.raw")" 0
eq "the swap's garbage was not stored" \
    "$(dd if="$T/m1.raw" bs=1M skip=$((sw / 1048576 + 2)) count=1 status=none | tr -d '\0' | wc -c)" 0
# Every sector of the restore is the source's, or zero where the source
# held free blocks (the deleted files' and the swap's), no more than those.
ok "restored sectors: the source's or zeroed free space" python3 - "$M" "$T/m1.raw" <<'PY'
import sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
z = bytes(512)
M1 = 1 << 20   # compare by MiB first, sectors only where those differ
diff = [i for j in range(0, len(a), M1) if a[j:j+M1] != b[j:j+M1]
        for i in range(j, min(j + M1, len(a)), 512) if a[i:i+512] != b[i:i+512]]
bad = [i for i in diff if b[i:i+512] != z]
# secret twice (ext blocks, FAT clusters: a few sectors of slack) + 1M swap
limit = (2 * 72000 + 2 * 4096 + (1 << 20)) // 512
print(len(diff), "sectors differ,", len(bad), "not zero; limit", limit)
sys.exit(1 if bad or len(diff) > limit or len(a) != len(b) else 0)
PY
ok "restored sparse: fewer blocks than the source" test "$(stat -c %b "$T/m1.raw")" -lt "$(stat -c %b "$M")"

# --- the GPT disk: qcow2 ---
G=$T/gpt.qcow2
ok "create a 100M qcow2 disk" vmkit img create -f qcow2 "$G" 100M
ok "GPT with ext4, FAT32, swap" sh -c "'$VMKIT' part init '$G' gpt &&
    '$VMKIT' part add '$G' --size 40M --type linux && '$VMKIT' part add '$G' --size 40M --type fat32 &&
    '$VMKIT' part add '$G' --type swap"
ok "mkfs and files" sh -c "'$VMKIT' fs mkfs -t ext4 '$G:1' && '$VMKIT' fs mkfs -t vfat -F 32 '$G:2' &&
    '$VMKIT' fs mkfs -t swap '$G:3' && '$VMKIT' fs put '$T/blob' '$G:1:/blob' &&
    '$VMKIT' fs put '$T/blob2' '$G:2:/blob2'"
run_ok id2 vmkit backup save "$G" "$R" --name gpt
ok "restore to qcow2" vmkit backup restore --format qcow2 "$R" gpt "$T/g1.qcow2"
ok "qemu-img check the restored qcow2" qemu-img check -q "$T/g1.qcow2"
ok "qemu-img compare: the GPT disk restored whole" qemu-img compare -q "$G" "$T/g1.qcow2"
ok "qemu-img convert the restore to raw" qemu-img convert -O raw "$T/g1.qcow2" "$T/g1.raw"
eq "sfdisk: a gpt label" "$(sfdisk -d "$T/g1.raw" | sed -n 's/^label: //p')" gpt
ok "GPT restored ext4: e2fsck -fn clean" ext_ok "$T/g1.raw" 1
ok "GPT restored FAT32: fsck.fat -n clean" fat_ok "$T/g1.raw" 2
ok "GPT ext /blob equal" cmp <(ext_cat "$T/g1.raw" 1 /blob) "$T/blob"
ok "GPT FAT /blob2 equal" cmp <(fat_cat "$T/g1.raw" 2 /blob2) "$T/blob2"

# --- a filesystem without a partition table (root.img) ---
F=$T/root.img
ok "a bare 24M ext4 image with a file" sh -c "truncate -s 24M '$F' && '$VMKIT' fs mkfs -t ext4 '$F' &&
    '$VMKIT' fs put '$T/blob2' '$F:/blob2'"
run_ok idf vmkit backup save "$F" "$R"
run_ok jf vmkit backup info --json "$R" "$idf"
has "info: no table" "$jf" '"table": "none"'
has "info: ext4 on the whole disk" "$jf" '"fs": "ext4"'
ok "restore it" vmkit backup restore "$R" "$idf" "$T/root2.img"
ok "restored bare ext4: e2fsck -fn clean" e2fsck -fn "$T/root2.img"
ok "qemu-img compare: the bare image restored whole" qemu-img compare -q -f raw -F raw "$F" "$T/root2.img"

# --- dedup: a small change adds few chunks, the old snapshot stays ---
nchunks() { find "$R/chunks" -type f ! -name '.*' | wc -l; }
n0=$(nchunks)
ok "change one small file" sh -c "printf 'changed\n' >'$T/hello2' && '$VMKIT' fs put '$T/hello2' '$M:1:/hello2'"
run_ok id3 vmkit backup save "$M" "$R" --name mbr
n1=$(nchunks)
ok "the second backup added 1-4 chunks ($((n1 - n0)))" test $((n1 - n0)) -ge 1 -a $((n1 - n0)) -le 4
run_ok js3 vmkit backup info --json "$R" "$id3"
has "info: new_chunks recorded" "$js3" "\"new_chunks\": $((n1 - n0))"
ok "the first snapshot still restores" vmkit backup restore "$R" "$id1" "$T/m1b.raw"
ok "identical to its first restore" cmp "$T/m1.raw" "$T/m1b.raw"
ok "the second restores with the change" vmkit backup restore "$R" latest "$T/m3.raw"
ok "the new file is there" cmp <(ext_cat "$T/m3.raw" 1 /hello2) "$T/hello2"
ok "verify --read-data: all good" vmkit backup verify --read-data "$R"

# --- the chunk format is what README says: zstd of bytes named by SHA-256 ---
c=$(find "$R/chunks" -type f ! -name '.*' | head -1)
eq "a chunk decompresses (zstd) to bytes whose SHA-256 is its name" \
    "$(zstd -dc <"$c" | sha256sum | cut -c1-64)" "$(basename "$c")"

# --- damage: a flipped bit in a chunk file ---
# the chunk of /blob in the MBR disk's first snapshot
blobchunk=$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); print(d["extents"][1]["chunk"])' "$R/snapshots/$id1.json")
cf=$R/chunks/${blobchunk:0:2}/$blobchunk
ok "the chunk file exists" test -f "$cf"
cp "$cf" "$T/chunk.good"
ok "flip one bit in it" python3 -c 'import sys
p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2] ^= 0x10; open(p,"wb").write(b)' "$cf"
ok "verify without --read-data: the chunk is there" vmkit backup verify "$R"
fails_with "verify --read-data finds it (exit 1)" 1 "damaged" vmkit backup verify --read-data "$R"
has "... naming the snapshot it touches" "$(cat "$T/.out")" "$id1"
has "... and the chunk" "$(cat "$T/.out")" "$blobchunk"
fails_with "restore refuses the damaged chunk" 1 "damaged" vmkit backup restore "$R" "$id1" "$T/bad.raw"
ok "... and leaves neither DEST nor DEST.partial" test ! -e "$T/bad.raw" -a ! -e "$T/bad.raw.partial"
ok "put the chunk back" cp "$T/chunk.good" "$cf"
mv "$cf" "$T/chunk.moved"
fails_with "verify: a missing chunk (exit 1)" 1 "missing" vmkit backup verify "$R"
mv "$T/chunk.moved" "$cf"
cp "$R/snapshots/$id2.json" "$T/idx.good"
ok "damage the GPT snapshot's index" sh -c "printf '{\"format\": \"vmkit-backup-snapshot\", \"version\": 1' >'$R/snapshots/$id2.json'"
fails_with "verify: a damaged index (exit 1)" 1 "$id2" vmkit backup verify "$R"
fails_with "info of it: refused" 1 "damaged snapshot index" vmkit backup info "$R" "$id2"
cp "$T/idx.good" "$R/snapshots/$id2.json"
ok "verify --read-data: good again" vmkit backup verify --read-data "$R"

# --- a save killed at any point leaves a consistent repository ---
ok "another change, for new chunks" vmkit fs put "$T/blob2" "$M:1:/blob3"
for d in $(pick "0.05 0.2 0.5" "0.3 1" "0.02 0.05 0.1 0.2 0.3 0.5 0.8 1.2"); do
    timeout -s KILL "$d" "$VMKIT" backup save "$M" "$R" --name killed >/dev/null 2>&1
    ok "killed after ${d}s: verify --read-data clean" vmkit backup verify --read-data "$R"
done
ok "list --json" sh -c "'$VMKIT' backup list --json '$R' >'$T/ids.json'"
ok "every snapshot a killed save listed restores" python3 - "$VMKIT" "$R" "$T" <<'PY'
import json, subprocess, sys
vmkit, repo, tmp = sys.argv[1:]
for i, s in enumerate(json.load(open(tmp + "/ids.json"))):
    if s["name"] == "killed":
        subprocess.run([vmkit, "backup", "restore", repo, s["id"], "%s/k%d.raw" % (tmp, i)], check=True)
PY
rm -f "$T"/k*.raw
find "$R" -name '.*' -delete

# --- bad input ---
mkdir "$T/notrepo"
fails_with "not a repository" 1 "not a vmkit backup repository" vmkit backup list "$T/notrepo"
fails_with "save into a missing repository" 1 "$T/nope" vmkit backup save "$M" "$T/nope"
fails_with "unknown snapshot" 1 "no snapshot 'nosuch'" vmkit backup info "$R" nosuch
fails_with "restore over an existing DEST" 1 "exists" vmkit backup restore "$R" "$id1" "$T/m1.raw"
ok "... which is untouched" cmp "$T/m1.raw" "$T/m1b.raw"
ok "restore --force replaces it" vmkit backup restore --force "$R" "$id3" "$T/m1.raw"
ok "... with the newer snapshot" cmp "$T/m1.raw" "$T/m3.raw"
ok "a leftover DEST.partial (an interrupted restore)" sh -c "echo junk >'$T/lo.raw.partial'"
ok "restore replaces the leftover" vmkit backup restore "$R" "$id1" "$T/lo.raw"
ok "... and leaves only DEST, the snapshot's" sh -c "test ! -e '$T/lo.raw.partial' && cmp '$T/lo.raw' '$T/m1b.raw'"
rm -f "$T/lo.raw"
fails_with "init a non-empty directory" 1 "not empty" vmkit backup init "$R"
fails_with "save of a missing disk" 1 "$T/missing.raw" vmkit backup save "$T/missing.raw" "$R"
fails_with "one writer at a time" 1 "locked" flock "$R/lock" "$VMKIT" backup save "$M" "$R"
fails "restore --format vmdk: usage" 2 vmkit backup restore -f vmdk "$R" "$id1" "$T/x"
fails "backup without a verb: usage" 2 vmkit backup
eq "nothing half-written in the repository" "$(find "$R" -name '.*' | wc -l)" 0
finish
