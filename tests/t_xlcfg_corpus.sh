#!/bin/bash
# xl.cfg fidelity, shown on a corpus of real-world-style configs:
#  - every key of xl.cfg(5) (tests/xlcfg/xl.cfg.keys) is honoured, or
#    ignored/refused with a reason, and the README's two key lists are
#    exactly what the code does (t_xlcfg --keys-md);
#  - each tests/xlcfg/NAME.cfg goes through `vmkit create -n` (the dry run,
#    same checks as create) and its exit status, warnings, effective config
#    and QEMU command line must equal tests/xlcfg/NAME.out;
#  - a sample of the command lines is started for real (paused) to show
#    QEMU accepts them.
# UPDATE=1 rewrites the .out files (review the diff before committing).
. "$(dirname "$0")/lib.sh"

X=$TOP/tests/xlcfg
KEYS=$(dirname "$VMKIT")/tests/t_xlcfg
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -m 700 "$T/run" "$T/etc"
need qemu-system-x86_64 || { finish; exit; }

# 1. the whole key list of xl.cfg(5)
"$KEYS" --key $(grep -v '^#' "$X/xl.cfg.keys") >"$T/status"
bad=$(grep -Ev '^[a-z0-9_]+ (honoured|ignored|refused): .' "$T/status" | cut -d' ' -f1 | tr '\n' ' ')
eq "every xl.cfg(5) key is honoured, or ignored/refused with a reason" "${bad:-none}" none
"$KEYS" --keys-md >"$T/keys.md"
sed -n '/^<!-- xl.cfg keys: generated/,/^<!-- end of generated keys -->/p' "$TOP/README.md" |
    sed '1d;$d' >"$T/readme-keys.md"
if cmp -s "$T/keys.md" "$T/readme-keys.md"; then
    eq "README's key lists match the code" same same
else
    diff "$T/readme-keys.md" "$T/keys.md" | head -20 | sed 's/^/#   /'
    eq "README's key lists match the code (regenerate with t_xlcfg --keys-md)" differ same
fi
n=$(grep -c '^| `' "$T/keys.md")
for k in $(grep -v '^#' "$X/xl.cfg.keys"); do
    grep -q "^| \`$k\` |" "$T/keys.md" || bad="$bad $k"
done
eq "each xl.cfg(5) key is in one of the README's lists ($n keys listed)" "${bad:-none}" none

# 2. the corpus through create -n
for cfg in "$X"/*.cfg; do
    base=$(basename "$cfg" .cfg)
    sed "s|@T@|$T/f|g" "$cfg" >"$T/$base.cfg"
    # the files a config names exist (empty images; directories end in /)
    for f in $(grep -o "$T/f/[A-Za-z0-9._/-]*" "$T/$base.cfg" | sort -u); do
        case $f in
        */) mkdir -p "$f" ;;
        *.sock|*/pipe|*/ttyS2.log) mkdir -p "$(dirname "$f")" ;;
        */pv-grub.img)
            # a bare ext4 filesystem with a GRUB 2 menu, for pygrub
            mkdir -p "$T/grubfs/boot/grub"
            printf 'kernel' >"$T/grubfs/boot/vmlinuz-6.1.0-pv"
            printf 'initrd' >"$T/grubfs/boot/initrd.img-6.1.0-pv"
            printf '%s\n' 'set default=0' "menuentry 'Debian GNU/Linux' {" \
                '  linux /boot/vmlinuz-6.1.0-pv root=UUID=0d2c ro quiet' \
                '  initrd /boot/initrd.img-6.1.0-pv' '}' >"$T/grubfs/boot/grub/grub.cfg"
            mkdir -p "$(dirname "$f")"
            mkfs.ext4 -q -F -d "$T/grubfs" "$f" 8M || echo "# mkfs.ext4 failed" ;;
        *) mkdir -p "$(dirname "$f")"; [ -e "$f" ] || truncate -s 1M "$f" ;;
        esac
    done
    (cd "$T" && "$VMKIT" create -n "$base.cfg" accel=tcg >"$T/$base.stdout" 2>"$T/$base.stderr")
    rc=$?
    { echo "exit $rc"; cat "$T/$base.stderr" "$T/$base.stdout"; } |
        sed -e "s|$T/f/|@T@/|g" -e "s|$T/run/|@RUN@/|g" -e "s|$T/|@CWD@/|g" \
            -e 's|^[^ ]*/qemu-system-x86_64 |qemu-system-x86_64 |' \
            -e 's|base=[0-9][0-9-]*T[0-9:]*|base=@DATE@|' \
            -e 's|^uuid = "[0-9a-f-]*"  *# generated$||' >"$T/$base.got"
    # MACs vmkit generated (random, as xl's) for NICs the config gives none
    for m in $(grep -o 'mac=00:16:3e:[0-9a-f:]*' "$T/$base.got" | cut -d= -f2 | sort -u); do
        grep -qi "$m" "$cfg" || sed -i "s|$m|00:16:3e:@MAC@|g" "$T/$base.got"
    done
    if [ -n "${UPDATE:-}" ]; then
        cp "$T/$base.got" "$X/$base.out"
    fi
    if cmp -s "$T/$base.got" "$X/$base.out"; then
        eq "$base: create -n as expected" same same
    else
        diff "$X/$base.out" "$T/$base.got" | head -30 | sed 's/^/#   /'
        eq "$base: create -n as expected" differ same
    fi
done
none "create -n started nothing, left no runtime directory" ls "$T/run"
no_qemu=$(pgrep -f "qemu-system.*$T/run/" | wc -l)
eq "create -n started no QEMU" "$no_qemu" 0

# the golden files say what they say because the code does: a disk
# without format= really is raw (QEMU does not probe), read-only IDE is
# refused before QEMU runs, the VNC rule, Python
has "no format: raw" "$(cat "$X/xm-single-disk-string.out")" "file=@T@/root.img,if=none,id=disk0,format=raw"
has "read-only IDE refused up front" "$(cat "$X/disk-ide-ro.out")" "a read-only IDE hard disk is not supported"
has "open VNC without password refused" "$(cat "$X/vnc-open.out")" "anyone who can reach this host"
has "xm Python refused as such" "$(cat "$X/python-xm.out")" "this looks like Python"

# 3. QEMU accepts the command lines (started paused, then quit)
start_paused() {
    mapfile -t A < <(sed -n '/^# QEMU command line/,$p' "$T/$1.stdout" | sed '1d' |
                     tr -d '\\' | xargs -n1 printf '%s\n' | grep -v '^$')
    mkdir -p "$T/run/${2}" && chmod 700 "$T/run" "$T/run/$2"
    "${A[@]}" -S >"$T/$1.qemu" 2>&1 &
    qp=$!
    for _ in $(seq 600); do [ -S "$T/run/$2/qmp-cli.sock" ] && break; kill -0 $qp 2>/dev/null || break; sleep 0.1; done
    if [ -S "$T/run/$2/qmp-cli.sock" ]; then
        eq "$1: QEMU accepts the command line" ok ok
        python3 "$TOP/tests/qmp.py" "$T/run/$2/qmp-cli.sock" quit >/dev/null 2>&1
    else
        sed 's/^/#   /' "$T/$1.qemu"
        eq "$1: QEMU accepts the command line" refused ok
    fi
    kill $qp 2>/dev/null; wait $qp 2>/dev/null
    rm -rf "$T/run/$2"
}
start_paused xm-hvm-hvmloader winxp
start_paused serial-forms serials
start_paused serial-more serials2
start_paused p9-channel-watchdog shares
start_paused syntax-numbers syntax
start_paused xm-pv-partitions pvparts
finish
