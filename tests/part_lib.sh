# Helpers shared by tests/t_part*.sh (source after lib.sh).
#   same_json DESC DISK     vmkit part list --json equals sfdisk --json
#   same_dump DESC DISK     vmkit part dump equals sfdisk --dump
#   sfdisk_ok DESC DISK     sfdisk --verify finds no error
#   sgdisk_ok DESC DISK     sgdisk -v finds no problem
#   mkimg NAME SIZE         a fresh image of the format under test ($FMT) (a check)
FMT=${FMT:-raw}

mkimg() {  # a check of its own: a test never runs on an image it lacks
    rm -f "$1"
    if [ "$FMT" = qcow2 ]; then ok "qemu-img create $1 $2" qemu-img create -q -f qcow2 "$1" "$2"
    else ok "truncate $1 to $2" truncate -s "$2" "$1"; fi
}

# sfdisk cannot read qcow2: give it a raw copy of the virtual disk (a
# failed conversion names a file that does not exist, so the checks fail).
as_raw() {
    if [ "$FMT" = qcow2 ]; then qemu-img convert -O raw "$1" "$1.raw" && echo "$1.raw" || echo "$1.raw-conversion-failed"
    else echo "$1"; fi
}

_jnorm() {  # file: drop the device name so the two tools compare
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["partitiontable"]
dev = d.pop("device")
d.pop("geometry", None)
for p in d["partitions"]:
    n = p.pop("node")
    p["number"] = n[len(dev):]
print(json.dumps(d, sort_keys=True, indent=1))' "$1"
}

same_json() {
    _r=$(as_raw "$2")
    vmkit part list --json "$2" >"$T/.vj" 2>"$T/.ve"; _a=$?
    sfdisk --json "$_r" >"$T/.sj" 2>/dev/null
    eq "$1" "$(_jnorm "$T/.vj" 2>&1) rc=$_a" "$(_jnorm "$T/.sj" 2>&1) rc=0"
}

same_dump() {
    _r=$(as_raw "$2")
    eq "$1" "$(vmkit part dump "$2" 2>&1 | grep -v '^device:' | sed "s|^$2||")" \
            "$(sfdisk --dump "$_r" 2>&1 | grep -v '^device:' | sed "s|^$_r||")"
}

sfdisk_ok() {
    _r=$(as_raw "$2")
    ok "$1" sfdisk --verify "$_r"
    has "$1 (no errors)" "$(sfdisk --verify "$_r" 2>&1)" "No errors detected"
}

sgdisk_ok() {
    _r=$(as_raw "$2")
    has "$1" "$(sgdisk -v "$_r" 2>&1)" "No problems found"
}
