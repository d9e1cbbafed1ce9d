#!/bin/bash
# vmkit --version (QEMU's and the libraries' versions) and vmkit doctor.
. "$(dirname "$0")/lib.sh"
need qemu-system-x86_64 || { finish; exit; }

run_ok v vmkit --version
has "--version: vmkit's version" "$v" "vmkit $(cat "$TOP/VERSION")"
has "--version: QEMU's own words" "$v" "qemu: $(qemu-system-x86_64 --version | head -1)"
has "--version: libext2fs as dumpe2fs says" "$v" "libext2fs $(dumpe2fs -V 2>&1 | sed -n 's/.*Using EXT2FS Library version \([0-9.]*\).*/\1/p')"
for l in libarchive libzstd zlib jansson OpenSSL libseccomp; do has "--version: $l" "$v" "$l "; done

run_ok d vmkit doctor
has "doctor finds QEMU" "$d" "ok   qemu         $(command -v qemu-system-x86_64)"
eq "every line not ok names the fix" "$(grep -v '^ok ' <<<"$d" | grep -vc 'fix: ')" "0"

# Acceleration as the VM code decides it (vk_accel_choose, $VMKIT_SYSROOT).
mkdir -p "$T/kvm/dev" "$T/kvm/sys/module/kvm_intel" "$T/tcg/dev"
: >"$T/kvm/dev/kvm"; : >"$T/tcg/dev/kvm"
run_ok dk env VMKIT_SYSROOT="$T/kvm" "$VMKIT" doctor
has "doctor: KVM usable with kvm_intel loaded" "$dk" "ok   kvm          KVM usable (/dev/kvm usable, kvm_intel loaded)"
run_ok dt env VMKIT_SYSROOT="$T/tcg" "$VMKIT" doctor
has "doctor: /dev/kvm without kvm_intel/kvm_amd is TCG only" "$dt" "TCG only"
has "doctor: ... and says to load the module" "$dt" "modprobe kvm_intel"

# A PATH without QEMU (nor the tools): FAIL, exit 1, the fix named.
mkdir "$T/bin"
fails_with "doctor without QEMU exits 1" 1 "FAIL qemu         qemu-system-x86_64: not found" env PATH="$T/bin" "$VMKIT" doctor
has "... and names the package" "$(cat "$T/.out")" "fix: apt-get install qemu-system-x86"
fails_with "doctor without QEMU: still checks the rest" 1 "ok   fuse" env PATH="$T/bin" "$VMKIT" doctor
ln -s /usr/bin/qemu-system-x86_64 "$T/bin/"
run_ok dp env PATH="$T/bin" "$VMKIT" doctor
has "doctor: a missing tool named with its package" "$dp" "dpkg-deb not found (vmkit guest build); fix: apt-get install dpkg"
run_ok vq env PATH="$T/bin" "$VMKIT" --version
has "--version finds QEMU through PATH" "$vq" "qemu: QEMU emulator version"
run_ok vn env PATH=/nonexistent "$VMKIT" --version
has "--version without QEMU says so" "$vn" "qemu: not found in PATH"
fails "doctor takes no arguments" 2 vmkit doctor extra
ok "doctor --help" vmkit doctor --help
finish
