// vmkit serve's page: the VM list from /api/events (server-sent events),
// actions as POST /api/vms/NAME/ACTION with the session token from the
// URL fragment (#token=...), never sent to other sites.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const tbody = document.querySelector("#vms tbody");
const errorBox = document.getElementById("error");

// Which actions apply in which state (the server answers 409 otherwise).
const ACTIONS = {
  "shut off": ["start"],
  "running": ["shutdown", "pause", "destroy"],
  "blocked": ["shutdown", "pause", "destroy"],
  "paused": ["unpause", "destroy"],
  "starting": ["destroy"],
  "shutdown": ["destroy"],
  "crashed": ["destroy"],
};

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

async function act(name, action) {
  errorBox.textContent = "";
  const headers = { "Content-Type": "application/json" };
  if (token) headers["X-Vmkit-Token"] = token;
  try {
    const r = await fetch("/api/vms/" + encodeURIComponent(name) + "/" + action,
                          { method: "POST", headers, body: "{}" });
    if (!r.ok) {
      const j = await r.json().catch(() => ({ error: r.statusText }));
      errorBox.textContent = name + ": " + action + ": " + j.error;
    }
  } catch (e) {
    errorBox.textContent = name + ": " + action + ": " + e;
  }
}

async function showDetail(name) {
  const r = await fetch("/api/vms/" + encodeURIComponent(name));
  const j = await r.json();
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-name").textContent = name;
  document.getElementById("detail-config").textContent = r.ok ? j.config : j.error;
}

// The serial console: xterm.js (shipped next to this page) on a WebSocket
// bridged to the VM's console socket (the token goes in the query: a
// browser sets no headers on WebSockets).  Keys go out as typed (onData),
// the guest's bytes go to the terminal as they come.
let consoleWs = null;
let term = null;
function openConsole(name) {
  if (consoleWs) consoleWs.close();
  document.getElementById("console").hidden = false;
  document.getElementById("console-name").textContent = name;
  if (!term) {
    term = new Terminal({ cols: 80, rows: 24, convertEol: false, scrollback: 5000 });
    term.open(document.getElementById("console-term"));
    window.vmkitTerm = term;    // for tests and bench/console_rtt.sh
    const enc = new TextEncoder();
    term.onData((d) => {
      if (consoleWs && consoleWs.readyState === WebSocket.OPEN) consoleWs.send(enc.encode(d));
    });
  }
  term.reset();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/ws/console/" +
                           encodeURIComponent(name) + "?token=" + encodeURIComponent(token));
  ws.binaryType = "arraybuffer";
  ws.onmessage = (e) => {
    if (ws === consoleWs) term.write(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
  };
  ws.onclose = (e) => {
    if (ws === consoleWs) term.write("\r\n[closed" + (e.reason ? ": " + e.reason : "") + "]\r\n");
  };
  consoleWs = ws;
  term.focus();
}
// The console's whole text (scrollback too), for tests and debugging.
window.vmkitConsoleText = () => {
  if (!term) return "";
  const b = term.buffer.active, lines = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
  return lines.join("\n");
};
document.getElementById("console-close").addEventListener("click", () => {
  if (consoleWs) consoleWs.close();
  consoleWs = null;
  document.getElementById("console").hidden = true;
});

function render(vms) {
  tbody.replaceChildren();
  document.getElementById("empty").hidden = vms.length > 0;
  for (const v of vms) {
    const tr = document.createElement("tr");
    tr.dataset.name = v.name;
    const a = document.createElement("a");
    a.className = "vm";
    a.textContent = v.name;
    a.addEventListener("click", () => showDetail(v.name));
    cell(tr, "").appendChild(a);
    cell(tr, v.id === null ? "-" : String(v.id));
    cell(tr, v.state, "state-" + v.state.split(" ")[0]);
    cell(tr, v.memory + " MiB");
    cell(tr, String(v.vcpus));
    cell(tr, v.time === null ? "-" : v.time.toFixed(1) + " s");
    const td = cell(tr, "");
    if (v.pid !== null && v.pid !== undefined) {
      const b = document.createElement("button");
      b.textContent = "console";
      b.dataset.action = "console";
      b.addEventListener("click", () => openConsole(v.name));
      td.appendChild(b);
    }
    if (v.pid !== null && v.pid !== undefined && v.vnc) {
      // the graphical console (noVNC) in a page of its own
      const a = document.createElement("a");
      a.textContent = "display";
      a.className = "display";
      a.dataset.action = "display";
      a.target = "_blank";
      a.href = "vnc.html?vm=" + encodeURIComponent(v.name) + "#token=" + encodeURIComponent(token);
      td.appendChild(a);
    }
    for (const action of ACTIONS[v.state] || []) {
      const b = document.createElement("button");
      b.textContent = action;
      b.dataset.action = action;
      b.addEventListener("click", () => act(v.name, action));
      td.appendChild(b);
    }
    tbody.appendChild(tr);
  }
}

const status = document.getElementById("status");
const events = new EventSource("/api/events");
events.onopen = () => { status.textContent = "live"; };
events.onerror = () => { status.textContent = "reconnecting…"; };
events.onmessage = (e) => render(JSON.parse(e.data));
