#!/bin/bash
# make install / uninstall into a scratch DESTDIR: the installed command's
# smoke test, the public library through pkg-config (examples/lsdisk.c and
# tests/pkg/api.c built against the installed tree), its exported ABI, and
# a destination that cannot be written.
. "$(dirname "$0")/lib.sh"
need make cc pkg-config sfdisk e2fsck debugfs nm setpriv || { finish; exit; }

B=${VMKIT%/vmkit}; B=${B#"$TOP"/}          # build or build/asan
SANF=""; [ "$SAN" = 1 ] && SANF="-fsanitize=address,undefined"
D=$T/root P=/usr/local
M() { make -s -C "$TOP" BUILD="$B" PREFIX=$P DESTDIR="$D" "$@"; }

ok "make install into DESTDIR" M install
for f in bin/vmkit lib/libvmkit.so.0 lib/libvmkit.so lib/libvmkit.a include/vmkit/vmkit.h \
         lib/pkgconfig/libvmkit.pc share/man/man1/vmkit.1 share/man/man1/vmkit-img.1 \
         share/man/man1/vmkit-vm.1 share/man/man5/vmkit.cfg.5 \
         share/bash-completion/completions/vmkit share/zsh/vendor-completions/_vmkit \
         share/vmkit/web/index.html share/vmkit/web/xterm.js share/vmkit/web/xterm.css; do
    ok "installed $P/$f" test -e "$D$P/$f"
done
eq "nothing outside DESTDIR/PREFIX" "$(cd "$D" && find . -mindepth 1 -maxdepth 2 | sort | tr '\n' ' ')" "./usr ./usr/local "
run_ok soname readelf -d "$D$P/lib/libvmkit.so.0"
has "versioned soname" "$soname" "Library soname: [libvmkit.so.0]"
eq "libvmkit.so.0 is a link to the versioned file" "$(readlink "$D$P/lib/libvmkit.so.0")" "libvmkit.so.$(cat "$TOP/VERSION")"

# The ABI: exactly the symbols of mk/libvmkit.map, each declared VMKIT_API.
map=$(sed -n 's/^ *\([A-Za-z_][A-Za-z_0-9]*\);$/\1/p' "$TOP/mk/libvmkit.map" | sort | tr '\n' ' ')
run_ok dyn nm -D --defined-only "$D$P/lib/libvmkit.so.0"
eq "exported symbols are the map's" "$(awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' <<<"$dyn" | sort | tr '\n' ' ')" "$map"
has "symbols carry version VMKIT_0" "$dyn" "vmkit_disk_open@@VMKIT_0"
eq "header declares the map's functions" \
   "$(grep -o 'VMKIT_API [^(]*(' "$TOP/include/vmkit/vmkit.h" | grep -o 'vmkit_[a-z_0-9]*(' | tr -d '(' | sort | tr '\n' ' ')" "$map"

# The installed command's smoke test, checked with the real tools.
X=$D$P/bin/vmkit
export LD_LIBRARY_PATH=$D$P/lib
cd "$T" || exit 1
ok "installed vmkit --version" "$X" --version
ok "img create" "$X" img create disk.img 64M
ok "part init gpt" "$X" part init disk.img gpt
ok "part add" "$X" part add disk.img --size 32M --type linux
ok "fs mkfs ext4" "$X" fs mkfs -t ext4 disk.img:1
ok_in "fs write" "hello from vmkit\n" "$X" fs write disk.img:1:/hello.txt
run_ok cat "$X" fs cat disk.img:1:/hello.txt
eq "fs cat reads it back" "$cat" "hello from vmkit"
run_ok sf sfdisk -J disk.img
has "sfdisk sees partition 1 at 1 MiB" "$sf" '"start": 2048'
ok "dd out the partition" dd if=disk.img of=p1.img bs=1M skip=1 count=32 status=none
ok "e2fsck -fn is clean" e2fsck -fn p1.img
run_ok dbg debugfs -R "cat /hello.txt" p1.img
eq "debugfs reads the file" "$dbg" "hello from vmkit"

# The example and the API, built only from the installed tree.
PC() { PKG_CONFIG_PATH=$D$P/lib/pkgconfig pkg-config --define-variable=prefix="$D$P" "$@"; }
run_ok flags PC --cflags --libs libvmkit
has "pkg-config names the installed include dir" "$flags" "-I$D$P/include"
# shellcheck disable=SC2086
ok "examples/lsdisk.c builds against the installed tree" \
   cc -std=c11 -Wall -Wextra -Werror $SANF -o lsdisk "$TOP/examples/lsdisk.c" $flags
# shellcheck disable=SC2086
ok "tests/pkg/api.c builds against the installed tree" \
   cc -std=c11 -Wall -Wextra -Werror $SANF -o api "$TOP/tests/pkg/api.c" $flags
run_ok ldd ldd ./lsdisk
has "lsdisk uses the installed shared library" "$ldd" "$D$P/lib/libvmkit.so.0"
run_ok out ./lsdisk disk.img 1:/hello.txt
has "lsdisk lists partition 1 at sfdisk's offset" "$out" "disk.img:1 start $((2048 * 512)) size $((32 << 20)) type Linux filesystem"
has "lsdisk prints the file" "$out" "hello from vmkit"
fails_with "lsdisk: missing file named" 1 "/nope" ./lsdisk disk.img 1:/nope
fails_with "lsdisk: missing partition named" 1 "disk.img: no partition 7" ./lsdisk disk.img 7:/x
fails_with "lsdisk: a disk without partition table" 1 "p1.img" ./lsdisk p1.img 1:/x

ok "api write: a new file" ./api write disk.img:1:/etc-hostname "box1"
ok "dd out the partition again" dd if=disk.img of=p1b.img bs=1M skip=1 count=32 status=none
run_ok dbg2 debugfs -R "cat /etc-hostname" p1b.img
eq "debugfs reads the API's file" "$dbg2" "box1"
run_ok st debugfs -R "stat /etc-hostname" p1b.img
has "mode 0640 as asked" "$st" "Mode:  0640"
ok "e2fsck -fn clean after the API's write" e2fsck -fn p1b.img
run_ok c2 ./api cat disk.img:1:/etc-hostname 100
eq "api cat reads it" "$c2" "box1"
fails_with "api cat: max_size enforced" 1 "etc-hostname" ./api cat disk.img:1:/etc-hostname 2
ok "api pwrite on partition 1" ./api pwrite disk.img:1 $((31 << 20)) "RAWBYTES"
eq "the bytes land at the partition's offset" \
   "$(dd if=disk.img bs=1 skip=$(((1 << 20) + (31 << 20))) count=8 status=none)" "RAWBYTES"
run_ok rb ./api pread disk.img:1 $((31 << 20)) 8
eq "api pread reads them" "$rb" "RAWBYTES"
fails_with "api pwrite past the partition's end refused" 1 "disk.img:1" ./api pwrite disk.img:1 $(((32 << 20) - 4)) "TOOLONG"
fails_with "api pwrite: a missing image named" 1 "nope.img" ./api pwrite nope.img 0 x

export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
printf "name = 'pkgvm'\nmemory = 96\nvcpus = 2\n" >vm.cfg
ok "define a VM" "$X" define vm.cfg
run_ok vms ./api vms
eq "api vms lists the defined VM as off" "$vms" "pkgvm 0 off 96 2"
fails_with "api start: unknown VM named" 1 "nosuch" ./api start nosuch
fails_with "api destroy: unknown VM named" 1 "nosuch" ./api destroy nosuch
fails_with "api create: missing config named" 1 "$T/none.cfg" ./api create "$T/none.cfg"
cd "$TOP" || exit 1

ok "make uninstall" M uninstall
none "uninstall leaves no file or link" find "$D" -type f -o -type l

# A destination that cannot be written fails before anything is copied.
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ "$(id -u)" = 0 ]; then as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
else as_user() { "$@"; }; fi
chmod 755 "$T"
fails_with "install into a read-only DESTDIR fails clearly" 2 "$T/ro/usr/local: not writable" \
    as_user make -s -C "$TOP" BUILD="$B" DESTDIR="$T/ro" install
none "nothing was written there" find "$T/ro" -mindepth 1
finish
