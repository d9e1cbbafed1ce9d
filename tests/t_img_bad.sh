#!/bin/bash
# vmkit img on bad input: unknown formats, missing files, damaged headers,
# garbage sizes, existing outputs.  Clear errors, exit 1 or 2, no crash.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1

for c in create info check map convert resize compare rebase commit; do
    ok "img $c --help" vmkit img $c --help
done
fails "img without a command" 2 vmkit img
fails_with "unknown img command" 2 "frob" vmkit img frob

fails_with "create -f bochs" 2 "unknown image format 'bochs'" vmkit img create -f bochs x.img 1M
fails_with "info -f bochs" 2 "unknown image format 'bochs'" vmkit img info -f bochs x.img
fails_with "convert -O bochs" 2 "unknown output format 'bochs'" vmkit img convert -O bochs x y
for s in 12Q abc -5 "" 1.2.3G 99999999999999999999 4GG; do
    fails_with "create with garbage size '$s'" 2 "vmkit:" vmkit img create g.img "$s"
done
ok "no file left by bad sizes" test ! -e g.img
fails_with "create without size" 2 "SIZE" vmkit img create g.img
fails_with "bad cluster_size" 2 "cluster_size" vmkit img create -f qcow2 -o cluster_size=1000 g.img 1M
fails_with "bad -o key" 2 "unknown option" vmkit img create -f qcow2 -o frob=1 g.img 1M
fails_with "bad compat" 2 "compat" vmkit img create -f qcow2 -o compat=2.0 g.img 1M

fails_with "info of a missing file" 1 "nothere.img" vmkit img info nothere.img
fails_with "map of a missing file" 1 "nothere.img" vmkit img map nothere.img
fails_with "check of a missing file" 1 "nothere.img" vmkit img check nothere.img
fails_with "resize of a missing file" 1 "nothere.img" vmkit img resize nothere.img 1M
fails_with "convert of a missing file" 1 "nothere.img" vmkit img convert nothere.img out.img
ok "no output left behind" test ! -e out.img
fails_with "compare with a missing file" 2 "nothere.img" vmkit img compare nothere.img nothere.img
fails_with "commit of a raw image" 1 "no backing file" vmkit img commit -f raw /dev/null
fails_with "a directory is no image" 1 "directory" vmkit img info .

ok "img create a.img" vmkit img create a.img 1M
ok "img create b.img" vmkit img create b.img 1M
fails_with "create refuses an existing file" 1 "exists" vmkit img create a.img 2M
eq "existing file untouched" "$(stat -c %s a.img)" 1048576
fails_with "convert refuses an existing output" 1 "exists" vmkit img convert a.img b.img
fails_with "resize with garbage size" 2 "not a size" vmkit img resize a.img +xyz
fails_with "shrink below zero" 1 "cannot shrink" vmkit img resize a.img -- -2M
fails_with "resize without size" 2 "expected" vmkit img resize a.img
fails_with "compare needs two images" 2 "expected" vmkit img compare a.img
fails_with "rebase needs -b" 2 "NEWBACKING" vmkit img rebase a.img
fails_with "partition of a disk without table" 1 "a.img" vmkit img info a.img:1
fails_with "backing file missing" 1 "nothere" vmkit img create -f qcow2 -b nothere.img o.qcow2
ok "no overlay left behind" test ! -e o.qcow2

# A truncated qcow2 header: qemu-img made it, then it was cut short.
ok "qemu-img create t.qcow2" qemu-img create -q -f qcow2 t.qcow2 16M
truncate -s 40 t.qcow2
fails_with "truncated qcow2 header: info" 1 "t.qcow2" vmkit img info t.qcow2
fails_with "truncated qcow2 header: convert" 1 "t.qcow2" vmkit img convert t.qcow2 t.raw
ok "no output from a failed convert" test ! -e t.raw
fails_with "truncated qcow2 header: compare" 2 "t.qcow2" vmkit img compare t.qcow2 a.img
# Garbage that starts with the qcow2 magic.
{ printf 'QFI\373'; head -c 4000 /dev/urandom; } >g.qcow2
fails_with "random qcow2 header" 1 "g.qcow2" vmkit img info g.qcow2
fails_with "random qcow2 header: check" 1 "g.qcow2" vmkit img check g.qcow2
finish
