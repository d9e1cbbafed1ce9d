#!/bin/bash
# VNC beyond loopback behind the host CA's client certificates: with a CA
# (`vmkit tls init`), a VM whose vnclisten is not a loopback address gets
# QEMU's tls-creds-x509 with verify-peer; tests/tools/vnctls.py (python's
# ssl, VeNCrypt x509) must then present a certificate of that CA, not
# revoked, and checks the server's certificate against ca.crt.  A VNC on
# loopback (what `vmkit serve` bridges) stays plain; without a CA a
# non-loopback VNC is plain VNC as before.
. "$(dirname "$0")/lib.sh"
need python3 qemu-system-x86_64 ss || { finish; exit; }
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -p -m 700 "$T/run" "$T/etc"
trap 'for v in far near plain; do "$VMKIT" destroy $v >/dev/null 2>&1; done; rm -rf "$T"' EXIT
VNC="python3 $TOP/tests/tools/vnctls.py"
E=$T/etc/tls
# a free display: 5900+N not listened on
disp() { for d in $(seq "$1" 99); do ss -Hltn "sport = :$((5900 + d))" | grep -q . || { echo "$d"; return; }; done; }

cfg() {  # NAME LISTEN DISPLAY
    printf 'name = "%s"\ntype = "hvm"\nmemory = 64\nvnc = 1\nvnclisten = "%s"\nvncdisplay = %s\nvncpasswd = ""\n' "$@" >"$1.cfg"
}

# --- without a CA: a non-loopback VNC is plain (security type None) ---
D1=$(disp 41)
cfg plain 0.0.0.0 "$D1"
ok "create: VNC on 0.0.0.0, no CA" vmkit create plain.cfg
run_ok out $VNC 127.0.0.1 $((5900 + D1))
has "no CA: plain VNC, type None" "$out" "types 1"
has "no CA: ServerInit" "$out" "desktop QEMU (plain)"
ok "destroy plain" vmkit destroy plain

# --- with a CA ---
ok "tls init" vmkit tls init
ok "issue alice" vmkit tls issue-client alice
ok "issue bob" vmkit tls issue-client bob
ok "revoke bob" vmkit tls revoke bob
ok "another CA (elsewhere) and its client" env VMKIT_CONFIG_DIR="$T/other" sh -c \
    '"$0" tls init >/dev/null && "$0" tls issue-client mallory >/dev/null' "$VMKIT"
D2=$(disp $((D1 + 1)))
cfg far 0.0.0.0 "$D2"
ok "create: VNC on 0.0.0.0 with a CA" vmkit create far.cfg
has "QEMU gets tls-creds-x509 with verify-peer" "$(tr '\0' ' ' <"$T/run/far/argv")" \
    "tls-creds-x509,id=vnc-tls,endpoint=server,verify-peer=on,dir=$E/qemu"
has "-vnc names the credentials" "$(tr '\0' ' ' <"$T/run/far/argv")" "-vnc 0.0.0.0:$D2,tls-creds=vnc-tls"
for f in ca-cert.pem server-cert.pem server-key.pem ca-crl.pem; do
    ok "tls/qemu/$f resolves" test -s "$E/qemu/$f"
done
P=$((5900 + D2))
run_ok out $VNC 127.0.0.1 $P --ca "$E/ca.crt" --cert "$E/clients/alice.crt" --key "$E/clients/alice.key"
has "alice: only VeNCrypt offered" "$out" "types 19"
has "alice: x509, no password" "$out" "subtypes 260"
has "alice: the server's certificate verifies against ca.crt" "$out" "tls ok"
has "alice: ServerInit after TLS" "$out" "desktop QEMU (far)"
fails_with "no client certificate: refused" 1 "error:" $VNC 127.0.0.1 $P --ca "$E/ca.crt"
fails_with "bob (revoked): refused" 1 "error:" \
    $VNC 127.0.0.1 $P --ca "$E/ca.crt" --cert "$E/clients/bob.crt" --key "$E/clients/bob.key"
fails_with "mallory (another CA): refused" 1 "error:" \
    $VNC 127.0.0.1 $P --ca "$E/ca.crt" --cert "$T/other/tls/clients/mallory.crt" --key "$T/other/tls/clients/mallory.key"
fails_with "a client trusting another CA refuses the server" 1 "certificate verify failed" \
    $VNC 127.0.0.1 $P --ca "$T/other/tls/ca.crt" --cert "$E/clients/alice.crt" --key "$E/clients/alice.key"
run_ok out $VNC 127.0.0.1 $P --ca "$E/ca.crt" --cert "$E/clients/alice.crt" --key "$E/clients/alice.key"
has "alice again after the refusals: QEMU still serves" "$out" "desktop QEMU (far)"

# --- loopback stays plain, with the CA there ---
D3=$(disp $((D2 + 1)))
cfg near 127.0.0.1 "$D3"
ok "create: VNC on loopback" vmkit create near.cfg
run_ok out $VNC 127.0.0.1 $((5900 + D3))
has "loopback: plain VNC (serve bridges it)" "$out" "types 1"
ok "destroy far" vmkit destroy far
ok "destroy near" vmkit destroy near
finish
