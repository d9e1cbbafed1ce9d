#!/bin/sh
# make deb-check: build the Debian packages from a copy of this tree
# (dpkg-buildpackage -us -uc -b), run lintian (no errors allowed), install
# them on this machine with dpkg -i, run the installed vmkit --version and
# examples/lsdisk.c built with pkg-config against the installed headers,
# then purge them and check nothing is left.  Needs root (dpkg -i).
#   sh scripts/deb-check.sh [WORKDIR]      (default build/debcheck)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-$TOP/build/debcheck}
V=$(cat "$TOP/VERSION")
PKGS="vmkit libvmkit0 libvmkit-dev"
# Each say starts a step; the last line counts them, as the test runners do.
steps=0
say() { printf 'deb-check: %s\n' "$*"; steps=$((steps + 1)); }
die() { printf 'deb-check: FAIL: %s\n' "$*" >&2; echo "$((steps > 0 ? steps - 1 : 0)) passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || die "dpkg -i needs root (run as root, or in a scratch VM/container)"
for p in $PKGS; do
    ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed ||
        die "$p is already installed here; purge it first (deb-check installs and purges its own)"
done
start=$(date +%s)
rm -rf "$W"; mkdir -p "$W/vmkit-$V"
# The tree as git sees it (committed or not), without build output.
(cd "$TOP" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion) |
    tar -xf - -C "$W/vmkit-$V"
say "dpkg-buildpackage -us -uc -b (log: $W/build.log)"
(cd "$W/vmkit-$V" && dpkg-buildpackage -us -uc -b -j2) >"$W/build.log" 2>&1 ||
    { tail -30 "$W/build.log" >&2; die "dpkg-buildpackage failed"; }
for p in $PKGS; do [ -f "$W/${p}_${V}_amd64.deb" ] || die "${p}_${V}_amd64.deb not built"; done
say "lintian"
lintian --fail-on error "$W/vmkit_${V}_amd64.changes" >"$W/lintian.log" 2>&1 ||
    { cat "$W/lintian.log" >&2; die "lintian reports errors"; }
grep -c . "$W/lintian.log" >/dev/null && sed 's/^/deb-check: lintian: /' "$W/lintian.log" || true
say "dpkg -i"
trap 'dpkg --purge $PKGS >/dev/null 2>&1 || true' EXIT
dpkg -i "$W/vmkit_${V}_amd64.deb" "$W/libvmkit0_${V}_amd64.deb" "$W/libvmkit-dev_${V}_amd64.deb" \
    >"$W/dpkg.log" 2>&1 || { cat "$W/dpkg.log" >&2; die "dpkg -i failed"; }
/usr/bin/vmkit --version >"$W/version.txt" || die "installed vmkit --version failed"
grep -q "^vmkit $V\$" "$W/version.txt" || die "vmkit --version: $(head -1 "$W/version.txt")"
grep -q "^qemu: QEMU emulator version" "$W/version.txt" || die "vmkit --version names no QEMU"
sed 's/^/deb-check: /' "$W/version.txt"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$W/lsdisk" "$TOP/examples/lsdisk.c" \
    $(pkg-config --cflags --libs libvmkit) || die "examples/lsdisk.c does not build against the package"
ldd "$W/lsdisk" | grep -qE "libvmkit.so.0 => (/usr)?/lib/[^ ]*/libvmkit.so.0 " || die "lsdisk does not use the packaged libvmkit.so.0"
img=$W/disk.img
/usr/bin/vmkit img create "$img" 64M >/dev/null && /usr/bin/vmkit part init "$img" mbr &&
    /usr/bin/vmkit part add "$img" --type linux >/dev/null && /usr/bin/vmkit fs mkfs -t ext4 "$img:1" >/dev/null &&
    echo "hello from the package" | /usr/bin/vmkit fs write "$img:1:/hello" || die "installed vmkit smoke test failed"
"$W/lsdisk" "$img" 1:/hello >"$W/lsdisk.txt" || die "lsdisk failed"
grep -q "hello from the package" "$W/lsdisk.txt" || die "lsdisk did not print the file"
grep -q "^$img:1 start 1048576 " "$W/lsdisk.txt" || die "lsdisk did not list partition 1"
[ -f /usr/share/man/man1/vmkit-img.1.gz ] || die "man page vmkit-img(1) not installed"
say "dpkg --purge"
dpkg --purge $PKGS >"$W/purge.log" 2>&1 || { cat "$W/purge.log" >&2; die "dpkg --purge failed"; }
trap - EXIT
for p in $PKGS; do ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed || die "$p still installed"; done
for f in /usr/bin/vmkit /usr/include/vmkit /usr/lib/*/libvmkit.so.0 /usr/share/man/man1/vmkit.1.gz; do
    [ ! -e "$f" ] || die "$f left after purge"
done
say "OK in $(( $(date +%s) - start )) s"
echo "$steps passed, 0 failed"
