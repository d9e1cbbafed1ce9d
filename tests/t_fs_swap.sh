#!/bin/bash
# vmkit fs mkfs -t swap: mkswap's layout, blkid agrees, probe reports it,
# mount says it holds no files.
. "$(dirname "$0")/lib.sh"

ok "img create" vmkit img create "$T/swap.img" 64M
ok "mkfs -t swap" vmkit fs mkfs -t swap -L myswap -U 7d2c1a64-5f1b-4c0e-9b7a-0123456789ab "$T/swap.img"
eq "blkid" "$(blkid -p -o value -s TYPE -s LABEL -s UUID "$T/swap.img" | sort | tr '\n' ' ')" "7d2c1a64-5f1b-4c0e-9b7a-0123456789ab myswap swap "
truncate -s 64M "$T/ref.img"
ok "mkswap makes the reference" mkswap -L myswap -U 7d2c1a64-5f1b-4c0e-9b7a-0123456789ab "$T/ref.img"
ok "first page byte-identical to mkswap's" cmp -n 4096 "$T/swap.img" "$T/ref.img"
has "swaplabel reads it" "$(swaplabel "$T/swap.img" 2>&1)" "LABEL: myswap"
run_ok out vmkit fs probe "$T/swap.img"
has "probe type" "$out" 'TYPE="swap"'
has "probe label" "$out" 'LABEL="myswap"'
has "probe uuid" "$out" 'UUID="7d2c1a64-5f1b-4c0e-9b7a-0123456789ab"'
has "probe size" "$out" "SIZE=67108864"
fails_with "ls: holds no files" 1 "holds no files" vmkit fs ls "$T/swap.img:/"
ok "mkfs -t swap, random UUID" vmkit fs mkfs -t swap "$T/swap.img"
has "blkid: a v4 UUID" "$(blkid -p -o value -s UUID "$T/swap.img")" "-4"
fails_with "bad UUID" 1 "bad UUID" vmkit fs mkfs -t swap -U nope "$T/swap.img"
fails_with "label too long" 1 "longer than 16" vmkit fs mkfs -t swap -L 12345678901234567 "$T/swap.img"
truncate -s 16K "$T/tiny.img"
fails_with "too small" 1 "too small" vmkit fs mkfs -t swap "$T/tiny.img"

# What lies over or instead of a swap header is reported as blkid -p says,
# and never mounted: a LUKS header over a leftover swap signature
# (crypto_LUKS), a hibernation image (swsuspend), and a big-endian header
# (swap: both byte orders are accepted).
cat >"$T/craft.py" <<'PY'
import sys, struct
img, what = sys.argv[1], sys.argv[2]
f = open(img, 'r+b')
def luks2(off, magic):
    h = bytearray(512)
    h[0:6] = magic; h[6:8] = struct.pack('>H', 2); h[8:16] = struct.pack('>Q', 16384)
    h[16:24] = struct.pack('>Q', 1); h[24:33] = b'cryptroot'; h[72:78] = b'sha256'
    h[168:204] = b'0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'; h[256:264] = struct.pack('>Q', off)
    f.seek(off); f.write(h)
if what == 'luks1':
    h = bytearray(592); h[0:6] = b'LUKS\xba\xbe'; h[6:8] = struct.pack('>H', 1)
    h[8:11] = b'aes'; h[40:43] = b'xts'; h[72:78] = b'sha256'
    h[168:204] = b'11111111-2222-3333-4444-555555555555'
    f.seek(0); f.write(h)
elif what == 'luks2':
    luks2(0, b'LUKS\xba\xbe')
elif what == 'luks2-secondary':
    luks2(0x4000, b'SKUL\xba\xbe')
elif what.startswith('suspend:'):
    f.seek(4086); f.write(what[8:].encode())
elif what == 'tuxonice':
    f.seek(0); f.write(b'\xed\xc3\x02\xe9\x98\x56\xe5\x0c')
elif what == 'big-endian':
    f.seek(1024); v = f.read(12)
    f.seek(1024); f.write(b''.join(v[i:i + 4][::-1] for i in (0, 4, 8)))
PY
for w in luks1 luks2 luks2-secondary suspend:S1SUSPEND suspend:S2SUSPEND suspend:ULSUSPEND \
         suspend:LINHIB0001 tuxonice big-endian; do
    rm -f "$T/s.img"; truncate -s 64M "$T/s.img"
    mkswap -q -L myswap -U 7d2c1a64-5f1b-4c0e-9b7a-0123456789ab "$T/s.img" >/dev/null 2>&1
    python3 "$T/craft.py" "$T/s.img" "$w"
    want=$(blkid -p -o export "$T/s.img" | grep -E '^(TYPE|LABEL|UUID)=' | sort | tr '\n' ' ')
    # A LUKS header at byte 0 makes the whole file a LUKS image, which image
    # probing refuses by name; --format raw reads the bytes as blkid does.
    got=$(vmkit fs probe --format raw "$T/s.img" | grep -E '^(TYPE|LABEL|UUID)=' | tr -d '"' | sort | tr '\n' ' ')
    eq "$w: probe agrees with blkid -p ($want)" "$got" "$want"
    case $w in luks*) t=crypto_LUKS ;; big-endian) t=swap ;; *) t=swsuspend ;; esac
    has "$w: blkid says $t" "$want" "TYPE=$t "
    fails_with "$w: never mounted" 1 "a $t area holds no files" vmkit fs ls --format raw "$T/s.img:/"
    case $w in luks1|luks2) fails_with "$w: whole-file LUKS image refused by name" 1 \
        "LUKS-encrypted volume: vmkit cannot read this format" vmkit fs probe "$T/s.img" ;; esac
done
has "big-endian: size from the byte-swapped last page" "$(vmkit fs probe "$T/s.img")" "SIZE=67108864"
finish
