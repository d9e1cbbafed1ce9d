#!/bin/bash
# Regenerate the seeds of fuzz/corpus/fuzz_vmdk/: small VMDK files qemu-img
# and qemu-io write (monolithic sparse, zeroed grains, stream-optimized),
# a VMware-style stream and damaged files made with tests/vmdk_craft.py,
# and descriptor texts (the fuzz target parses every input as one too).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/fuzz/corpus/fuzz_vmdk
CRAFT="python3 $TOP/tests/vmdk_craft.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
cd "$D"
mkdir -p "$OUT"
io() { qemu-io -c "write -P 0x5a 1000 3000" -c "write -P 0x11 130k 2k" "$@" >/dev/null; }
qemu-img create -q -f vmdk sparse 256K; io sparse
qemu-img create -q -f vmdk -o zeroed_grain=on zeroed 256K
qemu-io -c "write -P 0x5a 0 64k" -c "write -z 64k 64k" zeroed >/dev/null
qemu-img create -q -f raw src.raw 256K; io -f raw src.raw
qemu-img convert -O vmdk -o subformat=streamOptimized src.raw stream
$CRAFT stream src.raw vmware_stream
cp sparse bad_gteof; $CRAFT gte bad_gteof 2 0x100000
cp sparse bad_overlap; $CRAFT gte bad_overlap 3 "$($CRAFT 'gte?' sparse 0)"
cp sparse bad_gran; $CRAFT hdr bad_gran granularity 0x400000
cp sparse bad_gd; $CRAFT hdr bad_gd gd_offset 0x7fffffff
head -c 30000 sparse >bad_trunc
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentFlat,adapter_type=lsilogic desc_split 3G
qemu-img create -q -f vmdk -o subformat=monolithicFlat desc_flat 1M
sed 's|"desc_flat-flat"|"../etc/passwd"|' desc_flat >desc_escape
printf '# Disk DescriptorFile\r\nversion=1\r\nCID=1\r\nparentCID=ffffffff\r\ncreateType="custom"\r\nRW 100 ZERO\r\nRDONLY 20 FLAT "x" 7\r\n' >desc_crlf_zero
cp sparse stream zeroed vmware_stream bad_* desc_split desc_flat desc_escape desc_crlf_zero "$OUT/"
