# Shared by the benchmarks (source it): best, ratio and likewise for bench/convert.sh
# and bench/vmdk.sh, vm_scratch and start_paused for bench/top.sh and
# bench/vm.sh.
# best OUT CMD...: the faster of two runs of CMD, in seconds; OUT is
# removed before each run (so both tools write a fresh file).
best() {
    out=$1; shift
    b=
    for _ in 1 2; do
        rm -f "$out"
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; echo 999; return; }
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}
# ratio A B: A / B to two decimals (vmkit's time over the reference's).
ratio() { echo "scale=2; $1 / $2" | bc; }

# likewise TQ TV QOUT VOUT ARGS...: the same conversion compared like with
# like.  qemu-img convert's default cache=unsafe returns with its output
# in the page cache (TQ: its time); vmkit's default syncs its output
# before naming it (TV).  So time vmkit with -t unsafe (no sync, as
# qemu-img) and qemu-img followed by sync --data OUT (synced, as vmkit),
# and print both ratios.  ARGS: the convert arguments without the output.
likewise() {
    _tq=$1 _tv=$2 _qo=$3 _vo=$4; shift 4
    _tvu=$(best "$_vo" "$VMKIT" img convert -t unsafe "$@" "$_vo")
    _tqs=$(best "$_qo" sh -c 'qemu-img convert "$@" && sync --data "$0"' "$_qo" "$@" "$_qo")
    printf '    unsafe:  qemu-img          %6.2fs   vmkit -t unsafe %6.2fs   ratio %s\n' "$_tq" "$_tvu" "$(ratio "$_tvu" "$_tq")"
    printf '    synced:  qemu-img + sync   %6.2fs   vmkit           %6.2fs   ratio %s\n' "$_tqs" "$_tv" "$(ratio "$_tv" "$_tqs")"
}

# vm_scratch: a scratch dir $D holding vmkit's runtime and config dirs
# (VMKIT_RUNTIME_DIR, VMKIT_CONFIG_DIR exported), so the benchmark's VMs
# are its own; at exit every VM still running there is destroyed and $D
# removed.  Needs $VMKIT.
vm_scratch() {
    D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
    export VMKIT_RUNTIME_DIR=$D/run VMKIT_CONFIG_DIR=$D/etc
    mkdir -p -m 700 "$D/run" "$D/etc"
    trap vm_scratch_cleanup EXIT
}
vm_scratch_cleanup() {
    for d in "$D"/run/*/; do
        [ -d "$d" ] && "$VMKIT" destroy "$(basename "$d")" >/dev/null 2>&1
    done
    rm -rf "$D"
}

# start_paused N TAG: VMs paused1..pausedN in $D (memory 32 MiB, each a
# 1 MiB disk with a BIOS boot sector that prints TAG), started paused (-p)
# so they cost no CPU under TCG.  Returns 1 after saying which failed.
start_paused() {
    local i
    for i in $(seq "$1"); do
        python3 "$TOP/tests/fixtures/bootsector.py" "$2" "$D/bs$i.img" 1048576
        cat >"$D/p$i.cfg" <<CFG
name = "paused$i"
memory = 32
boot = "c"
vif = []
vnc = 0
disk = [ 'format=raw, vdev=hda, access=rw, target=$D/bs$i.img' ]
CFG
        "$VMKIT" create "$D/p$i.cfg" -p || { echo "FAILED: vmkit create -p ($i)"; return 1; }
    done
}
