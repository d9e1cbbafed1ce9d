#!/bin/sh
# Regenerate the seeds in fuzz/corpus/fuzz_iso: small ISOs made by xorriso
# (Rock Ridge + Joliet, with symlinks, a deep directory, a hard link and an
# El Torito record), genisoimage (Joliet only; plain level 1) and vmkit,
# plus damaged copies (tests/iso_craft.py).  Needs build/vmkit.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/fuzz/corpus/fuzz_iso
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir -p t/d/a/b/c/d/e/f/g/h/i t/boot
echo deep >t/d/a/b/c/d/e/f/g/h/i/deep
printf 'x%.0s' $(seq 1 3000) >t/three-k
: >t/empty
ln t/empty t/hard
ln -s three-k t/link
ln -s ../../nowhere t/d/dangling
echo "a name longer than sixty-four characters for Joliet to cut it short.txt" \
    >"t/a name longer than sixty-four characters for Joliet to cut it short.txt"
head -c 2048 /dev/zero >t/boot/boot.img
mkdir -p "$OUT"
xorriso -as mkisofs -quiet -no-pad -R -J -V SEED -o "$OUT/rr_joliet.iso" t 2>/dev/null
xorriso -as mkisofs -quiet -no-pad -R -J -b boot/boot.img -no-emul-boot -boot-load-size 4 \
    -o "$OUT/eltorito.iso" t 2>/dev/null
genisoimage -quiet -no-pad -J -o "$OUT/joliet.iso" t 2>/dev/null
rm -rf p && mkdir -p p/sub && echo one >p/ONE && echo two >p/sub/TWO
genisoimage -quiet -no-pad -o "$OUT/plain.iso" p 2>/dev/null
"$TOP/build/vmkit" fs mkfs -t iso9660 --from t --boot boot/boot.img "$OUT/vmkit.iso"
c=$TOP/tests/iso_craft.py
python3 "$c" loop "$OUT/rr_joliet.iso" "$OUT/bad_loop.iso" D
python3 "$c" pastend "$OUT/rr_joliet.iso" "$OUT/bad_pastend.iso" D
python3 "$c" huge "$OUT/rr_joliet.iso" "$OUT/bad_huge.iso" THREE_K
python3 "$c" noterm "$OUT/eltorito.iso" "$OUT/bad_noterm.iso"
head -c 40960 "$OUT/rr_joliet.iso" >"$OUT/bad_truncated.iso"
ls -la "$OUT"
