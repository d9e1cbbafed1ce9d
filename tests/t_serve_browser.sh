#!/bin/bash
# vmkit serve in a real browser: headless Chromium, driven through the
# DevTools protocol (tests/tools/cdp.py, python3's stdlib), opens the page
# `vmkit serve` prints (its session token in the URL's fragment, as a user
# gets it), sees the VM in the list, clicks Start on a guest made by
# `vmkit guest build`, opens the xterm.js console, sees the guest's
# readiness line there, types a command (key events through xterm's
# onData and the WebSocket) and sees the answer, then clicks Shut down
# and sees the VM stop, in the page and in `vmkit list`/QEMU.  In between
# its "display" link opens noVNC's page (a second tab), which must connect
# through /ws/vnc/g and draw the guest's screen (not blank, QEMU's size).
# Screenshots of each step, serve's and the monitor's logs are kept in
# build[/asan]/artifacts/t_serve_browser (or $VMKIT_TEST_ARTIFACTS/...).
. "$(dirname "$0")/lib.sh"
need chromium python3 qemu-system-x86_64 || { finish; exit; }

ART=${VMKIT_TEST_ARTIFACTS:-$(dirname "$VMKIT")/artifacts}/t_serve_browser
rm -rf "$ART" && mkdir -p "$ART" || exit 1
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc VMKIT_MONITOR_LOG=$T/monitor.log
mkdir -p -m 700 "$T/run" "$T/etc"
PIDS=""
cleanup() {
    local IFS=$' \t\n'   # a signal inside cdp() (IFS=\x1f) must not keep $PIDS whole
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    for d in "$T"/run/*/; do
        [ -d "$d" ] && "$VMKIT" destroy "$(basename "$d")" >/dev/null 2>&1
    done
    # chromium's helpers outlive its main process by a moment, writing
    rm -rf "$T" 2>/dev/null || { sleep 1; rm -rf "$T"; }
}
trap cleanup EXIT

ok "guest build" vmkit guest build -q --size 96M g.img
# a VNC display too (any free display: another VM may hold :0), with a
# password that noVNC's page must ask for
printf 'vnc = 1\nvncunused = 1\nvncpasswd = "vk-pw-42"\n' >>g.img.cfg
ok "define the guest (g)" vmkit define g.img.cfg

"$VMKIT" serve --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
SPID=$!; PIDS="$PIDS $SPID"
URL=""
for _ in $(seq 600); do
    URL=$(sed -n 's/^vmkit serve: open //p' "$T/serve.out")
    [ -n "$URL" ] || ! kill -0 $SPID 2>/dev/null && break
    sleep 0.05
done
ok "serve prints the page's URL" test -n "$URL"
has "the URL carries the session token" "$URL" "/#token="

# The browser, its DevTools port written in its data dir.
chromium --headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions \
    --user-data-dir="$T/chrome" --remote-debugging-port=0 --window-size=1100,900 "$URL" \
    >"$T/chrome.log" 2>&1 &
CPID=$!; PIDS="$PIDS $CPID"
for _ in $(seq 600); do [ -s "$T/chrome/DevToolsActivePort" ] && break; sleep 0.05; done
ok "chromium: DevTools port" test -s "$T/chrome/DevToolsActivePort"
# cdp STEP ARG...: one step of tests/tools/cdp.py (see there), all through
# one python process (its start-up alone takes seconds on a busy machine)
coproc CDP { exec python3 "$TOP/tests/tools/cdp.py" "$T/chrome" - 2>"$T/cdp.err"; }
PIDS="$PIDS $CDP_PID"
cdp() {
    local IFS=$'\x1f' _l
    printf '%s\n' "$*" >&"${CDP[1]}" && read -r -t 300 -u "${CDP[0]}" _l ||
        { echo "cdp.py: no answer: $(cat "$T/cdp.err")"; return 2; }
    printf '%s\n' "${_l#*$'\x1f'}"
    return "${_l%%$'\x1f'*}"
}
# see DESC EXPR [SECS]: the page makes EXPR true within SECS (default 30)
see() {
    _v=$(cdp wait "$2" "${3:-30}" 2>&1); _rc=$?
    if [ $_rc = 0 ]; then _report 0 "$1"; else
        printf 'last value: %s\nexpression: %s\n' "$_v" "$2" >"$T/.out"; _report 1 "$1" "$T/.out"; fi
    return $_rc
}
shot() { ok "screenshot $1" cdp shot "$ART/$1.png"; }
row='document.querySelector("#vms tr[data-name=g]")'
state="($row || {cells: []}).cells[2]?.textContent"

see "page: the event stream is live" 'document.getElementById("status").textContent == "live"'
see "page: g in the list, shut off" "$state == 'shut off'"
eq "page: xterm.js loaded (from the build's web dir)" "$(cdp eval 'typeof Terminal')" '"function"'
shot 1-list

ok "page: click Start" cdp click '#vms tr[data-name=g] button[data-action=start]'
see "page: g running" "['running', 'blocked'].includes($state)" 60
one_of "vmkit list: g running" "$("$VMKIT" list --json | python3 -c '
import json, sys
print([v["state"] for v in json.load(sys.stdin) if v["name"] == "g"])')" "['running'] ['blocked']"
ok "page: click console" cdp click '#vms tr[data-name=g] button[data-action=console]'
see "page: the xterm.js terminal is open" 'document.querySelector("#console-term .xterm") !== null'
see "console: the guest's readiness line (VMKIT-READY)" 'vmkitConsoleText().includes("VMKIT-READY")' 120
ok "QEMU's console log has it too" grep -q VMKIT-READY "$T/run/g/console.log"
shot 2-ready

ok "console: click the terminal (focus)" cdp click '#console-term .xterm'
ok "console: type a command" cdp type 'echo sum=$((6*7))\n'
see "console: the guest's answer (sum=42)" \
    'vmkitConsoleText().split("\n").some(l => l.startsWith("sum=42"))' 30
ok "the answer came from the guest (console.log)" grep -q '^sum=42' "$T/run/g/console.log"
shot 3-answer

# The display: the list's link opens noVNC's page in a new tab, which
# connects through /ws/vnc/g and draws the guest's screen (its size is
# QEMU's own screendump's); it holds the VM's one VNC session meanwhile.
see "page: a display link for g (it has VNC)" \
    'document.querySelector("#vms tr[data-name=g] a[data-action=display]") !== null'
ok "page: click display" cdp click '#vms tr[data-name=g] a[data-action=display]'
# vcdp STEP ARG...: a step on the display's tab (a python per step: few)
vcdp() { CDP_URL=/vnc.html timeout 120 python3 "$TOP/tests/tools/cdp.py" "$T/chrome" "$@"; }
vsee() {
    _v=$(vcdp wait "$2" "${3:-30}" 2>&1); _rc=$?
    if [ $_rc = 0 ]; then _report 0 "$1"; else
        printf 'last value: %s\nexpression: %s\n' "$_v" "$2" >"$T/.out"; _report 1 "$1" "$T/.out"; fi
}
vsee "display: noVNC asks for the VNC password" 'document.body.dataset.state == "password"' 60
ok "display: click the password field" vcdp click '#password'
ok "display: type the password and Enter" vcdp type 'vk-pw-42\n'
vsee "display: noVNC connected" 'document.body.dataset.state == "connected"' 60
canvas='document.querySelector("#screen canvas")'
vsee "display: the guest's screen drawn (a pixel not black)" "(() => { const c = $canvas;
    if (!c || !c.width) return false; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) if (d[i] | d[i + 1] | d[i + 2]) return true; return false; })()" 60
ok "vmkit screenshot g (QEMU's screendump)" vmkit screenshot g "$ART/qemu-screen.png"
run_ok qs python3 "$TOP/tests/pngstat.py" "$ART/qemu-screen.png"
run_ok cs vcdp eval "[$canvas.width, $canvas.height].join(' ')"
eq "display: the canvas is the guest's screen size" "$cs" "\"$(echo "$qs" | cut -d' ' -f1-2)\""
ok "screenshot 5-display" vcdp shot "$ART/5-display.png"
ok "screenshot of the display's canvas" vcdp shot "$ART/5-canvas.png" '#screen canvas'
run_ok ps python3 "$TOP/tests/pngstat.py" "$ART/5-canvas.png"
ok "display: the canvas is not blank ($ps)" test "$(echo "$ps" | cut -d' ' -f3)" -gt 1
HP=${URL#http://}; HP=${HP%%/*}; TOKEN=${URL##*#token=}
run_ok o timeout 60 python3 "$TOP/tests/tools/wsclient.py" "ws://$HP/ws/vnc/g?token=$TOKEN"
has "display: a second VNC session is refused while the page has it" "$o" "CLOSE 1008 409 VNC busy"

qpid=$(cat "$T/run/g/pid")
ok "page: click shutdown" cdp click '#vms tr[data-name=g] button[data-action=shutdown]'
see "page: g shut off again" "$state == 'shut off'" 60
ok "its QEMU is gone" sh -c "! kill -0 $qpid 2>/dev/null"
eq "vmkit list --all: g shut off" "$("$VMKIT" list --all --json | python3 -c '
import json, sys
print([v["state"] for v in json.load(sys.stdin) if v["name"] == "g"])')" "['shut off']"
see "console: the page saw it close" 'vmkitConsoleText().includes("[closed")' 20
shot 4-stopped
vsee "display: the page saw the VM go (disconnected)" 'document.body.dataset.state == "disconnected"' 30
has "serve logged the display" "$(cat "$T/serve.err")" "loopback: VNC g opened"
has "serve logged the start" "$(cat "$T/serve.err")" "loopback: start g: 200"
has "serve logged the shutdown" "$(cat "$T/serve.err")" "loopback: shutdown g: 200"

kill -TERM $SPID; wait $SPID
eq "serve exits 0 on SIGTERM" "$?" 0
cp "$T/serve.err" "$T/chrome.log" "$ART/" && cp "$T/monitor.log" "$ART/" 2>/dev/null
ok "serve and the VM's monitor: no sanitizer report" \
    sh -c "! cat '$T/serve.err' '$T/monitor.log' 2>/dev/null | grep -E 'AddressSanitizer|LeakSanitizer|runtime error:'"
finish
