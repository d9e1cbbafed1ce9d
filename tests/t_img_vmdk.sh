#!/bin/bash
# VMDK, with qemu-img as the oracle both ways, for every subformat:
#  - images qemu-img makes (each subformat, -o variants, zeroed grains
#    written by qemu-io, a VMware-style stream with its directory at the
#    end) read by vmkit: convert to raw, qemu-img compare equal;
#  - images vmkit writes (convert, create) pass qemu-img check, compare
#    equal to their source, and carry the descriptor qemu-img writes;
#  - info --json has qemu-img's keys and values; map agrees;
#  - resize grows every writable subformat: qemu-img sees the data kept,
#    the new space zeroed, and writes there; the descriptor says so;
#  - part and fs inside a VMDK, checked with sgdisk and e2fsck;
#  - bad input (truncated, grain tables past the end or overlapping, grain
#    size out of range, extents outside the directory) fails with exit 1
#    and a message naming the file, and changes nothing;
#  - a VM is given format=vmdk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
need qemu-img qemu-io python3 sgdisk e2fsck
cd "$T" || exit 1
CRAFT="python3 $TOP/tests/vmdk_craft.py"
SUBS="monolithicSparse streamOptimized monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat"

# The source disk: mixed data, holes, an unaligned tail.
ok "source disk" truncate -s 12M src.raw
fill src.raw
dd if=/dev/urandom of=src.raw bs=1000 count=3 seek=11000 conv=notrunc status=none
ok "source disk: unaligned size" truncate -s $((12 * 1024 * 1024 - 1536)) src.raw

# qjson FILE: qemu-img info --output=json with the CID and sizes the two
# tools may legitimately differ in left out, keys sorted.
keys() {
    python3 -c '
import json, sys
def walk(v, p=""):
    if isinstance(v, dict):
        for k in sorted(v): walk(v[k], p + "/" + k)
    elif isinstance(v, list):
        for i, x in enumerate(v): walk(x, p + "/" + str(i))
    else:
        if p.split("/")[-1] not in ("actual-size",): print(p, json.dumps(v))
walk(json.load(sys.stdin))'
}

# qpath TOOL FILE A/B/0/C: a nested key of qemu-img's (q) or vmkit's (v)
# info --json; "(none)" when absent, "(failed: ...)" when info fails.
qpath() {
    if [ "$1" = q ]; then _j=$(qemu-img info --output=json "$2" 2>&1) || { echo "(failed: $_j)"; return; }
    else _j=$(vmkit img info --json "$2" 2>&1) || { echo "(failed: $_j)"; return; }; fi
    python3 -c '
import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("/"):
    v = v[int(k)] if isinstance(v, list) else v.get(k) if isinstance(v, dict) else None
    if v is None: break
print("(none)" if v is None else json.dumps(v).strip("\""))' "$_j" "$3" 2>&1
}

# --- qemu-img writes, vmkit reads ---
for o in subformat=monolithicSparse subformat=streamOptimized subformat=monolithicFlat \
         subformat=twoGbMaxExtentSparse subformat=twoGbMaxExtentFlat zeroed_grain=on \
         $(pick "compat6=on" "" "adapter_type=lsilogic,hwversion=7 adapter_type=buslogic compat6=on"); do
    n=q-$(echo "$o" | tr ',=' '__')
    ok "qemu-img convert -o $o" qemu-img convert -O vmdk -o "$o" src.raw "$n.vmdk"
    ok "$n: vmkit converts it to raw" vmkit img convert "$n.vmdk" "$n.raw"
    ok "$n: qemu-img compare: vmkit read what qemu-img wrote" qemu-img compare -q src.raw "$n.raw"
    ok "$n: vmkit img compare equal" vmkit img compare src.raw "$n.vmdk"
    ok "$n: vmkit img check" vmkit img check "$n.vmdk"
    run_ok qj qemu-img info --output=json "$n.vmdk"
    run_ok vj vmkit img info --json "$n.vmdk"
    eq "$n: info --json as qemu-img's" "$(keys <<<"$vj")" "$(keys <<<"$qj")"
    run_ok qm qemu-img map --output=json "$n.vmdk"
    run_ok vm vmkit img map --json "$n.vmdk"
    eq "$n: map data/zero runs as qemu-img's" \
       "$(python3 -c '
import json, sys
def runs(t):
    out = []
    for r in json.loads(t):
        k = (r["data"], r["zero"])
        if out and out[-1][0] == k and out[-1][2] == r["start"]:
            out[-1][2] += r["length"]
        else:
            out.append([k, r["start"], r["start"] + r["length"]])
    return out
print(runs(sys.argv[1]) == runs(sys.argv[2]) or (runs(sys.argv[1]), runs(sys.argv[2])))' "$vm" "$qm")" True
done

# Zeroed grains (GTE 1) written by qemu-io read as zeroes.
ok "qemu-img create zeroed_grain" qemu-img create -q -f vmdk -o zeroed_grain=on zg.vmdk 4M
ok "qemu-io writes data and zeroed grains" qemu-io -c "write -P 0x5a 0 2M" -c "write -z 64k 128k" zg.vmdk
eq "zeroed grain: qemu-io left entry 1" "$($CRAFT 'gte?' zg.vmdk 1)" 1
ok "zeroed grain: vmkit converts" vmkit img convert zg.vmdk zg.raw
ok "zeroed grain: qemu-img compare" qemu-img compare -q zg.vmdk zg.raw

# A VMware-style stream (directory and footer at the end, markers).
ok "VMware-style stream crafted" $CRAFT stream src.raw vw.vmdk
ok "VMware-style stream: qemu-img reads it equal" qemu-img compare -q src.raw vw.vmdk
ok "VMware-style stream: vmkit reads it equal" vmkit img compare src.raw vw.vmdk
eq "VMware-style stream: create type" "$(qpath v vw.vmdk format-specific/data/create-type)" streamOptimized
ok "VMware-style stream: vmkit converts" vmkit img convert vw.vmdk vw.raw
ok "VMware-style stream: qemu-img compare" qemu-img compare -q src.raw vw.raw

# --- vmkit writes, qemu-img reads ---
for s in $SUBS; do
    ok "vmkit convert -o subformat=$s" vmkit img convert -O vmdk -o subformat=$s src.raw v-$s.vmdk
    ok "v-$s: qemu-img check" qemu-img check -q v-$s.vmdk
    ok "v-$s: qemu-img compare with the source" qemu-img compare -q src.raw v-$s.vmdk
    eq "v-$s: qemu-img sees subformat $s" "$(qpath q v-$s.vmdk format-specific/data/create-type)" $s
    ok "v-$s: vmkit converts it back" vmkit img convert v-$s.vmdk v-$s.raw
    ok "v-$s: back to raw equal" qemu-img compare -q -f raw -F raw src.raw v-$s.raw
done
eq "streamOptimized: qemu-img sees compressed grains" \
   "$(qpath q v-streamOptimized.vmdk format-specific/data/extents/0/compressed)" true
# Sizes no larger than qemu-img's for the same source.
ok "qemu-img convert streamOptimized" qemu-img convert -O vmdk -o subformat=streamOptimized src.raw qs.vmdk
le() { [ "$1" -le "$2" ]; }
ok "streamOptimized no larger than qemu-img's (+1%)" \
   le "$(stat -c %s v-streamOptimized.vmdk)" "$(( $(stat -c %s qs.vmdk) * 101 / 100 ))"
ok "monolithicSparse no larger than qemu-img's" \
   le "$(stat -c %s v-monolithicSparse.vmdk)" "$(stat -c %s q-subformat_monolithicSparse.vmdk)"

# create: the descriptor is qemu-img's, but for the CID.
# The text ends at the first NUL, as for every parser: qemu's CID update
# rewrites the file in place, and a shorter CID leaves a NUL and the old
# tail behind the text (grep would call that a binary file).
desc() {  # the descriptor text of FILE, CID line removed
    python3 - "$1" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
if b[:4] == b'KDMV':
    b = b[512:512 * 21]
print('\n'.join(l for l in b.split(b'\0')[0].decode().splitlines() if not l.startswith('CID=')))
PY
}
for s in $SUBS; do
    for o in ,adapter_type=lsilogic,hwversion=7 $(pick "" "" ",adapter_type=legacyESX ,hwversion=undefined"); do
        d=c-$s$(echo "$o" | tr ',=' '__')
        mkdir -p "$d/v" "$d/q"
        ok "vmkit create -o subformat=$s$o" vmkit img create -f vmdk -o subformat=$s$o "$d/v/x.vmdk" 5G
        ok "qemu-img create -o subformat=$s$o" qemu-img create -q -f vmdk -o subformat=$s$o "$d/q/x.vmdk" 5G
        eq "$d: descriptor as qemu-img's" "$(desc "$d/v/x.vmdk")" "$(desc "$d/q/x.vmdk")"
        eq "$d: the same extent files" "$(cd "$d/v" && ls)" "$(cd "$d/q" && ls)"
        ok "$d: qemu-img check" qemu-img check -q "$d/v/x.vmdk"
        rm -rf "$d"
    done
done
fails_with "create: unknown subformat" 1 "subformat 'bogus' is not one of" \
    vmkit img create -f vmdk -o subformat=bogus bad.vmdk 1M
fails_with "create: unknown adapter" 1 "adapter_type 'scsi' is not one of" \
    vmkit img create -f vmdk -o adapter_type=scsi bad.vmdk 1M
ok "create: nothing left by a refused create" test ! -e bad.vmdk

# Across the 2 GiB extents of twoGbMaxExtent*: data on both sides.
ok "sparse 5G source" truncate -s 5G big.raw
for at in 0 $((2048 * 1024 - 4)) $((4096 * 1024 - 1)) $((5 * 1024 * 1024 - 8)); do
    dd if=/dev/urandom of=big.raw bs=1k count=8 seek=$at conv=notrunc status=none
done
for s in twoGbMaxExtentSparse twoGbMaxExtentFlat; do
    ok "5G to $s" vmkit img convert -O vmdk -o subformat=$s big.raw big-$s.vmdk
    ok "5G $s: qemu-img compare" qemu-img compare -q big.raw big-$s.vmdk
done
ok "qemu-img writes across the extent boundary" \
    qemu-io -c "write -P 0x33 $((2048 * 1024 * 1024 - 4096)) 8192" big-twoGbMaxExtentSparse.vmdk
ok "5G $s: vmkit reads qemu-io's write" vmkit img convert big-twoGbMaxExtentSparse.vmdk big2.raw
ok "5G $s: equal" qemu-img compare -q big2.raw big-twoGbMaxExtentSparse.vmdk
rm -f big*.raw big*.vmdk

# --- resize: grows, as vmware-vdiskmanager -x (qemu-img has no resize
# for VMDK).  100M -> 5G moves a sparse directory (its sector holds 128
# tables), 100M -> 3G grows it in place; split images get new extents.
VKIO=$(dirname "$VMKIT")/tools/vkio
for s in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat; do
    for to in 3 5; do
        f=rs-$s-$to.vmdk
        qemu-img create -q -f vmdk -o subformat=$s "$f" 100M
        qemu-io -f vmdk -c 'write -P 0x41 1M 2M' -c 'write -P 0x42 90M 1M' -c 'write -P 0x45 99M 1M' "$f" >/dev/null
        qemu-img convert -f vmdk -O raw "$f" rs.raw
        ok "resize $s 100M -> ${to}G" vmkit img resize "$f" ${to}G
        eq "$s ${to}G: qemu-img sees it" "$(qinfo "$f" virtual-size)" $((to << 30))
        eq "$s ${to}G: vmkit too" "$(vmkit img info --json "$f" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" $((to << 30))
        truncate -s ${to}G rs.raw
        ok "$s ${to}G: qemu-img compare: the data kept, the new space zeroes" qemu-img compare -q -f raw -F vmdk rs.raw "$f"
        ok "$s ${to}G: qemu-img check" qemu-img check -q "$f"
        has "$s ${to}G: the descriptor's geometry" "$(desc "$f")" "ddb.geometry.cylinders = \"$((to * 1024 * 1024 * 2 / 1008))\""
        ok "$s ${to}G: qemu-io writes past the old end and reads the old data" \
            qemu-io -f vmdk -c 'write -P 0x43 2900M 3M' -c 'read -P 0x42 90M 1M' -c 'read -P 0x43 2900M 3M' "$f"
    done
done
has "monolithicSparse: the embedded extent line" "$(desc rs-monolithicSparse-5.vmdk)" 'RW 10485760 SPARSE "rs-monolithicSparse-5.vmdk"'
has "monolithicFlat: the extent line" "$(cat rs-monolithicFlat-5.vmdk)" 'RW 10485760 FLAT "rs-monolithicFlat-5-flat.vmdk" 0'
eq "monolithicFlat: the flat file grew (sparse)" "$(stat -c %s rs-monolithicFlat-5-flat.vmdk)" $((5 << 30))
for k in s f; do
    t=twoGbMaxExtent$([ $k = s ] && echo Sparse || echo Flat)
    eq "$t: the extents VMware's split gives" "$(desc rs-$t-5.vmdk | grep -E '^RW')" \
        "$(printf 'RW 4194304 %s "rs-%s-5-%s001.vmdk"%s\nRW 4194304 %s "rs-%s-5-%s002.vmdk"%s\nRW 2097152 %s "rs-%s-5-%s003.vmdk"%s' \
           $([ $k = s ] && echo SPARSE || echo FLAT) $t $k "$([ $k = f ] && echo ' 0')" \
           $([ $k = s ] && echo SPARSE || echo FLAT) $t $k "$([ $k = f ] && echo ' 0')" \
           $([ $k = s ] && echo SPARSE || echo FLAT) $t $k "$([ $k = f ] && echo ' 0')")"
done
# vmkit's own writes into the grown images: random writes (vkio) through
# vmkit and into a raw copy, over the whole grown disk
for s in monolithicSparse twoGbMaxExtentSparse; do
    f=rs-$s-3.vmdk
    qemu-img convert -f vmdk -O raw "$f" rs.raw
    torture_script 5 "$(pick 60 30 200)" $((3 << 30)) >sc
    ok "$s: vkio through vmkit into the grown image" "$VKIO" "$f" vmdk <sc
    ok "$s: vkio plain into the raw copy" "$VKIO" rs.raw plain <sc
    ok "$s: qemu-img compare: vmkit's writes after the resize" qemu-img compare -q -f raw -F vmdk rs.raw "$f"
    ok "$s: qemu-img check after them" qemu-img check -q "$f"
done
rm -f rs.raw rs-*.vmdk
# refused: shrinking, a stream, a split extent name that is taken
qemu-img create -q -f vmdk rsx.vmdk 100M
sum=$(md5sum <rsx.vmdk)
fails_with "resize: shrinking a VMDK is refused" 1 "rsx.vmdk: VMDK images are not shrunk" vmkit img resize --shrink rsx.vmdk 50M
unchanged "resize: a refused shrink changes nothing" rsx.vmdk "$sum"
qemu-img create -q -f vmdk -o subformat=streamOptimized rss.vmdk 100M
sum=$(md5sum <rss.vmdk)
fails_with "resize: a stream-optimized VMDK is refused" 1 "rss.vmdk: a streamOptimized VMDK cannot be resized" vmkit img resize rss.vmdk 1G
unchanged "resize: the stream is unchanged" rss.vmdk "$sum"
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse rst.vmdk 100M
echo keep >rst-s003.vmdk
sum=$(cat rst.vmdk rst-s001.vmdk | md5sum)
fails_with "resize: a split extent's new name is taken" 1 "rst-s003.vmdk: file exists" vmkit img resize rst.vmdk 5G
eq "resize: the descriptor and extent are unchanged" "$(cat rst.vmdk rst-s001.vmdk | md5sum)" "$sum"
eq "resize: the other file kept its content" "$(cat rst-s003.vmdk)" keep
ok "resize: the extent it made before is removed" test ! -e rst-s002.vmdk
# a blank extent file an interrupted resize left (the same size, nothing
# in it, named by nothing) is taken over: flat all hole, sparse no grain
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentFlat rsb.vmdk 100M
truncate -s 2G rsb-f002.vmdk
ok "resize: a blank leftover flat extent is taken over" vmkit img resize rsb.vmdk 5G
ok "... qemu-img check" qemu-img check -q rsb.vmdk
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse rsc.vmdk 100M
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse blank.vmdk 1G
mv blank-s001.vmdk rsc-s003.vmdk
ok "resize: a blank leftover sparse extent is taken over" vmkit img resize rsc.vmdk 5G
ok "... qemu-img check" qemu-img check -q rsc.vmdk
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse rsd.vmdk 100M
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse used.vmdk 1G
qemu-io -f vmdk -c 'write -P 7 0 64k' used.vmdk >/dev/null
mv used-s001.vmdk rsd-s003.vmdk
sum=$(md5sum <rsd-s003.vmdk)
fails_with "resize: a leftover with data in it is not" 1 "rsd-s003.vmdk: file exists" vmkit img resize rsd.vmdk 5G
unchanged "... and keeps its data" rsd-s003.vmdk "$sum"
# a descriptor file with a NUL and an old tail behind its text (qemu's
# CID update leaves one when the new CID is shorter): read up to the NUL,
# rewritten without the tail
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse rsn.vmdk 100M
printf '\0RW 4194304 SPARSE "rsn-s009.vmdk"\n' >>rsn.vmdk
ok "resize: a descriptor with a NUL and a tail behind its text" vmkit img resize rsn.vmdk 5G
ok "... qemu-img check" qemu-img check -q rsn.vmdk
eq "... the tail is gone" "$(grep -ac s009 rsn.vmdk)" 0
eq "... three extents" "$(grep -c '^RW' rsn.vmdk)" 3
rm -f rst* rss.vmdk rsx.vmdk rsb* rsc* rsd* rsn* blank.vmdk used.vmdk

# --- part and fs inside a VMDK (monolithicSparse and twoGbMaxExtentFlat) ---
for s in monolithicSparse twoGbMaxExtentFlat; do
    ok "$s: qemu-img create" qemu-img create -q -f vmdk -o subformat=$s pf-$s.vmdk 64M
    ok "$s: part init gpt" vmkit part init pf-$s.vmdk gpt
    ok "$s: part add" vmkit part add pf-$s.vmdk
    ok "$s: mkfs ext4" vmkit fs mkfs -t ext4 pf-$s.vmdk:1
    ok "$s: fs write" sh -c "echo hello vmdk | $VMKIT fs write pf-$s.vmdk:1:/hello.txt"
    eq "$s: fs cat" "$(vmkit fs cat pf-$s.vmdk:1:/hello.txt)" "hello vmdk"
    ok "$s: qemu-img check after writes" qemu-img check -q pf-$s.vmdk
    ok "$s: qemu-img convert to raw" qemu-img convert -O raw pf-$s.vmdk pf-$s.raw
    ok "$s: sgdisk -v" sgdisk -v pf-$s.raw
    ok "$s: partition out" vmkit img convert pf-$s.raw:1 pf-$s.p1
    ok "$s: e2fsck -fn" e2fsck -fn pf-$s.p1
    ok "$s: debugfs reads the file" sh -c "debugfs -R 'cat /hello.txt' pf-$s.p1 2>/dev/null | grep -qx 'hello vmdk'"
done
# A stream-optimized image is written once, by convert.
ok "stream: qemu-img create" qemu-img create -q -f vmdk -o subformat=streamOptimized st.vmdk 8M
sum=$(md5sum <st.vmdk)
fails_with "stream: part init refused" 1 "st.vmdk: a stream-optimized image takes each grain once and whole" \
    vmkit part init st.vmdk gpt
eq "stream: unchanged" "$(md5sum <st.vmdk)" "$sum"

# --- bad input: exit 1, a message naming the file, nothing changed ---
# bad NAME MSG: every reading command fails on NAME.vmdk with MSG.
bad() {
    f=$1.vmdk; m=$2
    s=$(cat "$1"* | md5sum)
    fails_with "$1: img info" 1 "$m" vmkit img info "$f"
    fails_with "$1: img convert" 1 "$m" vmkit img convert "$f" "$1.out"
    ok "$1: convert left nothing" test ! -e "$1.out"
    fails_with "$1: part list" 1 "$m" vmkit part list "$f"
    eq "$1: files unchanged" "$(cat "$1"* | md5sum)" "$s"
}
ok "bad: base image" qemu-img convert -O vmdk src.raw base.vmdk
cp base.vmdk trunc.vmdk; ok "bad: truncate in the grain tables" truncate -s 30000 trunc.vmdk
bad trunc "trunc.vmdk: truncated"
cp base.vmdk short.vmdk; ok "bad: truncate in the grains" truncate -s $(( $(stat -c %s base.vmdk) - 70000 )) short.vmdk
bad short "short.vmdk: grain"
ok "bad: qemu-img agrees the short file is damaged" sh -c "! qemu-img compare -q src.raw short.vmdk 2>/dev/null"
cp base.vmdk gteof.vmdk; ok "bad: GT entry past EOF" $CRAFT gte gteof.vmdk 3 0x100000
bad gteof "gteof.vmdk: grain 3 (disk offset 196608) points at file offset 536870912, past the end of the file"
fails_with "bad: qemu-img check finds the GT entry past EOF too" 1 "points after EOF" qemu-img check -q gteof.vmdk
fails_with "bad: vmkit img check counts it (exit 2)" 2 "1 errors were found" vmkit img check gteof.vmdk
cp base.vmdk overlap.vmdk; ok "bad: two grains at one place" \
    $CRAFT gte overlap.vmdk 20 "$($CRAFT 'gte?' base.vmdk 16)"
bad overlap "overlap.vmdk: grain at file offset"
cp base.vmdk gran.vmdk; ok "bad: grain size 2^22 sectors" $CRAFT hdr gran.vmdk granularity 0x400000
bad gran "gran.vmdk: grain size 4194304 sectors out of range"
cp base.vmdk gtes.vmdk; ok "bad: 4096 entries per table" $CRAFT hdr gtes.vmdk num_gtes 4096
bad gtes "gtes.vmdk: 4096 entries per grain table out of range"
cp base.vmdk gd.vmdk; ok "bad: directory past EOF" $CRAFT hdr gd.vmdk gd_offset 0x7fffffff
bad gd "gd.vmdk: grain directory at sector 2147483647 is outside the file"
# Descriptors naming files outside their directory.
mkdir -p sub
ok "bad: a flat disk" qemu-img create -q -f vmdk -o subformat=monolithicFlat flat.vmdk 1M
for x in ../flat-flat.vmdk /etc/passwd sub/../flat-flat.vmdk; do
    sed "s|\"flat-flat.vmdk\"|\"$x\"|" flat.vmdk >sub/esc.vmdk
    bad sub/esc "extent file '$x' is outside the descriptor's directory (refused)"
done
sed 's|RW 2048 FLAT "flat-flat.vmdk" 0|RW 4096 FLAT "flat-flat.vmdk" 0|' flat.vmdk >long.vmdk
bad long "long.vmdk: extent flat-flat.vmdk is truncated"
sed 's|RW 2048 FLAT "flat-flat.vmdk" 0|RW 2048 FLAT "flat-flat.vmdk"|' flat.vmdk >nooff.vmdk
bad nooff "FLAT extent without an offset"
cp "$TOP/fuzz/corpus/fuzz_probe/vmdk_cowd" cowd.vmdk
bad cowd "cowd.vmdk: VMware 3 (COWD) sparse VMDK images are not supported"
printf 'version=1\nCID=1\nparentCID=ffffffff\nparentFileNameHint="base.vmdk"\ncreateType="monolithicFlat"\nRW 2048 FLAT "flat-flat.vmdk" 0\n' >child.vmdk
bad child "child.vmdk: VMDK images with a parent (parentFileNameHint) are not supported"

# A failed convert to a split VMDK leaves none of its files; a refused
# extent name never overwrites the file there.
ok "existing extent file" sh -c 'echo keep >taken-flat.vmdk'
fails_with "convert refuses to overwrite an extent file" 1 "taken-flat.vmdk: file exists" \
    vmkit img convert -O vmdk -o subformat=monolithicFlat src.raw taken.vmdk
eq "the extent file kept its content" "$(cat taken-flat.vmdk)" keep
ok "no descriptor left" test ! -e taken.vmdk
ok "no temporary files left" sh -c '! ls -a | grep -q vmkit-'
# A source that fails in the middle (a grain that does not inflate): the
# split target's descriptor and extents are all removed.
cp v-streamOptimized.vmdk zbad.vmdk
ok "corrupt the deflate data of grain 0" python3 -c "
import sys
f = open('zbad.vmdk', 'r+b'); f.seek($($CRAFT 'gte?' zbad.vmdk 0) * 512 + 12); f.write(b'garbage!' * 4)"
fails_with "convert of a damaged stream fails" 1 "zbad.vmdk: compressed grain at offset" \
    vmkit img convert -O vmdk -o subformat=twoGbMaxExtentSparse zbad.vmdk zout.vmdk
ok "nothing of the split target left" sh -c '! ls -a | grep -q zout'

# --- VMs get format=vmdk ---
cat >vm.cfg <<EOF
name = "vmdkvm"
memory = 128
disk = [ 'format=vmdk, vdev=xvda, access=rw, target=$T/v-monolithicSparse.vmdk' ]
EOF
run_ok out vmkit create -n vm.cfg
has "QEMU reads the disk as vmdk" "$out" "file=$T/v-monolithicSparse.vmdk,if=none,id=disk0,format=vmdk"
finish
