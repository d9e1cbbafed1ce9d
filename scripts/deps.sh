#!/bin/sh
# Install the Debian packages vmkit builds and tests with.
# Idempotent: prints nothing and changes nothing when everything is present.
set -e
PKGS="build-essential pkg-config clang libclang-rt-14-dev
qemu-system-x86 qemu-utils
libext2fs-dev libarchive-dev libzstd-dev zlib1g-dev libjansson-dev libssl-dev libseccomp-dev libisofs-dev libxml2-dev
liblz4-dev libacl1-dev libjte-dev libbz2-dev liblzma-dev nettle-dev libcap-dev
e2fsprogs dosfstools mtools fdisk gdisk xorriso isolinux syslinux-common genisoimage util-linux
busybox-static cpio dpkg-dev python3 python3-cryptography time mmdebstrap openssh-client strace
grub-pc-bin grub-common
scdoc mandoc groff-base zsh jq
libvirt-clients libxml2-utils
libwebsockets-dev curl openssl chromium novnc
borgbackup partclone
debhelper lintian"
# npm fetches xterm.js at build time (mk/xterm.mk); a nodejs from elsewhere
# (NodeSource) brings its own npm and conflicts with Debian's
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
