#!/bin/bash
# VHDX images (Hyper-V), with qemu-img as the oracle both ways:
# - images qemu-img makes (dynamic and fixed, block sizes 1, 8 and 32 MiB,
#   odd sizes) with data qemu-io wrote are read by vmkit: its raw copy is
#   byte for byte qemu-img's; info agrees;
# - images vmkit makes (create, convert, random writes) pass qemu-img
#   check and compare equal; qemu-io writes into them and vmkit reads that;
# - resize grows dynamic and fixed images, within the BAT region's room
#   and past it (the BAT moves, through the log): the data kept, the new
#   space zeroes, qemu-img check clean;
# - part and fs work inside a VHDX; a VM is given format=vhdx;
# - bad input (headers, region tables, metadata, BAT entries, a pending
#   log, a differencing disk, truncation) is refused, exit 1, unchanged;
#   one damaged header or region table copy is survived, as the spec asks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
need qemu-img qemu-io e2fsck python3 || { finish; exit; }

ok "source image" truncate -s 20M src.raw
fill src.raw
# keys FILE: virtual size, cluster size and format as vmkit and qemu-img
# see them ("A | B"; one python for both, the machine is shared)
keys() {
    v=$(vmkit img info --json "$1" 2>&1); q=$(qemu-img info --output=json "$1" 2>&1)
    python3 -c '
import json,sys
def k(t):
    try: j=json.loads(t)
    except ValueError: return "(no JSON: %s)" % t[:200]
    return "%s %s %s" % (j.get("virtual-size"), j.get("cluster-size"), j.get("format"))
print(k(sys.argv[1]), "|", k(sys.argv[2]))' "$v" "$q"
}
# agree DESC FILE: vmkit's keys are qemu-img's
agree() { _k=$(keys "$2"); eq "$1" "${_k% |*}" "${_k#*| }"; }

# --- qemu-img's images, read by vmkit ---
# NAME:SIZE:OPTIONS; data by qemu-io at the start, across a block boundary,
# in the middle and at the very end
for v in d8:20M: d1:5M:block_size=1M d32:70M:block_size=32M odd:3M+512:block_size=1M \
         fix:6M:subformat=fixed,block_size=1M fixz:6M:subformat=fixed,block_size=1M,block_state_zero=off; do
    IFS=: read -r n sz o <<<"$v"
    bytes=$(( ${sz%M*} << 20 )); [ "$sz" = 3M+512 ] && bytes=$(( (3 << 20) + 512 ))
    ok "qemu-img create vhdx $n ($sz $o)" qemu-img create -q -f vhdx ${o:+-o $o} q-$n.vhdx $bytes
    ok "qemu-io writes into q-$n.vhdx" qemu-io -c "write -P 0x5a 0 70k" \
        -c "write -P 0xa5 $(( (1 << 20) - 1024 )) 8k" -c "write -P 0x11 $(( bytes / 2 / 512 * 512 )) 1536" \
        -c "write -P 0x77 $(( bytes - 512 )) 512" q-$n.vhdx
    agree "q-$n.vhdx: size, block size and format as qemu-img" q-$n.vhdx
    ok "vmkit reads q-$n.vhdx into raw" vmkit img convert -O raw q-$n.vhdx q-$n.raw
    ok "qemu-img reads q-$n.vhdx into raw" qemu-img convert -O raw q-$n.vhdx q-$n.qraw
    ok "q-$n.vhdx: vmkit's raw = qemu-img's, byte for byte" cmp q-$n.raw q-$n.qraw
    has "vmkit img check q-$n.vhdx" "$(vmkit img check q-$n.vhdx)" "No errors were found on the image."
done
run_ok j vmkit img info --json q-d1.vhdx
has "info: block size in the format-specific data" "$j" '"block-size": 1048576'
has "info: subformat" "$j" '"subformat": "dynamic"'
has "info of a fixed image says so" "$(vmkit img info q-fix.vhdx)" "subformat: fixed"
ok "qemu-img convert -O vhdx of the source" qemu-img convert -O vhdx src.raw q-src.vhdx
ok "vmkit reads it" vmkit img convert -O raw q-src.vhdx q-src.raw
ok "... equal to the source" cmp src.raw q-src.raw

# --- vmkit's images, checked by qemu-img ---
for sz in 100M 5G 200G; do
    ok "qemu-img create vhdx $sz" qemu-img create -q -f vhdx q$sz.vhdx $sz
    ok "vmkit create vhdx $sz" vmkit img create -f vhdx v$sz.vhdx $sz
    qcheck "qemu-img check: created $sz" v$sz.vhdx
    _a=$(keys v$sz.vhdx); _b=$(keys q$sz.vhdx)
    eq "$sz: size and block size chosen as qemu-img's (qemu-img reading both)" "${_a#*| }" "${_b#*| }"
    eq "$sz: no more disk used than qemu-img's" \
        "$([ "$(kbytes v$sz.vhdx)" -le "$(kbytes q$sz.vhdx)" ] && echo yes)" yes
done
for v in dyn: b1:block_size=1M b32:block_size=32M fixed:subformat=fixed; do
    n=${v%%:*}; o=${v#*:}
    ok "vmkit convert raw -> vhdx ($n)" vmkit img convert -O vhdx ${o:+-o $o} src.raw v-$n.vhdx
    qcheck "qemu-img check: v-$n.vhdx" v-$n.vhdx
    ok "qemu-img compare: v-$n.vhdx = source" qemu-img compare -f raw -F vhdx src.raw v-$n.vhdx
    ok "vhdx -> raw by vmkit ($n)" vmkit img convert -O raw v-$n.vhdx v-$n.raw
    ok "round trip ($n) equal" cmp src.raw v-$n.raw
done
has "block_size=1M recorded" "$(keys v-b1.vhdx)" "| 20971520 1048576 vhdx"
ok "qemu-img convert of the same source" qemu-img convert -O vhdx src.raw q-conv.vhdx
eq "vmkit's dynamic VHDX no larger than qemu-img's" \
    "$([ "$(stat -c %s v-dyn.vhdx)" -le "$(stat -c %s q-conv.vhdx)" ] && echo yes)" yes
ok "vhdx -> vhdx (vmkit)" vmkit img convert -O vhdx q-d8.vhdx v-copy.vhdx
ok "qemu-img compare: vhdx copy" qemu-img compare q-d8.vhdx v-copy.vhdx
# qemu-io writes into vmkit's image after vmkit's header updates, and back
cp v-b1.vhdx mixed.vhdx && cp src.raw mixed.raw
ok "qemu-io writes into vmkit's image" qemu-io -c "write -P 0x42 $((3 << 20)) 1M" mixed.vhdx
ok "same into the raw reference" qemu-io -f raw -c "write -P 0x42 $((3 << 20)) 1M" mixed.raw
ok "vmkit reads qemu's writes" vmkit img compare mixed.raw mixed.vhdx
ok "qemu-img compare agrees" qemu-img compare -f raw -F vhdx mixed.raw mixed.vhdx

# --- past the first chunk: with 1 MiB blocks the BAT has a sector-bitmap
# entry after every 4096 payload entries, so block 4096 (at 4 GiB) is BAT
# entry 4097.  qemu-io writes the same into the VHDX and a sparse raw
# reference; vmkit must read them alike, and qemu-io must read back what
# vmkit writes there (pattern checks: no 6 GiB reads) ---
W="-c 'write -P 0x61 4G 1M' -c 'write -P 0x62 $(( (4095 << 20) + 4096 )) $(( (1 << 20) - 8192 ))' -c 'write -P 0x63 $(( (6 << 30) - 512 )) 512'"
ok "qemu-img create 6G, 1 MiB blocks" qemu-img create -q -f vhdx -o block_size=1M big.vhdx 6G
ok "qemu-io writes around 4 GiB" eval qemu-io $W big.vhdx
ok "raw reference" truncate -s 6G big.raw
ok "qemu-io writes the same into it" eval qemu-io -f raw $W big.raw
ok "vmkit reads past the first chunk as qemu-io wrote it" vmkit img compare big.raw big.vhdx
ok "vmkit writes past the first chunk" vmkit img convert -O vhdx -o block_size=1M big.raw vbig.vhdx
qcheck "qemu-img check: vbig.vhdx" vbig.vhdx
run_ok out qemu-io -c "read -P 0x61 4G 1M" -c "read -P 0x62 $(( (4095 << 20) + 4096 )) $(( (1 << 20) - 8192 ))" \
    -c "read -P 0 $(( 4097 << 20 )) 1M" -c "read -P 0x63 $(( (6 << 30) - 512 )) 512" vbig.vhdx
eq "qemu-io reads vmkit's blocks past the first chunk as written" "$(echo "$out" | grep -c 'Pattern verification failed')" 0
has "... all four reads done" "$(echo "$out" | grep -c '^read ')" 4

# --- random writes (tests/tools/vkio) through vmkit and, with plain
# pwrite, into a raw copy: qemu-img must find them equal and check clean ---
VKIO=$(dirname "$VMKIT")/tools/vkio
N=$(pick 40 20 200)
for base in q-d1.vhdx:1 v-dyn.vhdx:2 q-fix.vhdx:3; do
    seed=${base#*:}; base=${base%:*}
    {
        cp $base t.vhdx && ok "raw reference of $base" qemu-img convert -O raw $base ref.raw
        torture_script $seed $N "$(stat -c %s ref.raw)" >s$seed
        ok "$base, script $seed: vkio through vmkit" "$VKIO" t.vhdx vhdx <s$seed
        ok "$base, script $seed: vkio plain" "$VKIO" ref.raw plain <s$seed
        ok "$base, script $seed: qemu-img compare" qemu-img compare -f raw -F vhdx ref.raw t.vhdx
        qcheck "$base, script $seed: qemu-img check" t.vhdx
    }
done

# hdrs FILE: "seq1 seq2 valid1 valid2 logguid-zero1 logguid-zero2"
hdrs() {
    PYTHONPATH=$TOP/tests/fixtures python3 - "$1" <<'PY'
import struct, sys
from crc32c import crc32c as crc
d = open(sys.argv[1], "rb").read()
out = []
for o in (65536, 131072):
    h = bytearray(d[o:o + 4096]); want = struct.unpack_from("<I", h, 4)[0]; h[4:8] = bytes(4)
    out.append((struct.unpack_from("<Q", h, 8)[0], crc(h) == want and h[:4] == b"head", not any(h[48:64])))
print(out[0][0], out[1][0], out[0][1], out[1][1], out[0][2], out[1][2])
PY
}

# --- resize: grows, as Hyper-V's Resize-VHD (qemu-img has no resize for
# VHDX); a dynamic 100M image has 8 MiB
# blocks and an odd last block ---
for sub in dynamic fixed; do
    qemu-img create -q -f vhdx -o subformat=$sub rs-$sub.vhdx 100M
    qemu-io -f vhdx -c 'write -P 0x41 1M 2M' -c 'write -P 0x42 90M 1M' -c 'write -P 0x45 99M 1M' rs-$sub.vhdx >/dev/null
    qemu-img convert -f vhdx -O raw rs-$sub.vhdx rs.raw
    # bytes past the old end in the last block, as a careless writer
    # might leave them: they must read as zeroes once the disk grows
    host=$(python3 -c '
import struct, sys, uuid
f = open(sys.argv[1], "rb"); f.seek(192 << 10); t = f.read(64 << 10)
bat = uuid.UUID("2DC27766-F623-4200-9D64-115E9BFD4A08").bytes_le
for i in range(struct.unpack_from("<I", t, 8)[0]):
    if t[16 + 32 * i:32 + 32 * i] == bat: off = struct.unpack_from("<Q", t, 32 + 32 * i)[0]
f.seek(off + 12 * 8); v = struct.unpack("<Q", f.read(8))[0]   # block 12 of 8 MiB: 96M..104M
print(v >> 20 << 20 if v & 7 == 6 else "none")' rs-$sub.vhdx)
    ok "$sub: junk past the old end, in block 12 at host offset $host + 4 MiB" python3 -c "
f = open('rs-$sub.vhdx', 'r+b'); f.seek($host + (4 << 20)); f.write(b'junk' * 1024)"
    ok "$sub: vmkit reads the old disk unchanged" vmkit img compare -f vhdx -F raw rs-$sub.vhdx rs.raw
    ok "$sub: resize 100M -> 5G" vmkit img resize rs-$sub.vhdx 5G
    eq "$sub: qemu-img sees 5 GiB" "$(qinfo rs-$sub.vhdx virtual-size vhdx)" $((5 << 30))
    eq "$sub: vmkit too" "$(keys rs-$sub.vhdx | cut -d' ' -f1)" $((5 << 30))
    truncate -s 5G rs.raw
    ok "$sub: qemu-img compare: the data kept, the new space zeroes (the junk too)" qemu-img compare -q -f raw -F vhdx rs.raw rs-$sub.vhdx
    qcheck "$sub: qemu-img check after the resize" rs-$sub.vhdx
    ok "$sub: qemu-io writes past the old end and reads the old data" \
        qemu-io -f vhdx -c 'write -P 0x43 4000M 3M' -c 'read -P 0x42 90M 1M' -c 'read -P 0x43 4000M 3M' rs-$sub.vhdx
done
eq "fixed: every new block allocated" "$(qemu-img map -f vhdx --output=json rs-fixed.vhdx | python3 -c '
import json,sys; print(all(m["data"] for m in json.load(sys.stdin)))')" True
# vmkit's writes into the grown image
qemu-img convert -f vhdx -O raw rs-dynamic.vhdx rs.raw
torture_script 7 "$N" $((5 << 30)) >srs
ok "grown: vkio through vmkit" "$VKIO" rs-dynamic.vhdx vhdx <srs
ok "grown: vkio plain" "$VKIO" rs.raw plain <srs
ok "grown: qemu-img compare" qemu-img compare -q -f raw -F vhdx rs.raw rs-dynamic.vhdx
qcheck "grown: qemu-img check" rs-dynamic.vhdx
# refused, unchanged: shrinking
sum=$(md5sum <rs-fixed.vhdx)
fails_with "resize: shrinking a VHDX is refused" 1 "rs-fixed.vhdx: VHDX images are not shrunk" vmkit img resize --shrink rs-fixed.vhdx 1G
unchanged "resize: the refused shrink changed nothing" rs-fixed.vhdx "$sum"
ok "resize: to 900G, the most the BAT region's room takes in 8 MiB blocks" vmkit img resize rs-dynamic.vhdx 900G
qcheck "900G: qemu-img check" rs-dynamic.vhdx
# past the room: the BAT moves to the end of the file, the region tables
# switch through the log (t_img_crash kills it at every step)
batoff() {  # FILE: the BAT region's offset and length in both region tables
    python3 - "$1" <<'PY'
import struct, sys, uuid
f = open(sys.argv[1], "rb")
bat = uuid.UUID("2DC27766-F623-4200-9D64-115E9BFD4A08").bytes_le
for at in (192 << 10, 256 << 10):
    f.seek(at); t = f.read(64 << 10)
    for i in range(struct.unpack_from("<I", t, 8)[0]):
        if t[16 + 32 * i:32 + 32 * i] == bat: print(*struct.unpack_from("<QI", t, 32 + 32 * i), end=" ")
PY
}
old_bat=$(batoff rs-dynamic.vhdx)     # rs.raw: its content (the compare above)
end=$(stat -c %s rs-dynamic.vhdx)
ok "resize: 900G -> 3000G, past the BAT region's room" vmkit img resize rs-dynamic.vhdx 3000G
eq "3000G: qemu-img sees it" "$(qinfo rs-dynamic.vhdx virtual-size vhdx)" $((3000 << 30))
qcheck "3000G: qemu-img check" rs-dynamic.vhdx
truncate -s 3000G rs.raw
# (QEMU reads no VHDX block status: a compare would read 3 TB of zeroes)
ok "3000G: vmkit img compare: the data kept, the new space zeroes" vmkit img compare -f vhdx -F raw rs-dynamic.vhdx rs.raw
ok "3000G: QEMU reads the first 5 GiB as before (qemu-img dd)" sh -c "qemu-img dd -f vhdx -O raw bs=1M count=5120 \
    if=rs-dynamic.vhdx of=head.raw && head -c 5G rs.raw | cmp - head.raw"
eq "3000G: and zeroes past 900G" "$(qemu-io -f vhdx -c 'read -P 0 900G 1M' -c 'read -P 0 2999G 1M' rs-dynamic.vhdx | grep -c '^read')" 2
rm -f head.raw
eq "3000G: both region tables name a 3 MiB BAT at the old end of the file (it was $old_bat)" \
    "$(batoff rs-dynamic.vhdx)" "$end 3145728 $end 3145728 "
eq "3000G: both headers valid, no log left pending (log GUIDs zero)" "$(hdrs rs-dynamic.vhdx | cut -d' ' -f3-)" "True True True True"
ok "3000G: qemu-io writes past 900G and reads the old data" \
    qemu-io -f vhdx -c 'write -P 0x46 2999G 3M' -c 'read -P 0x42 90M 1M' -c 'read -P 0x46 2999G 3M' rs-dynamic.vhdx
ok "3000G: vmkit reads qemu-io's write" sh -c "'$VMKIT' img convert -f vhdx -O raw rs-dynamic.vhdx rs2.raw &&
    qemu-io -f raw -c 'read -P 0x46 2999G 3M' -c 'read -P 0x42 90M 1M' rs2.raw >/dev/null"
rm -f rs2.raw
fails_with "resize: past 64 TiB is refused" 1 "a VHDX holds at most 64 TiB" vmkit img resize rs-dynamic.vhdx 65T
rm -f rs.raw rs-*.vhdx

# --- the headers after a write: both valid, the sequence moved on ---
ok "a fresh image" vmkit img create -f vhdx -o block_size=1M h.vhdx 4M
eq "created: sequence 1 and 2, valid" "$(hdrs h.vhdx)" "1 2 True True True True"
printf 'w 4096 100 7\n' >hw
ok "one write through vmkit" "$VKIO" h.vhdx vhdx <hw
eq "after the write: both headers rewritten with higher numbers" "$(hdrs h.vhdx)" "3 4 True True True True"

# --- partitions and filesystems inside a VHDX ---
ok "create disk.vhdx" vmkit img create -f vhdx disk.vhdx 64M
ok "part init" vmkit part init disk.vhdx gpt
run_ok pn vmkit part add disk.vhdx --size 40M
ok "mkfs ext4 in disk.vhdx:1" vmkit fs mkfs -t ext4 disk.vhdx:1
echo "hello from a VHDX" >hello.txt
ok "fs put into the VHDX" vmkit fs put hello.txt disk.vhdx:1:/hello.txt
eq "fs cat reads it back" "$(vmkit fs cat disk.vhdx:1:/hello.txt)" "hello from a VHDX"
qcheck "qemu-img check: disk.vhdx after part+fs" disk.vhdx
ok "qemu-img convert disk.vhdx -> raw" qemu-img convert -O raw disk.vhdx disk.raw
run_ok pl sfdisk --json disk.raw
start=$(echo "$pl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"])')
ok "partition 1 extracted" dd if=disk.raw of=p1.raw bs=512 skip="$start" count=$((40 << 11)) status=none
ok "e2fsck -fn on qemu-img's raw copy" e2fsck -fn p1.raw
has "debugfs sees the file" "$(debugfs -R 'cat /hello.txt' p1.raw 2>/dev/null)" "hello from a VHDX"

# --- a VM: QEMU is given format=vhdx ---
cat >vm.cfg <<CFG
name = "fmt"
memory = 64
disk = [ 'format=vhdx, vdev=xvda, access=rw, target=$T/disk.vhdx' ]
CFG
mkdir -m 700 run
run_ok argv "$(dirname "$VMKIT")/tests/t_qemu_argv" vm.cfg run
has "format=vhdx for the VHDX" "$argv" "file=$T/disk.vhdx,if=none,id=disk0,format=vhdx"

# --- bad input ---
# recrc FILE OFFSET LEN: recompute the CRC-32C at OFFSET+4 over LEN bytes.
recrc() {
    PYTHONPATH=$TOP/tests/fixtures python3 - "$@" <<'PY'
import struct, sys
from crc32c import crc32c
p, o, l = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = open(p, "r+b"); f.seek(o); b = bytearray(f.read(l)); b[4:8] = bytes(4)
f.seek(o + 4); f.write(struct.pack("<I", crc32c(b)))
PY
}
bad() {  # DESC FILE MESSAGE
    s=$(md5sum <"$2")
    fails_with "$1: info" 1 "$3" vmkit img info "$2"
    fails_with "$1: convert" 1 "$3" vmkit img convert "$2" "$2.out"
    ok "$1: no output left" test ! -e "$2.out"
    unchanged "$1: image unchanged" "$2" "$s"
}
# where qemu-img puts things: BAT at 2 MiB, metadata at 3 MiB (items 64 KiB in)
B=$((2 << 20)) M=$((3 << 20))
cp q-d1.vhdx h1.vhdx && poke h1.vhdx $((65536 + 8)) "<Q" 999
ok "one damaged header: the other one is used" vmkit img convert -O raw h1.vhdx h1.raw
ok "... and reads the same" cmp h1.raw q-d1.raw
poke h1.vhdx $((131072 + 8)) "<Q" 999
bad "both headers damaged" h1.vhdx "h1.vhdx: no valid VHDX header"
cp q-d1.vhdx rt.vhdx && poke rt.vhdx $((196608 + 8)) "<I" 5
ok "first region table damaged: the copy is used" vmkit img convert -O raw rt.vhdx rt.raw
ok "... and reads the same" cmp rt.raw q-d1.raw
poke rt.vhdx $((262144 + 8)) "<I" 5
bad "both region tables damaged" rt.vhdx "rt.vhdx: the region table (offsets 196608 and 262144) has a bad signature or checksum"
cp q-d1.vhdx rto.vhdx
for o in 196608 262144; do poke rto.vhdx $((o + 32)) "<Q" $M && recrc rto.vhdx $o 65536; done
bad "BAT region on the metadata" rto.vhdx "rto.vhdx: the header section, log, BAT and metadata regions overlap (at offset 3145728)"
cp q-d1.vhdx bs.vhdx && poke bs.vhdx $((M + 65536)) "<I" $((3 << 20))
bad "block size 3 MiB" bs.vhdx "bs.vhdx: block size 3145728 is out of range"
cp q-d1.vhdx diff.vhdx && poke diff.vhdx $((M + 65536 + 4)) "<I" 2
bad "differencing disk" diff.vhdx "diff.vhdx: differencing VHDX images (with a parent) are not supported"
fails_with "differencing disk: part list" 1 "differencing VHDX images" vmkit part list diff.vhdx
cp q-d1.vhdx ss.vhdx && poke ss.vhdx $((M + 65536 + 32)) "<I" 1000
bad "logical sector size 1000" ss.vhdx "ss.vhdx: sector sizes 1000/512"
e0=$(python3 -c 'import struct; d=open("q-d1.vhdx","rb").read(); print(struct.unpack("<Q",d['$B':'$B'+8])[0])')
cp q-d1.vhdx eof.vhdx && poke eof.vhdx $((B + 8)) "<Q" $(( (500 << 20) | 6 ))
bad "BAT entry past the end" eof.vhdx "eof.vhdx: BAT entry 1 (offset $((B + 8)), value 0x1f400006) points past the end of the file"
cp q-d1.vhdx dup.vhdx && poke dup.vhdx $((B + 8)) "<Q" $e0
bad "two blocks on one" dup.vhdx "dup.vhdx: BAT entry 1 (offset $((B + 8))"
has "two blocks on one: said so" "$(vmkit img info dup.vhdx 2>&1)" "points at space already in use"
cp q-d1.vhdx meta.vhdx && poke meta.vhdx $B "<Q" $(( M | 6 ))
bad "block on the metadata" meta.vhdx "meta.vhdx: BAT entry 0 (offset $B, value 0x300006) points at space already in use"
cp q-d1.vhdx part.vhdx && poke part.vhdx $((B + 16)) "<Q" 7
bad "partially present block" part.vhdx "part.vhdx: BAT entry 2 (offset $((B + 16)), value 0x7) is partially present"
fails "check reports the shared block" 2 vmkit img check dup.vhdx
fails "check reports the block on the metadata" 2 vmkit img check meta.vhdx
fails "qemu-img check agrees" 2 qemu-img check meta.vhdx
fails "check reports the block past the end" 2 vmkit img check eof.vhdx
fails "qemu-img check agrees" 2 qemu-img check eof.vhdx
# --- the log: a writer that crashed left changes in it ---
# vhdxlog NAME SPEC: q-d1.vhdx with log entries (tests/fixtures/vhdx_log.py)
vhdxlog() { cp q-d1.vhdx "$1" && python3 "$TOP/tests/fixtures/vhdx_log.py" "$1" "$2"; }
# replayed NAME: qemu-img and vmkit each replay a copy of NAME (check -r
# all opens it read-write); the images then read the same, the log is
# gone from vmkit's (qemu-img opens it read-only, which a pending log
# forbids) and both files have the same size
replayed() {
    cp "$1" "q-$1" && cp "$1" "v-$1"
    ok "$1: qemu-img check -r all replays the log" qemu-img check -q -r all "q-$1"
    ok "$1: vmkit img check -r all replays it" vmkit img check -r all "v-$1"
    ok "$1: qemu-img check of vmkit's replay is clean" qemu-img check -q "v-$1"
    ok "$1: qemu-img reads qemu's replay" qemu-img convert -O raw "q-$1" "q-$1.raw"
    ok "$1: qemu-img reads vmkit's replay" qemu-img convert -O raw "v-$1" "v-$1.raw"
    ok "$1: vmkit's replay reads as qemu's" cmp "q-$1.raw" "v-$1.raw"
    eq "$1: file size as after qemu's replay" "$(stat -c %s "v-$1")" "$(stat -c %s "q-$1")"
}
# byte_at FILE OFFSET: the byte there, in hex
byte_at() { od -An -tx1 -j "$2" -N1 "$1" | tr -d ' '; }
P=$(( e0 & ~0xfffff ))           # the file offset of guest block 0
# one entry: a sector of 0xc3 at guest 8 KiB, zeroes over guest 16-24 KiB
vhdxlog log1.vhdx '{"entries": [{"at": 0, "seq": 1, "tail": 0,
    "ops": [["desc", '$((P + 8192))', 195], ["zero", '$((P + 16384))', 8192]]}]}'
cp log1.vhdx log1.orig
bad "pending log, opened read-only" log1.vhdx "log1.vhdx: the VHDX log holds changes not yet in the image"
has "... naming the command that replays it" "$(vmkit img info log1.vhdx 2>&1)" "vmkit img check -r all"
ok "... the file untouched by the refusals" cmp log1.vhdx log1.orig
replayed log1.vhdx
eq "log1: the logged sector is in the image" "$(byte_at v-log1.vhdx.raw 8192)$(byte_at v-log1.vhdx.raw 12287)" c3c3
eq "log1: the logged zeroes too" "$(byte_at v-log1.vhdx.raw 16384)$(byte_at v-log1.vhdx.raw 24575)" 0000
eq "log1: the rest as it was" "$(byte_at v-log1.vhdx.raw 4096)$(byte_at v-log1.vhdx.raw 30000)" 5a5a
ok "log1: a copy" cp log1.vhdx w-log1.vhdx
ok "log1: any writer replays the log (part init)" vmkit part init w-log1.vhdx gpt
ok "log1: ... leaves an image qemu-img checks clean" qemu-img check -q w-log1.vhdx
# an active sequence of two entries (from the newest's tail, in order:
# the second overwrites the first), and an older entry that is not part
# of it (sequence 3) and must not be replayed
vhdxlog log2.vhdx '{"entries": [
    {"at": 0, "seq": 7, "tail": 0, "ops": [["desc", '$((P + 8192))', 17]]},
    {"at": 2, "seq": 8, "tail": 0, "ops": [["desc", '$((P + 8192))', 34], ["desc", '$((P + 40960))', 51]]},
    {"at": 10, "seq": 3, "tail": 40960, "ops": [["desc", '$((P + 65536))', 153]]}]}'
replayed log2.vhdx
eq "log2: entries replayed in order" "$(byte_at v-log2.vhdx.raw 8192)$(byte_at v-log2.vhdx.raw 40960)" 2233
eq "log2: the stale entry is not" "$(byte_at v-log2.vhdx.raw 65536)" 5a
# an entry naming a larger file: the file grows to it (MiB-rounded)
sz=$(stat -c %s q-d1.vhdx)
vhdxlog log3.vhdx '{"entries": [{"at": 0, "seq": 1, "tail": 0, "last": '$((sz + 5000))',
    "ops": [["desc", '$sz', 68]]}]}'
replayed log3.vhdx
eq "log3: the file grew by a MiB" "$(stat -c %s v-log3.vhdx)" $((sz + (1 << 20)))
eq "log3: the logged sector past the old end" "$(byte_at v-log3.vhdx "$sz")" 44
# an entry wrapping around the end of the circular log
vhdxlog log4.vhdx '{"entries": [{"at": 255, "seq": 5, "tail": '$((255 * 4096))',
    "ops": [["desc", '$((P + 8192))', 238]]}]}'
replayed log4.vhdx
eq "log4: the wrapped entry is replayed" "$(byte_at v-log4.vhdx.raw 8192)" ee
# damaged logs: refused, the file untouched
vhdxlog bad1.vhdx '{"entries": [{"at": 0, "seq": 9, "tail": 20480, "ops": [["desc", '$((P + 8192))', 1]]}]}'
vhdxlog bad2.vhdx '{"entries": [{"at": 0, "seq": 1, "tail": 0, "flushed": '$((sz + (8 << 20)))',
    "ops": [["desc", '$((P + 8192))', 1]]}]}'
vhdxlog bad3.vhdx '{"entries": [{"at": 0, "seq": 1, "tail": 0, "ops": [["zero", '$((sz - 4096))', 1048576]]}]}'
vhdxlog bad4.vhdx '{"entries": [
    {"at": 0, "seq": 7, "tail": 0, "ops": [["desc", '$((P + 8192))', 17]]},
    {"at": 2, "seq": 9, "tail": 0, "ops": [["desc", '$((P + 8192))', 34]]}]}'
for v in "bad1:the VHDX log is damaged: its newest entry (sequence 9 at log offset 0) has no unbroken run of entries from its tail at offset 20480" \
         "bad2:a VHDX log entry says the file had $((sz + (8 << 20))) bytes" \
         "bad3:a VHDX log entry writes 1048576 bytes at offset $((sz - 4096)), past the file's last offset $sz" \
         "bad4:the VHDX log is damaged: the entry after sequence 7 (log offset 0) is missing or out of order"; do
    n=${v%%:*}
    cp $n.vhdx $n.orig
    fails_with "$n: damaged log refused" 1 "$n.vhdx: ${v#*:}" vmkit img check -r all $n.vhdx
    ok "$n: the file untouched" cmp $n.vhdx $n.orig
done
# an entry with a bad CRC is no entry: nothing pending, the image as it was
vhdxlog crc.vhdx '{"entries": [{"at": 0, "seq": 1, "tail": 0, "badcrc": true, "ops": [["desc", '$((P + 8192))', 1]]}]}'
ok "an entry with a bad CRC is no entry: the image reads" vmkit img convert -O raw crc.vhdx crc.raw
ok "... as it was" cmp crc.raw q-d1.raw
cp q-d1.vhdx trunc.vhdx && truncate -s $((9 << 20)) trunc.vhdx
bad "truncated" trunc.vhdx "trunc.vhdx: BAT entry"
head -c 300 q-d1.vhdx >short.vhdx
fails_with "300-byte file" 1 "short.vhdx: truncated VHDX image (300 bytes)" vmkit img info -f vhdx short.vhdx
fails_with "block_size=3M refused" 2 "block_size=3M: must be 0 (automatic) or a power of two" \
    vmkit img create -f vhdx -o block_size=3M x.vhdx 10M
fails_with "subformat=foo refused" 1 "VHDX subformat 'foo'" vmkit img create -f vhdx -o subformat=foo x.vhdx 1M
fails_with "over 64 TiB refused" 1 "too large for VHDX" vmkit img create -f vhdx x.vhdx 65T
ok "nothing created" test ! -e x.vhdx
finish
