# Helpers for the t_img*.sh tests.  Source after lib.sh.

# fill FILE: write deterministic mixed content into an existing image file
# (raw bytes): random blocks, text, a run of zero bytes written explicitly
# (allocated but zero), leaving holes between.
fill() {
    python3 - "$1" <<'PY'
import random, sys
r = random.Random(42)
size = __import__('os').path.getsize(sys.argv[1])
with open(sys.argv[1], 'r+b') as f:
    for off, kind, n in [(0, 'rand', 4096), (1 << 20, 'rand', 3 << 20), (5 << 20, 'text', 1 << 20),
                         (7 << 20, 'zero', 2 << 20), (9 << 20 | 12345, 'rand', 70000),
                         (size - 5000, 'text', 5000)]:
        if off + n > size:
            continue
        f.seek(off)
        if kind == 'rand':
            f.write(r.randbytes(n))
        elif kind == 'text':
            f.write((b'vmkit test line %d\n' * (n // 16))[:n])
        else:
            f.write(bytes(n))
PY
}

# qinfo FILE KEY [FMT]: a key of qemu-img info --output=json (python3
# parses); "(none)" when the key is absent, "(qemu-img info failed: ...)"
# when it fails: a failure never reads as an empty value.
qinfo() {
    _j=$(qemu-img info ${3:+-f "$3"} --output=json "$1" 2>&1) || { echo "(qemu-img info failed: $_j)"; return; }
    _jkey "$_j" "$2"
}

# vinfo FILE KEY: the same key from vmkit img info --json.
vinfo() {
    _j=$(vmkit img info --json "$1" 2>&1) || { echo "(vmkit img info failed: $_j)"; return; }
    _jkey "$_j" "$2"
}
_jkey() {  # JSON KEY
    python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("(none)" if v is None else v)' "$1" "$2" 2>&1
}

# qcheck DESC FILE: qemu-img check is clean.
qcheck() { ok "$1" qemu-img check -q "$2"; }

# same_info DESC FILE: vmkit and qemu-img info agree on the essentials.
same_info() {
    for k in format virtual-size cluster-size backing-filename; do
        eq "$1: $k" "$(vinfo "$2" $k)" "$(qinfo "$2" $k)"
    done
}

# both_compare DESC A B: qemu-img compare and vmkit img compare agree
# (exit status and first mismatch offset).
both_compare() {
    q=$(qemu-img compare "$2" "$3" 2>&1); qrc=$?
    v=$(vmkit img compare "$2" "$3" 2>&1); vrc=$?
    eq "$1: exit status agrees with qemu-img" "$vrc" "$qrc"
    eq "$1: message agrees with qemu-img" "$v" "$q"
}

# qcow2_ok: two checks, that vmkit opens and writes a qcow2 image qemu-img
# made.  The driver is vmkit's own: a build where it fails fails here (and
# in every check after), never skips.
qcow2_ok() {
    ok "qemu-img creates a qcow2 probe image" qemu-img create -q -f qcow2 "$T/.probe.qcow2" 1M
    ok "vmkit opens the qcow2 probe image" vmkit img info "$T/.probe.qcow2"
    ok "vmkit writes the qcow2 probe image" vmkit img resize "$T/.probe.qcow2" 2M
}

# kbytes FILE: disk usage in KiB.
kbytes() { du -k "$1" | cut -f1; }
