#!/bin/bash
# vmkit tls: the host CA, client certificates, revocation, checked with
# the real openssl: verify, crl, pkcs12, and TLS handshakes between
# s_server (client certificates required, the CRL checked) and s_client.
. "$(dirname "$0")/lib.sh"
need openssl jq setpriv timeout || { finish; exit; }

export VMKIT_CONFIG_DIR=$T/cfg
D=$T/cfg/tls C=$T/cfg/tls/clients
mode() { stat -c %a "$1"; }

# init, under umask 0: the modes are vmkit's, not the umask's.
ok "tls init" bash -c 'umask 0; exec "$0" tls init' "$VMKIT"
eq "tls/ is 0700" "$(mode "$D")" "700"
eq "ca.key is 0600" "$(mode "$D/ca.key")" "600"
eq "server.key is 0600" "$(mode "$D/server.key")" "600"
eq "ca.crt is 0644" "$(mode "$D/ca.crt")" "644"
ok "openssl verify: server.crt by ca.crt" openssl verify -CAfile "$D/ca.crt" "$D/server.crt"
run_ok ca openssl x509 -in "$D/ca.crt" -noout -text
has "CA: basicConstraints critical" "$ca" "X509v3 Basic Constraints: critical"
has "CA: CA:TRUE" "$ca" "CA:TRUE"
has "CA: keyCertSign, cRLSign" "$ca" "Certificate Sign, CRL Sign"
has "CA: self-signed, CN vmkit CA" "$ca" "Issuer: CN = vmkit CA"
run_ok srv openssl x509 -in "$D/server.crt" -noout -ext subjectAltName,extendedKeyUsage
has "server SAN: localhost" "$srv" "DNS:localhost"
has "server SAN: host name" "$srv" "DNS:$(hostname)"
has "server SAN: 127.0.0.1" "$srv" "IP Address:127.0.0.1"
has "server SAN: ::1" "$srv" "IP Address:0:0:0:0:0:0:0:1"
has "server EKU: serverAuth" "$srv" "TLS Web Server Authentication"
ok "server.crt verifies for ::1" openssl verify -verify_ip ::1 -CAfile "$D/ca.crt" "$D/server.crt"
ok "server.crt verifies for localhost" openssl verify -verify_hostname localhost -CAfile "$D/ca.crt" "$D/server.crt"
fails "server.crt is not for another name" 2 openssl verify -verify_hostname other.example -CAfile "$D/ca.crt" "$D/server.crt"
fails "server.crt is no client certificate" 2 openssl verify -purpose sslclient -CAfile "$D/ca.crt" "$D/server.crt"
run_ok crl openssl crl -in "$D/crl.pem" -CAfile "$D/ca.crt" -noout -text
has "the CRL is empty" "$crl" "No Revoked Certificates"
has "the CRL has a next update" "$crl" "Next Update:"
fails_with "init twice is refused" 1 "a CA already exists" vmkit tls init
fails_with "--days 0 is a usage error" 2 "--days" vmkit tls init --force --days 0

# Clients: alice (a bundle with a password), bob (one without), carol.
printf 'sekret\n' >"$T/pw"
ok "issue-client alice --p12" vmkit tls issue-client alice --p12 "$T/alice.p12" --password-file "$T/pw"
ok "issue-client bob --p12 (empty password)" vmkit tls issue-client bob --days 30 --p12 "$T/bob.p12"
ok "issue-client carol" vmkit tls issue-client carol
eq "clients/ is 0700" "$(mode "$C")" "700"
eq "alice.key is 0600" "$(mode "$C/alice.key")" "600"
eq "alice.p12 is 0600" "$(mode "$T/alice.p12")" "600"
for c in alice bob carol; do
    ok "openssl verify: $c" openssl verify -purpose sslclient -CAfile "$D/ca.crt" "$C/$c.crt"
done
run_ok a openssl x509 -in "$C/alice.crt" -noout -subject -serial -ext extendedKeyUsage
has "alice: CN=alice" "$a" "subject=CN = alice"
has "alice: clientAuth" "$a" "TLS Web Client Authentication"
serial=$(sed -n 's/^serial=//p' <<<"$a")
eq "alice: a 128-bit serial" "${#serial}" "32"
ok "alice.key is alice.crt's key" bash -c '[ "$(openssl pkey -in "$1" -pubout)" = "$(openssl x509 -in "$2" -noout -pubkey)" ]' _ "$C/alice.key" "$C/alice.crt"
run_ok p openssl pkcs12 -info -nokeys -in "$T/alice.p12" -passin pass:sekret
has "alice.p12 holds alice" "$p" "subject=CN = alice"
has "alice.p12 holds the CA" "$p" "subject=CN = vmkit CA"
fails "alice.p12 refuses a wrong password" 1 openssl pkcs12 -info -nokeys -in "$T/alice.p12" -passin pass:wrong
ok "alice.p12 holds the key" openssl pkcs12 -in "$T/alice.p12" -passin pass:sekret -nocerts -nodes -out "$T/k.pem"
ok "bob.p12 opens with the empty password" openssl pkcs12 -info -nokeys -in "$T/bob.p12" -passin pass:

# Bad names and repeats.
fails_with "a client that exists is refused" 1 "bob: client already exists" vmkit tls issue-client bob
for bad in 'a/b' '../x' '.hidden' 'sp ace' 'x$y' "$(printf 'n%.0s' {1..65})"; do
    fails_with "bad name '${bad:0:12}' refused" 1 "not a valid client name" vmkit tls issue-client "$bad"
done
fails_with "an existing --p12 is not overwritten" 1 "already exists" vmkit tls issue-client dave --p12 "$T/alice.p12"
none "and dave was not issued" find "$C" -name 'dave*'
fails_with "--password-file needs --p12" 2 "--p12" vmkit tls issue-client dave --password-file "$T/pw"

# Revocation.
ok "revoke alice" vmkit tls revoke alice
fails_with "openssl verify -crl_check: alice revoked" 2 "certificate revoked" \
    openssl verify -crl_check -CRLfile "$D/crl.pem" -CAfile "$D/ca.crt" "$C/alice.crt"
ok "openssl verify -crl_check: bob still valid" \
    openssl verify -crl_check -CRLfile "$D/crl.pem" -CAfile "$D/ca.crt" "$C/bob.crt"
run_ok crl openssl crl -in "$D/crl.pem" -CAfile "$D/ca.crt" -noout -text
has "the CRL lists alice's serial" "$crl" "Serial Number: $serial"
run_ok n openssl crl -in "$D/crl.pem" -noout -crlnumber
eq "the CRL number went up" "$n" "crlNumber=0x02"
fails_with "revoke twice" 1 "alice: already revoked" vmkit tls revoke alice
fails_with "revoke an unknown client" 1 "zed: no such client" vmkit tls revoke zed
fails_with "revoke a bad name" 1 "not a valid client name" vmkit tls revoke ../ca
ok "alice's files are kept" test -s "$C/alice.crt" -a -s "$C/alice.key"
run_ok l vmkit tls list
has "list: alice revoked" "$(grep '^alice ' <<<"$l")" "revoked"
has "list: bob valid" "$(grep '^bob ' <<<"$l")" "valid"
run_ok j vmkit tls list --json
eq "list --json: names" "$(jq -r '[.[].name] | join(" ")' <<<"$j")" "alice bob carol"
eq "list --json: none expired" "$(jq -r '[.[].expired] | join(" ")' <<<"$j")" "false false false"
eq "list --json: alice revoked" "$(jq -r '.[0].revoked' <<<"$j")" "true"
eq "list --json: alice's serial as openssl shows it" "$(jq -r '.[0].serial' <<<"$j")" "$serial"
eq "list --json: bob's expiry as openssl shows it" \
    "$(date -u -d "$(jq -r '.[1].not_after' <<<"$j")" +%s)" \
    "$(date -u -d "$(openssl x509 -in "$C/bob.crt" -noout -enddate | cut -d= -f2)" +%s)"

# Revokes at once: the lock keeps each (none lost in the CRL's rewrite).
for i in 1 2 3 4; do ok "issue-client x$i" vmkit tls issue-client "x$i"; done
pids=""
for i in 1 2 3 4; do "$VMKIT" tls revoke "x$i" >"$T/rv$i" 2>&1 & pids="$pids $!"; done
rcs=""; for p in $pids; do wait "$p"; rcs="$rcs$?"; done
eq "four revokes at once all succeed" "$rcs" "0000"
run_ok j vmkit tls list --json
eq "and all four are in the CRL" "$(jq -r '[.[] | select(.name | startswith("x")) | .revoked] | join(" ")' <<<"$j")" "true true true true"
run_ok n openssl crl -in "$D/crl.pem" -noout -crlnumber
eq "the CRL number counts every revoke" "$n" "crlNumber=0x06"
none "no temporary files are left" find "$D" -name '*.tmp.*'

# A second CA (another config dir) and its client.
ok "a second CA" env VMKIT_CONFIG_DIR="$T/cfg2" "$VMKIT" tls init --cn "Other CA"
ok "eve from the second CA" env VMKIT_CONFIG_DIR="$T/cfg2" "$VMKIT" tls issue-client eve
E=$T/cfg2/tls/clients
fails "openssl verify: eve is not ours" 2 openssl verify -CAfile "$D/ca.crt" "$E/eve.crt"

# Handshakes: s_server demands a client certificate and checks the CRL.
openssl s_server -accept 127.0.0.1:0 -cert "$D/server.crt" -key "$D/server.key" \
    -CAfile "$D/ca.crt" -Verify 1 -verify_return_error -CRL "$D/crl.pem" -crl_check -www \
    >"$T/srv.log" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$T"' EXIT
P=""
for _ in $(seq 200); do
    P=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$T/srv.log")
    [ -n "$P" ] || ! kill -0 $SRV 2>/dev/null && break
    sleep 0.1
done
ok "s_server listens on a free loopback port" test -n "$P"
hs() {  # s_client options...: an HTTP request over TLS to s_server -www
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 30 openssl s_client -connect "127.0.0.1:$P" \
        -servername localhost -verify_hostname localhost -CAfile "$D/ca.crt" \
        -verify_return_error -quiet "$@" 2>&1
}
run_ok out hs -cert "$C/bob.crt" -key "$C/bob.key"
has "handshake: bob is served" "$out" "HTTP/1.0 200 ok"
fails_with "handshake: revoked alice is refused" 1 "certificate revoked" hs -cert "$C/alice.crt" -key "$C/alice.key"
fails_with "handshake: eve of another CA is refused" 1 "unknown ca" hs -cert "$E/eve.crt" -key "$E/eve.key"
fails_with "handshake: no certificate is refused" 1 "certificate required" hs
run_ok out hs -cert "$C/carol.crt" -key "$C/carol.key"
has "handshake: carol is served after the refusals" "$out" "HTTP/1.0 200 ok"
kill $SRV

# Damaged files: a clear error naming the file, nothing changed.
cp "$D/ca.key" "$T/ca.key.good"; cp "$D/crl.pem" "$T/crl.good"
printf 'garbage\n' >"$D/ca.key"
fails_with "a damaged ca.key is named" 1 "$D/ca.key: not a PEM private key" vmkit tls issue-client dave
fails_with "a damaged ca.key stops revoke" 1 "$D/ca.key" vmkit tls revoke bob
cp "$T/cfg2/tls/ca.key" "$D/ca.key"
fails_with "another CA's key is refused" 1 "ca.key: not the key of ca.crt" vmkit tls issue-client dave
cp "$T/ca.key.good" "$D/ca.key"
head -c 200 "$T/crl.good" >"$D/crl.pem"
fails_with "a damaged crl.pem is named (revoke)" 1 "$D/crl.pem: not a PEM CRL" vmkit tls revoke bob
fails_with "a damaged crl.pem is named (list)" 1 "$D/crl.pem" vmkit tls list
cp "$T/cfg2/tls/crl.pem" "$D/crl.pem"
fails_with "another CA's CRL is refused" 1 "crl.pem: not signed by this host's CA" vmkit tls revoke bob
cp "$T/crl.good" "$D/crl.pem"
ok "revoke works again with the files restored" vmkit tls revoke carol
none "no client dave was left behind" find "$C" -name 'dave*'
rm "$D/ca.crt"
fails_with "issue without a CA" 1 "no CA yet" vmkit tls issue-client dave
fails_with "list without a CA" 1 "no CA yet" vmkit tls list
fails_with "revoke without a CA" 1 "no CA yet" vmkit tls revoke bob

# --force: a new CA; the old clients are moved aside, not deleted.
ok "init --force" vmkit tls init --force --days 10
ok "the old clients are kept aside" bash -c 'ls -d "$1"/clients.old-*/alice.key' _ "$D"
ok "bob can be issued again" vmkit tls issue-client bob
ok "openssl verify: the new bob" openssl verify -CAfile "$D/ca.crt" "$C/bob.crt"
run_ok j vmkit tls list --json
eq "list after --force: only the new bob" "$(jq -r '[.[].name] | join(" ")' <<<"$j")" "bob"

# An ordinary user: the config dir is $XDG_CONFIG_HOME/vmkit.
if [ "$(id -u)" = 0 ]; then
    chmod 755 "$T"; mkdir -p "$T/home"; chown 65534:65534 "$T/home"
    as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups env -u VMKIT_CONFIG_DIR \
        HOME="$T/home" XDG_CONFIG_HOME="$T/home/xdg" "$@"; }
    ok "tls init as an ordinary user" as_user "$VMKIT" tls init
    ok "issue-client as an ordinary user" as_user "$VMKIT" tls issue-client u1
    X=$T/home/xdg/vmkit/tls
    ok "its CA is in \$XDG_CONFIG_HOME/vmkit/tls" openssl verify -CAfile "$X/ca.crt" "$X/clients/u1.crt"
    eq "owned by the user, 0700" "$(stat -c '%u %a' "$X")" "65534 700"
    eq "its key 0600" "$(stat -c '%u %a' "$X/ca.key")" "65534 600"
else
    ok "tls init (not root: the XDG path)" env -u VMKIT_CONFIG_DIR HOME="$T/home" XDG_CONFIG_HOME="$T/home/xdg" "$VMKIT" tls init
    ok "its CA is in \$XDG_CONFIG_HOME/vmkit/tls" test -s "$T/home/xdg/vmkit/tls/ca.crt"
fi
finish
