#!/bin/bash
# vmkit serve: the JSON API, the page, server-sent events, the serial
# console over a WebSocket (tests/tools/wsclient.py) and who may change
# what.  One defined VM and one paused running VM (32 MiB, a boot
# sector disk: no guest boot needed); states are checked with `vmkit list`
# and QEMU itself (QMP query-status).  Bad requests (no token, cross-site,
# malformed JSON, huge bodies, unknown VMs, path traversal, symlinks out
# of the web dir) each get their HTTP error and the server keeps serving.
# TLS: certificates made with the openssl CLI in CONFIG/tls, as `vmkit tls
# init` lays them out; curl with a good client certificate gets 200,
# without one, with another CA's or a revoked one the handshake fails.
. "$(dirname "$0")/lib.sh"
need curl openssl python3 qemu-system-x86_64 || { finish; exit; }

cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc VMKIT_MONITOR_LOG=$T/monitor.log
mkdir -p -m 700 "$T/run" "$T/etc"
SERVE_PIDS=""
cleanup() {
    for p in $SERVE_PIDS; do kill -KILL "$p" 2>/dev/null; done
    for d in "$T"/run/*/; do
        [ -d "$d" ] && "$VMKIT" destroy "$(basename "$d")" >/dev/null 2>&1
    done
    rm -rf "$T"
}
trap cleanup EXIT

# start_serve OUT ARGS...: serve in the background (its pid appended to
# SERVE_PIDS and in SPID), its stdout in OUT, stderr in OUT.err; waits
# (up to 60 s) for the URL it prints and puts it in URL.
start_serve() {
    _out=$1; shift
    "$VMKIT" serve "$@" >"$_out" 2>"$_out.err" &
    SPID=$!
    SERVE_PIDS="$SERVE_PIDS $SPID"
    _end=$(( $(date +%s) + 60 ))
    URL=""
    while [ -z "$URL" ]; do
        URL=$(sed -n 's/^vmkit serve: open //p' "$_out")
        kill -0 "$SPID" 2>/dev/null || break
        [ "$(date +%s)" -gt $_end ] && break
        sleep 0.05
    done
    [ -n "$URL" ]
}
# stop_serve: SIGTERM, exit status 0, no sanitizer report in its stderr.
stop_serve() {
    kill -TERM "$SPID"
    wait "$SPID"
    eq "serve: exits 0 on SIGTERM" "$?" 0
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$1.err"; then
        cp "$1.err" "$T/.out"; _report 1 "serve: no sanitizer report" "$T/.out"
    else
        _report 0 "serve: no sanitizer report"
    fi
}

# code METHOD PATH [curl args...]: the HTTP status (000: no answer).
code() { _m=$1 _p=$2; shift 2; curl -s -o "$T/body" -w '%{http_code}' -X "$_m" --path-as-is "$@" "$BASE$_p"; }
post() { code POST "$1" -H "X-Vmkit-Token: $TOKEN" "${@:2}"; }
# field JSON-FILE NAME KEY: the KEY of VM NAME in a list, or "none".
vmfield() { python3 -c "
import json, sys
for v in json.load(open(sys.argv[1])):
    if v['name'] == sys.argv[2]: print(v[sys.argv[3]]); break
else: print('none')" "$@"; }
api_state() { curl -s "$BASE/api/vms" >"$T/list.json" && vmfield "$T/list.json" "$1" state; }
cli_state() { "$VMKIT" list --all --json >"$T/cli.json" && vmfield "$T/cli.json" "$1" state; }
qstatus() { timeout 30 python3 "$TOP/tests/qmp.py" "$T/run/$1/qmp-cli.sock" query-status |
            python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["status"])'; }

for n in def1 run1; do
    python3 "$TOP/tests/fixtures/bootsector.py" serve "$T/$n.img" 1048576 || exit 1
    printf 'name = "%s"\nmemory = 32\nboot = "c"\nvif = []\nvnc = 0\ndisk = [ "format=raw, vdev=hda, access=rw, target=%s/%s.img" ]\n' \
        "$n" "$T" "$n" >"$n.cfg"
done
# vnc1: a VNC display (on loopback, any free display: to=99)
python3 "$TOP/tests/fixtures/bootsector.py" serve "$T/vnc1.img" 1048576 || exit 1
printf 'name = "vnc1"\nmemory = 32\nboot = "c"\nvif = []\nvnc = 1\nvncunused = 1\ndisk = [ "format=raw, vdev=hda, access=rw, target=%s/vnc1.img" ]\n' \
    "$T" >vnc1.cfg
ok "define def1" vmkit define def1.cfg
ok "create run1 paused" vmkit create run1.cfg -p
ok "create vnc1 paused" vmkit create vnc1.cfg -p

fails_with "serve: 0.0.0.0 without --tls is refused" 1 "not a loopback address" vmkit serve --listen 0.0.0.0:0
fails_with "serve: a bad --listen is refused" 1 "not an IPv4 address" vmkit serve --listen nohost:80
fails "serve: an operand is a usage error" 2 vmkit serve extra

# The page from a copy of the web dir with a symlink out of it.
cp -r "$(dirname "$VMKIT")/web" "$T/web" && ln -s /etc/passwd "$T/web/passwd.txt"
start_serve "$T/s1" --listen 127.0.0.1:0 --web "$T/web"
ok "serve: starts and prints its URL" test -n "$URL"
BASE=${URL%%/#*}
TOKEN=${URL##*#token=}
PORT=${BASE##*:}
eq "serve: the token is 64 hex digits" "$(printf %s "$TOKEN" | tr -cd 0-9a-f | wc -c)" 64
eq "serve: the token file is 0600" "$(stat -c %a "$T/run/serve-$PORT.token")" 600
eq "serve: the token file holds the token" "$(cat "$T/run/serve-$PORT.token")" "$TOKEN"

# The list: both VMs, as `vmkit list` sees them.
eq "GET /api/vms: 200" "$(code GET /api/vms)" 200
eq "GET /api/vms: run1 paused" "$(vmfield "$T/body" run1 state)" paused
eq "GET /api/vms: def1 shut off" "$(vmfield "$T/body" def1 state)" "shut off"
eq "GET /api/vms: def1 is defined" "$(vmfield "$T/body" def1 defined)" True
eq "GET /api/vms: run1 is not" "$(vmfield "$T/body" run1 defined)" False
eq "GET /api/vms: run1's QEMU pid" "$(vmfield "$T/body" run1 pid)" "$(cat "$T/run/run1/pid")"
eq "vmkit list agrees: run1 paused" "$(cli_state run1)" paused
one_of "QEMU: run1 paused" "$(qstatus run1)" "prelaunch paused"
eq "GET /api/vms/run1: 200" "$(code GET /api/vms/run1)" 200
has "GET /api/vms/run1: its config" "$(cat "$T/body")" 'name = \"run1\"'
eq "GET /api/vms/def1: 200" "$(code GET /api/vms/def1)" 200
has "GET /api/vms/def1: its stored config" "$(cat "$T/body")" 'memory = 32'
eq "GET /api/vms/nope: 404" "$(code GET /api/vms/nope)" 404
has "GET /api/vms/nope: a JSON error" "$(cat "$T/body")" '"error":'

# Live updates: an event stream that must see each change.
curl -s -N --max-time 120 "$BASE/api/events" >"$T/events" 2>/dev/null &
EV=$!
SERVE_PIDS="$SERVE_PIDS $EV"
# wait_event PY-EXPR: a "data:" line whose list l makes it true (30 s).
wait_event() {
    _end=$(( $(date +%s) + 30 ))
    until python3 -c "
import json, sys
for line in open(sys.argv[1]):
    if line.startswith('data: '):
        l = {v['name']: v['state'] for v in json.loads(line[6:])}
        if $1: sys.exit(0)
sys.exit(1)" "$T/events"; do
        [ "$(date +%s)" -gt $_end ] && return 1
        sleep 0.1
    done
}
ok "events: the first list comes at once" wait_event "l.get('run1') == 'paused'"

# The serial console over a WebSocket: refused without the token or
# cross-site, closed with a reason for an unknown VM or a busy console;
# what the guest prints (run1's boot sector, once unpaused) reaches it.
ws() { timeout 90 python3 "$TOP/tests/tools/wsclient.py" "$@"; }
HP=${BASE#http://}
run_ok o ws "ws://$HP/ws/console/nope?token=$TOKEN"
has "console of an unknown VM: closed with 404" "$o" "CLOSE 1008 404"
fails "console without the token: refused" 2 ws "ws://$HP/ws/console/run1"
fails "console cross-site: refused" 2 ws "ws://$HP/ws/console/run1?token=$TOKEN" --origin http://evil.example
eq "GET /ws/console/run1 without Upgrade: 426" "$(code GET /ws/console/run1)" 426
ws "ws://$HP/ws/console/run1?token=$TOKEN" --origin "$BASE" --expect "VMKIT-BIOS-BOOT-OK serve" \
    --timeout 80 >"$T/con1" 2>&1 &
CON=$!
_end=$(( $(date +%s) + 30 ))
until grep -q "console run1 opened" "$T/s1.err" || [ "$(date +%s)" -gt $_end ]; do sleep 0.05; done
run_ok o ws "ws://$HP/ws/console/run1?token=$TOKEN"
has "a second console on run1: closed, busy" "$o" "CLOSE 1008 409 console busy"

# Who may change state.
eq "POST without token: 403" "$(code POST /api/vms/run1/unpause)" 403
eq "POST with a wrong token: 403" "$(code POST /api/vms/run1/unpause -H 'X-Vmkit-Token: 00')" 403
eq "POST cross-site Origin: 403" "$(post /api/vms/run1/unpause -H 'Origin: http://evil.example')" 403
eq "POST Sec-Fetch-Site cross-site: 403" "$(post /api/vms/run1/unpause -H 'Sec-Fetch-Site: cross-site')" 403
one_of "after the refusals run1 is still paused" "$(qstatus run1)" "prelaunch paused"

# Actions, seen by the API, the CLI, QEMU and the event stream.
eq "POST unpause: 200" "$(post /api/vms/run1/unpause -H "Origin: $BASE" -H 'Sec-Fetch-Site: same-origin')" 200
wait "$CON"
eq "console: the guest's output reached the WebSocket" "$?" 0
has "console: its line" "$(cat "$T/con1")" "VMKIT-BIOS-BOOT-OK serve"
ok "console: QEMU's console log has the same line" grep -q "VMKIT-BIOS-BOOT-OK serve" "$T/run/run1/console.log"
one_of "unpause: GET says running" "$(api_state run1)" "running blocked"
one_of "unpause: vmkit list says running" "$(cli_state run1)" "running blocked"
eq "unpause: QEMU runs" "$(qstatus run1)" running
ok "events: run1 running" wait_event "l.get('run1') in ('running', 'blocked')"

# The display over a WebSocket (/ws/vnc/NAME): the same refusals, the
# VNC server's own greeting through the bridge (with and without the
# "binary" subprotocol), one page at a time.
run_ok vl vmkit list -l --json
VNCADDR=$(printf %s "$vl" | python3 -c 'import json, sys; print([v["vnc"] for v in json.load(sys.stdin) if v["name"] == "vnc1"][0])')
has "vmkit list -l: vnc1's VNC on loopback" "$VNCADDR" "127.0.0.1:"
eq "GET /api/vms: vnc1's VNC address" "$(code GET /api/vms >/dev/null; vmfield "$T/body" vnc1 vnc)" "$VNCADDR"
# greet ADDR: the first 12 bytes a VNC server at HOST:PORT sends (repr)
greet() { timeout 20 python3 -c '
import socket, sys
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)), timeout=15)
b = b""
while len(b) < 12:
    d = s.recv(12 - len(b))
    if not d: break
    b += d
print(repr(b))' "$1"; }
run_ok o greet "$VNCADDR"
eq "QEMU's VNC server greets with RFB 3.8 (direct)" "$o" "b'RFB 003.008\\n'"
run_ok o ws "ws://$HP/ws/vnc/vnc1?token=$TOKEN" --origin "$BASE" --expect "RFB 003.008" --timeout 30
has "VNC: the greeting through the bridge" "$o" "RFB 003.008"
run_ok o ws "ws://$HP/ws/vnc/vnc1?token=$TOKEN" --protocol binary --expect "RFB 003.008" --timeout 30
has "VNC: subprotocol binary is chosen" "$o" "OPEN binary"
has "VNC: the greeting with subprotocol binary" "$o" "RFB 003.008"
run_ok o ws "ws://$HP/ws/vnc/nope?token=$TOKEN"
has "VNC of an unknown VM: closed with 404" "$o" "CLOSE 1008 404 nope: no such VM"
run_ok o ws "ws://$HP/ws/vnc/run1?token=$TOKEN"
has "VNC of a VM without VNC (vnc = 0): closed with 409" "$o" "CLOSE 1008 409 run1 has no VNC display"
fails "VNC without the token: refused" 2 ws "ws://$HP/ws/vnc/vnc1"
fails "VNC with a wrong token: refused" 2 ws "ws://$HP/ws/vnc/vnc1?token=00"
fails "VNC cross-site: refused" 2 ws "ws://$HP/ws/vnc/vnc1?token=$TOKEN" --origin http://evil.example
eq "GET /ws/vnc/vnc1 without Upgrade: 426" "$(code GET /ws/vnc/vnc1)" 426
# (timeout itself in the background, so killing it ends the client)
timeout 90 python3 "$TOP/tests/tools/wsclient.py" "ws://$HP/ws/vnc/vnc1?token=$TOKEN" \
    --expect "never sent" --timeout 60 >"$T/vnc1" 2>&1 &
VNC1=$!
SERVE_PIDS="$SERVE_PIDS $VNC1"
_end=$(( $(date +%s) + 30 ))
until grep -q "RFB 003.008" "$T/vnc1" || [ "$(date +%s)" -gt $_end ]; do sleep 0.05; done
has "VNC: the first page has the greeting" "$(cat "$T/vnc1")" "RFB 003.008"
run_ok o ws "ws://$HP/ws/vnc/vnc1?token=$TOKEN"
has "a second VNC page on vnc1: closed, busy" "$o" "CLOSE 1008 409 VNC busy"
kill "$VNC1"; wait "$VNC1" 2>/dev/null
_end=$(( $(date +%s) + 30 ))
until [ "$(grep -c "VNC vnc1 closed" "$T/s1.err")" = "$(grep -c "VNC vnc1 opened" "$T/s1.err")" ] ||
      [ "$(date +%s)" -gt $_end ]; do sleep 0.05; done
eq "serve: logs each VNC page's close" "$(grep -c "VNC vnc1 closed" "$T/s1.err")" 3
run_ok o ws "ws://$HP/ws/vnc/vnc1?token=$TOKEN" --expect "RFB 003.008" --timeout 30
has "VNC: free again once the first page is gone" "$o" "RFB 003.008"
# noVNC's files under /novnc/, nothing outside its dir
eq "GET /novnc/core/rfb.js: 200" "$(code GET /novnc/core/rfb.js)" 200
ok "/novnc/core/rfb.js: noVNC's own file" cmp -s "$T/body" /usr/share/novnc/core/rfb.js
eq "GET /novnc/vendor/pako/lib/zlib/inflate.js: 200" "$(code GET /novnc/vendor/pako/lib/zlib/inflate.js)" 200
eq "traversal /novnc/../../etc/passwd: 404" "$(code GET /novnc/../../etc/passwd)" 404
eq "traversal /novnc/core/../../../../etc/passwd: 404" "$(code GET /novnc/core/../../../../etc/passwd)" 404
eq "traversal /novnc/%2e%2e/%2e%2e/etc/passwd: 404" "$(code GET /novnc/%2e%2e/%2e%2e/etc/passwd)" 404
has "traversal: a JSON error, not the file" "$(cat "$T/body")" '"status":404'
eq "noVNC: a symlink (vnc_auto.html) is not followed: 404" "$(code GET /novnc/vnc_auto.html)" 404
eq "noVNC: a directory: 404" "$(code GET /novnc/core/)" 404
eq "noVNC: a hidden name: 404" "$(code GET /novnc/.git/config)" 404
eq "GET /vnc.js: 200" "$(code GET /vnc.js)" 200
has "vnc.js: noVNC's RFB module" "$(cat "$T/body")" 'import RFB from "/novnc/core/rfb.js"'

eq "POST unpause on a running VM: 409" "$(post /api/vms/run1/unpause)" 409
eq "POST pause: 200" "$(post /api/vms/run1/pause -d '{}')" 200
eq "pause: QEMU paused" "$(qstatus run1)" paused
eq "pause: vmkit list says paused" "$(cli_state run1)" paused
eq "POST pause on def1 (shut off): 409" "$(post /api/vms/def1/pause)" 409
eq "POST start on running run1: 409" "$(post /api/vms/run1/start)" 409
eq "POST start def1 paused: 200" "$(post /api/vms/def1/start -d '{"paused": true}')" 200
one_of "start: QEMU of def1 is paused" "$(qstatus def1)" "prelaunch paused"
eq "start: vmkit list says paused" "$(cli_state def1)" paused
ok "events: def1 paused" wait_event "l.get('def1') == 'paused'"
eq "POST destroy def1: 200" "$(post /api/vms/def1/destroy)" 200
eq "destroy: def1 shut off again" "$(api_state def1)" "shut off"
qpid=$(cat "$T/run/run1/pid")
eq "POST destroy run1: 200" "$(post /api/vms/run1/destroy)" 200
eq "destroy: run1 gone from GET" "$(api_state run1)" none
eq "destroy: run1 gone from vmkit list" "$(cli_state run1)" none
ok "destroy: its QEMU is gone" sh -c "! kill -0 $qpid 2>/dev/null"
ok "events: run1 gone" wait_event "'run1' not in l and l.get('def1') == 'shut off'"

# Bad requests: each its error, the server keeps serving.
eq "malformed JSON: 400" "$(post /api/vms/def1/start -d '{"paused":')" 400
has "malformed JSON: says so" "$(cat "$T/body")" "malformed JSON"
eq "not an object: 400" "$(post /api/vms/def1/start -d '[1]')" 400
eq "unknown key: 400" "$(post /api/vms/def1/start -d '{"force": true}')" 400
eq "unknown action: 400" "$(post /api/vms/def1/reboot-now)" 400
eq "bad VM name: 400" "$(post '/api/vms/a%20b/start')" 400
eq "unknown VM: 404" "$(post /api/vms/nope/start)" 404
head -c 100000 /dev/zero | tr '\0' ' ' >"$T/huge"
eq "huge body: 413" "$(post /api/vms/def1/start --data-binary @"$T/huge")" 413
# libwebsockets 4.1 takes no chunked request body: it closes the connection
c=$(post /api/vms/def1/start -H 'Transfer-Encoding: chunked' --data-binary @"$T/huge")
one_of "huge chunked body: refused (HTTP $c)" "$c" "000 413"
eq "GET on an action: 405" "$(code GET /api/vms/def1/start)" 405
eq "POST on the list: 405" "$(post /api/vms)" 405
eq "PUT: 405" "$(code PUT /api/vms/def1 -H "X-Vmkit-Token: $TOKEN" -d '{}')" 405
eq "traversal ../../etc/passwd: 404" "$(code GET /../../etc/passwd)" 404
eq "traversal %2e%2e: 404" "$(code GET /%2e%2e/%2e%2e/etc/passwd)" 404
eq "traversal /api/../../etc/passwd: 404" "$(code GET /api/../../etc/passwd)" 404
eq "a symlink out of the web dir: 404" "$(code GET /passwd.txt)" 404
eq "a hidden file: 404" "$(code GET /.token)" 404
eq "GET /: 200" "$(code GET /)" 200
has "GET /: the page" "$(cat "$T/body")" 'src="app.js"'
eq "GET /app.js: 200" "$(code GET /app.js)" 200
has "app.js: sends the token header" "$(cat "$T/body")" 'X-Vmkit-Token'
eq "still serving after all that" "$(code GET /api/vms)" 200
eq "def1 never started by the bad requests" "$(vmfield "$T/body" def1 state)" "shut off"
kill "$EV" 2>/dev/null
stop_serve "$T/s1"
has "serve: logs each action and who asked" "$(cat "$T/s1.err")" "loopback: unpause run1: 200"
has "serve: logs refusals" "$(cat "$T/s1.err")" "refused: missing X-Vmkit-Token"
ok "serve: the token file is removed at exit" test ! -e "$T/run/serve-$PORT.token"

# TLS: a CA, a server certificate for 127.0.0.1, client certificates
# (one good, one revoked, one from another CA), a CRL.
D=$T/etc/tls
mkdir -p "$D" "$T/ca"
cat >"$T/ca/ca.cnf" <<CNF
[ ca ]
default_ca = my
[ my ]
database = $T/ca/index
serial = $T/ca/serial
crlnumber = $T/ca/crlnumber
new_certs_dir = $T/ca
certificate = $D/ca.crt
private_key = $T/ca/ca.key
default_md = sha256
default_crl_days = 30
default_days = 30
policy = any
[ any ]
commonName = supplied
CNF
: >"$T/ca/index"; echo 01 >"$T/ca/serial"; echo 01 >"$T/ca/crlnumber"
ssl() { openssl "$@" >>"$T/openssl.log" 2>&1; }
# client NAME CA-CERT CA-KEY: NAME.key and NAME.crt signed by that CA.
client() {
    ssl req -new -newkey rsa:2048 -nodes -keyout "$T/$1.key" -subj "/CN=$1" -out "$T/$1.csr" &&
    ssl x509 -req -in "$T/$1.csr" -CA "$2" -CAkey "$3" -CAcreateserial -days 30 \
        -extfile <(printf 'extendedKeyUsage=clientAuth\n') -out "$T/$1.crt"
}
ok "openssl: a CA" ssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca/ca.key" -subj "/CN=vmkit test CA" -days 30 -out "$D/ca.crt"
ok "openssl: the server certificate" bash -c "openssl req -new -newkey rsa:2048 -nodes -keyout '$D/server.key' -subj /CN=127.0.0.1 -out '$T/server.csr' &&
    openssl x509 -req -in '$T/server.csr' -CA '$D/ca.crt' -CAkey '$T/ca/ca.key' -CAcreateserial -days 30 \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') -out '$D/server.crt'" 
ok "openssl: client alice" client alice "$D/ca.crt" "$T/ca/ca.key"
ok "openssl: client mallory (to be revoked)" client mallory "$D/ca.crt" "$T/ca/ca.key"
ok "openssl: another CA" ssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -subj "/CN=other CA" -days 30 -out "$T/other.crt"
ok "openssl: eve from the other CA" client eve "$T/other.crt" "$T/other.key"
ok "openssl: revoke mallory" ssl ca -config "$T/ca/ca.cnf" -revoke "$T/mallory.crt"
ok "openssl: the CRL" ssl ca -config "$T/ca/ca.cnf" -gencrl -out "$D/crl.pem"
chmod 600 "$D/server.key"

start_serve "$T/s2" --listen 0.0.0.0:0 --tls
ok "serve --tls on 0.0.0.0: starts" test -n "$URL"
PORT=${URL##*:}; PORT=${PORT%%/*}
BASE=https://127.0.0.1:$PORT
tls() { rm -f "$T/body"; curl -s -o "$T/body" -w '%{http_code}' --cacert "$D/ca.crt" "$@"; }
eq "TLS: alice's certificate: 200" "$(tls --cert "$T/alice.crt" --key "$T/alice.key" "$BASE/api/vms")" 200
eq "TLS: the list over TLS" "$(vmfield "$T/body" def1 state)" "shut off"
eq "TLS: the page from the build's web dir" "$(tls --cert "$T/alice.crt" --key "$T/alice.key" "$BASE/")" 200
has "TLS: the page" "$(cat "$T/body")" 'src="app.js"'
eq "TLS: no token needed with a certificate (unknown VM: 404)" \
   "$(tls --cert "$T/alice.crt" --key "$T/alice.key" -X POST "$BASE/api/vms/nope/pause")" 404
eq "TLS: cross-site still refused: 403" \
   "$(tls --cert "$T/alice.crt" --key "$T/alice.key" -X POST -H 'Origin: https://evil.example' "$BASE/api/vms/def1/start")" 403
for who in none eve mallory; do
    args=()
    [ $who = none ] || args=(--cert "$T/$who.crt" --key "$T/$who.key")
    c=$(tls "${args[@]}" "$BASE/api/vms"); rc=$?
    ok "TLS: $who: the handshake fails (curl $rc, HTTP $c)" test "$rc" -ne 0 -a "$c" = 000
done
eq "TLS: still serving alice" "$(tls --cert "$T/alice.crt" --key "$T/alice.key" "$BASE/api/vms")" 200
ok "TLS: no token file" sh -c "! ls '$T'/run/serve-*.token 2>/dev/null | grep -q ."
stop_serve "$T/s2"
has "TLS: the log names the certificate" "$(cat "$T/s2.err")" "CN=alice: pause nope: 404"
if [ -s "$T/monitor.log" ] && grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/monitor.log"; then
    cp "$T/monitor.log" "$T/.out"; _report 1 "monitors of the VMs serve started: no sanitizer report" "$T/.out"
else
    _report 0 "monitors of the VMs serve started: no sanitizer report"
fi
rm -f "$D/crl.pem"
fails_with "serve --tls without the CRL is refused" 1 "crl.pem" vmkit serve --listen 127.0.0.1:0 --tls

# the same with vmkit's own PKI (vmkit tls) in a second config dir: its
# server certificate names 127.0.0.1, its CRL is what serve checks
export VMKIT_CONFIG_DIR=$T/etc2
mkdir -m 700 "$VMKIT_CONFIG_DIR"
ok "vmkit tls init" vmkit tls init
ok "vmkit tls issue-client bob" vmkit tls issue-client bob
ok "vmkit tls issue-client carl" vmkit tls issue-client carl
ok "vmkit tls revoke carl" vmkit tls revoke carl
C=$VMKIT_CONFIG_DIR/tls
start_serve "$T/s3" --listen 0.0.0.0:0 --tls
ok "serve --tls with vmkit tls's files: starts" test -n "$URL"
PORT=${URL##*:}; PORT=${PORT%%/*}
BASE=https://127.0.0.1:$PORT
pki() { rm -f "$T/body"; curl -s -o "$T/body" -w '%{http_code}' --cacert "$C/ca.crt" "$@" "$BASE/api/vms"; }
eq "vmkit tls: bob's certificate: 200" "$(pki --cert "$C/clients/bob.crt" --key "$C/clients/bob.key")" 200
c=$(pki --cert "$C/clients/carl.crt" --key "$C/clients/carl.key"); rc=$?
ok "vmkit tls: revoked carl: the handshake fails (curl $rc, HTTP $c)" test "$rc" -ne 0 -a "$c" = 000
c=$(pki --cert "$T/alice.crt" --key "$T/alice.key"); rc=$?
ok "vmkit tls: alice of the openssl CA: the handshake fails (curl $rc, HTTP $c)" test "$rc" -ne 0 -a "$c" = 000
c=$(pki); rc=$?
ok "vmkit tls: no certificate: the handshake fails (curl $rc, HTTP $c)" test "$rc" -ne 0 -a "$c" = 000
eq "vmkit tls: still serving bob" "$(pki --cert "$C/clients/bob.crt" --key "$C/clients/bob.key")" 200
stop_serve "$T/s3"
finish
