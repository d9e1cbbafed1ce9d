// vmkit serve's display page, vnc.html?vm=NAME#token=...: noVNC's RFB
// client (served as /novnc/ from the noVNC install, not shipped here) on
// /ws/vnc/NAME, which serve bridges to the VM's VNC server on loopback.
// The token goes in the query, as for the serial console (a browser sets
// no headers on WebSockets); the screen is scaled to fit the window.
import RFB from "/novnc/core/rfb.js";

const vm = new URLSearchParams(location.search).get("vm") || "";
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const status = document.getElementById("status");
document.getElementById("name").textContent = vm;
document.title = vm + ": vmkit display";

function state(s, text) {
  document.body.dataset.state = s;   // for tests: password, connected, disconnected
  status.textContent = text;
}

const proto = location.protocol === "https:" ? "wss:" : "ws:";
const rfb = new RFB(document.getElementById("screen"), proto + "//" + location.host +
                    "/ws/vnc/" + encodeURIComponent(vm) + "?token=" + encodeURIComponent(token));
rfb.scaleViewport = true;
rfb.addEventListener("connect", () => state("connected", "connected"));
rfb.addEventListener("disconnect", (e) =>
  state("disconnected", e.detail.clean ? "disconnected" : "disconnected (refused or lost: see serve's log)"));
// vncpasswd in the VM's config: noVNC asks, the form in the header answers
const auth = document.getElementById("auth"), password = document.getElementById("password");
rfb.addEventListener("credentialsrequired", () => {
  state("password", "password needed");
  auth.hidden = false;
  password.focus();
});
auth.addEventListener("submit", (e) => {
  e.preventDefault();
  auth.hidden = true;
  rfb.sendCredentials({ password: password.value });
  password.value = "";
});
rfb.addEventListener("desktopname", (e) => { document.title = e.detail.name; });
window.vmkitRfb = rfb;
