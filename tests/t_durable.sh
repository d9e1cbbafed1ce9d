#!/bin/bash
# Power-cut ordering of everything that publishes a new image: each run
# is traced by strace and tests/tools/syncorder.awk checks that when the
# new file gets its name, every file written in its directory (a VMDK's
# extent files too) was synced after its last write, and that the
# directory was synced after the rename.  A process kill cannot show
# this (the page cache survives it: t_img_crash); a power cut can.
# Covered: img create and img convert to every format and VMDK
# subformat, convert -c, clone (full, of a split VMDK), export-ova,
# import-ova, backup init/save/prune/gc (a repository of nested
# directories) and restore, define (a new config store), guest build.  convert -t unsafe (qemu-img's
# default) must be caught by the checker, and still give an equal copy.
. "$(dirname "$0")/lib.sh"
need strace qemu-img awk || { finish; exit; }
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -p out
OUT=$(cd out && pwd -P)

# durable DESC CMD...: CMD (run in out/) exits 0 and its trace passes
# syncorder ($COMMIT: its commit=REGEX, the renames that publish).
durable() {
    _d=$1; shift
    # (LeakSanitizer cannot run under ptrace: the other tests check leaks)
    (cd "$OUT" && ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -y -qq -o "$T/trace" -e trace=%file,%desc,sync_file_range "$@") >"$T/cmd.out" 2>&1
    _rc=$?
    if [ $_rc -ne 0 ]; then
        eq "$_d: exit status (output: $(head -c 300 "$T/cmd.out"))" "$_rc" 0
        return 1
    fi
    ok "$_d: synced before named" awk -v dir="$OUT" -v commit="${COMMIT:-}" -f "$TOP/tests/tools/syncorder.awk" "$T/trace"
}

# Source: 3 GiB raw with data at both ends and past the 2 GiB extent
# boundary of the split VMDK subformats.
ok "source image" qemu-img create -q -f raw src.raw 3G
head -c 4M /dev/urandom | dd of=src.raw conv=notrunc status=none
printf 'middle of the disk' | dd of=src.raw bs=1M seek=2100 conv=notrunc status=none
printf 'the end' | dd of=src.raw bs=1M seek=3071 conv=notrunc status=none

for f in raw qcow2 vdi vpc vhdx; do
    durable "img create -f $f" "$VMKIT" img create -f $f c.$f 3G
    durable "img convert -O $f" "$VMKIT" img convert -O $f "$T/src.raw" v.$f &&
        ok "convert -O $f: equal to the source" qemu-img compare -q "$T/src.raw" "$OUT/v.$f"
done
durable "img convert -c -O qcow2" "$VMKIT" img convert -c -O qcow2 "$T/src.raw" z.qcow2
for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized; do
    durable "img create vmdk $sub" "$VMKIT" img create -f vmdk -o subformat=$sub c-$sub.vmdk 3G
    durable "img convert vmdk $sub" "$VMKIT" img convert -O vmdk -o subformat=$sub "$T/src.raw" v-$sub.vmdk &&
        ok "convert vmdk $sub: equal to the source" qemu-img compare -q "$T/src.raw" "$OUT/v-$sub.vmdk"
done

# The checker must be able to fail: -t unsafe syncs nothing, by request.
(cd "$OUT" && ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -f -y -qq -o "$T/trace" -e trace=%file,%desc "$VMKIT" img convert -t unsafe -O vmdk \
    -o subformat=twoGbMaxExtentSparse "$T/src.raw" u.vmdk) >/dev/null 2>&1
fails "-t unsafe: syncorder sees the unsynced extents" 1 awk -v dir="$OUT" -f "$TOP/tests/tools/syncorder.awk" "$T/trace"
has "-t unsafe: it names the extent files" "$(awk -v dir="$OUT" -f "$TOP/tests/tools/syncorder.awk" "$T/trace")" \
    "u.vmdk gets its name while u-s001.vmdk has unsynced writes"
ok "-t unsafe: equal to the source all the same" qemu-img compare -q "$T/src.raw" "$OUT/u.vmdk"
fails "-t bogus: usage error" 2 vmkit img convert -t bogus "$T/src.raw" "$T/b.raw"
fails "-t unsafe --sync: usage error" 2 vmkit img convert -t unsafe --sync "$T/src.raw" "$T/b.raw"
ok "-t writeback (the default) accepted" vmkit img convert -t writeback "$T/src.raw" "$T/w.raw"
[ -e "$T/b.raw" ] && eq "a refused convert leaves no file" present absent

# The config store in out/ too: define and clone write configs there.
export VMKIT_CONFIG_DIR=$OUT/etc

# clone: a full copy of a split VMDK disk, into out/.
ok "split vmdk disk" vmkit img convert -O vmdk -o subformat=twoGbMaxExtentSparse src.raw "$OUT/disk.vmdk"
cat >vm.cfg <<CFG
name = "vm"
memory = 64
disk = [ 'format=vmdk,vdev=xvda,access=rw,target=$OUT/disk.vmdk' ]
CFG
durable "define vm (a new config store)" "$VMKIT" define "$T/vm.cfg"
durable "clone vm vm2" "$VMKIT" clone vm vm2
run_ok cfg vmkit config vm2
case $cfg in
    *"$OUT/disk-vm2.vmdk"*|*"$OUT/vm2.vmdk"*) ;;
    *) eq "clone names its disk in out/ (config: $cfg)" no yes ;;
esac
clone_disk=$(printf '%s\n' "$cfg" | grep -o "$OUT/[^,']*vm2[^,']*\.vmdk" | head -1)
[ -n "$clone_disk" ] && ok "the clone's disk equals the source" qemu-img compare -q "$T/src.raw" "$clone_disk"

# OVA out and back in.
durable "export-ova" "$VMKIT" export-ova vm vm.ova
durable "import-ova" "$VMKIT" import-ova vm.ova --name vm3 --dir "$OUT"
ok "the imported disk equals the source" sh -c "qemu-img compare -q '$T/src.raw' \"\$(ls '$OUT'/*vm3* | head -1)\""

# backup: a repository in out/ (chunks and snapshots in subdirectories:
# every one synced, with its directory, before a snapshot names it),
# then restores into out/.
durable "backup init" "$VMKIT" backup init --chunk-size 1M repo
COMMIT='\.json$' durable "backup save" "$VMKIT" backup save "$T/src.raw" repo --name s
head -c 1M /dev/urandom | dd of=src.raw bs=1M seek=1000 conv=notrunc status=none
COMMIT='\.json$' durable "backup save (a second snapshot)" "$VMKIT" backup save "$T/src.raw" repo --name s2
durable "backup prune" "$VMKIT" backup prune --keep-last 1 repo
durable "backup gc" "$VMKIT" backup gc repo
ok "backup verify" vmkit backup verify --read-data "$OUT/repo"
mv "$OUT/repo" "$T/repo"
durable "backup restore raw" "$VMKIT" backup restore "$T/repo" s2 r.raw &&
    ok "restored raw equals the source" qemu-img compare -q "$T/src.raw" "$OUT/r.raw"
durable "backup restore qcow2" "$VMKIT" backup restore "$T/repo" s2 r.qcow2 &&
    ok "restored qcow2 equals the source" qemu-img compare -q "$T/src.raw" "$OUT/r.qcow2"
# guest build: the disk and its config synced before their names.
durable "guest build" "$VMKIT" guest build -q g.img &&
    ok "guest build: sfdisk --verify" sfdisk --verify "$OUT/g.img"
finish
