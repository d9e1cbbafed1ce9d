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
finish
