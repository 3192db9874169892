// The operator's page, served at statusPath to a browser (Accept: text/html). It carries no data
// and needs no secret to load: it asks for the status token once, keeps it in sessionStorage, and
// polls the JSON status every 2 s. No external assets; its script and style run under a nonce
// that changes with every response (Content-Security-Policy).

/** Marker replaced by the response's nonce. */
const NONCE = "__NONCE__";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ai-token-failover</title>
<style nonce="__NONCE__">
[hidden]{display:none!important}
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px;background:#f6f7f9;color:#1d2330}
h1{font-size:18px;margin:0 0 8px}
.bar{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin-bottom:10px}
.card{background:#fff;border-radius:8px;padding:10px;box-shadow:0 1px 2px #0002;margin-bottom:12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e4e7ec;white-space:nowrap}
th{font-weight:600;color:#555}
@media (max-width:760px){thead{display:none}table,tbody,tr,td{display:block}tr{border-bottom:1px solid #e4e7ec;padding:6px 0}
td{border:0;padding:1px 4px;white-space:normal}td:empty{display:none}td[data-label]::before{content:attr(data-label) ": ";color:#777}}
.state{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff}
.in{background:#1f9d55}.probing{background:#d64545}.dead{background:#6b1d1d}.waiting{background:#d99a00}.limited{background:#6b5bd6}.suspect{background:#c7661c}
#error{color:#b42318;font-weight:600}
#provider{background:#fdecea;border:1px solid #d64545;color:#7a1d1d;padding:8px 12px;border-radius:6px;font-weight:600}
form{display:flex;gap:8px;flex-wrap:wrap}
input{padding:6px;min-width:220px}
button{padding:6px 12px}
svg{width:100%;height:120px;background:#fff}
svg text{font-size:8px;fill:#555}
.muted{color:#777}
</style></head><body>
<h1>ai-token-failover</h1>
<form id="login"><input id="token" type="password" autocomplete="off" placeholder="status token" aria-label="status token"><button type="submit">Show keys</button></form>
<p id="error" role="alert"></p>
<div id="view" hidden>
<div class="bar"><span id="summary"></span><span class="muted" id="lease"></span><span class="muted" id="updated"></span><button id="logout" type="button">Forget token</button></div>
<p id="provider" role="status" hidden></p>
<p class="muted" id="pools" hidden></p>
<p class="muted" id="queue" hidden></p>
<div class="card"><div class="muted">keys in the pool (since this page opened, up to 10 minutes)</div>
<svg id="chart" viewBox="0 0 320 100" role="img" aria-label="keys in the pool over time">
<line class="axis" x1="30" y1="8" x2="30" y2="82" stroke="#999"/><line class="axis" x1="30" y1="82" x2="316" y2="82" stroke="#999"/>
<text id="ymax" x="26" y="11" text-anchor="end"></text><text id="ymin" x="26" y="84" text-anchor="end">0</text>
<text id="xfrom" x="30" y="96"></text><text id="xto" x="316" y="96" text-anchor="end">now</text>
<polyline id="line" fill="none" stroke="#1f9d55" stroke-width="1.5" points=""/></svg></div>
<div class="card"><table><thead><tr id="head"></tr></thead><tbody id="keys"></tbody></table></div>
</div>
<script nonce="__NONCE__">
(function () {
  var KEY = "ai-token-failover-status-token";
  var history = [];
  var timer = null;
  var $ = function (id) { return document.getElementById(id); };
  function secs(ms) { return ms > 0 ? (ms / 1000).toFixed(1) + " s" : ""; }
  // The column heads, and each cell's label when a phone shows a key as a card.
  var LABELS = ["key", "state", "requests, last min", "failed, last min", "consecutive failures", "last failure", "out for", "back in", "probe ok", "tier", "weight", "share", "budget left"];
  LABELS.forEach(function (label) { var th = document.createElement("th"); th.textContent = label; $("head").appendChild(th); });
  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    td.setAttribute("data-label", LABELS[row.children.length]);
    row.appendChild(td);
    return td;
  }
  function ago(ms) { var s = Math.round(ms / 1000); return s < 90 ? "-" + s + " s" : "-" + Math.round(s / 60) + " min"; }
  function prober(doc) {
    if (doc.replicas && doc.replicas.link === "up" && !doc.replicas.proberHere) return "keys out of the pool are probed by another gateway replica";
    if (!doc.lease) return "no worker probes yet";
    return doc.lease.heldByThisVm ? "keys out of the pool are probed by the worker that answered" : "keys out of the pool are probed by another worker of this gateway";
  }
  function showError(text) { $("error").textContent = text; }
  function render(doc) {
    $("view").hidden = false;
    $("login").hidden = true;
    showError("");
    var pools = doc.pools || [];
    $("pools").hidden = pools.length < 2;
    $("pools").textContent = pools.length < 2 ? "" : "Pools: " + pools.map(function (q) {
      return (q.thisDocument ? "▸ " : "") + q.pool + (q.rule === null ? "" : " (rule " + q.rule + ")") + " " + q.tokensInPool + "/" + q.tokensConfigured + " in" +
        (q.providerState !== "ok" ? ", provider " + q.providerState : "");
    }).join(" · ") + ". This page shows the pool of the route it was opened on.";
    var p = doc.provider || {};
    $("provider").hidden = !p.state || p.state === "ok";
    $("provider").textContent = p.state && p.state !== "ok" ? "Provider " + p.state + " for " + ago(Math.max(0, Date.now() - p.since)).slice(1) +
      ": " + p.reason + ". The gateway paces it and answers the other clients itself." : "";
    $("summary").textContent = doc.tokensInPool + " of " + doc.tokensConfigured + " keys in the pool";
    $("lease").textContent = prober(doc);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    var q = doc.queue;
    $("queue").hidden = !q;
    if (q) {
      var w = q.waiting;
      $("queue").textContent = "queue: " + (w.urgent + w.high + w.normal + w.low) + " of " + q.maxWaiting + " waiting (urgent " + w.urgent +
        ", high " + w.high + ", normal " + w.normal + ", low " + w.low + ")" + (q.oldestWaitMs > 0 ? ", oldest " + secs(q.oldestWaitMs) : "");
    }
    var body = $("keys");
    body.textContent = "";
    doc.tokens.forEach(function (t) {
      var row = document.createElement("tr");
      row.setAttribute("data-key", t.fingerprint);
      cell(row, t.fingerprint);
      var state = t.state || "in";
      var badge = document.createElement("span");
      badge.className = "state " + state;
      badge.textContent = state;
      cell(row, "").appendChild(badge);
      var requests = t.requestsLastMinute || 0, failed = t.failuresLastMinute || 0;
      cell(row, String(requests));
      cell(row, failed > 0 ? failed + (requests > 0 ? " (" + Math.round(100 * Math.min(failed, requests) / requests) + "%)" : "") : "0");
      cell(row, String(t.consecutiveFailures || 0));
      // A key that works again has no current failure to show: its last one is history.
      cell(row, t.lastStatus && (t.consecutiveFailures > 0 || !t.inPool) ? String(t.lastStatus) : "");
      cell(row, secs(t.outForMs));
      cell(row, secs(t.returnsInMs || t.limitedForMs));
      cell(row, String(t.probeSuccesses || 0));
      cell(row, String(t.tier || 0));
      cell(row, String(t.weight));
      cell(row, Math.round((t.rateShare || 1) * 100) + "%");
      var b = t.budgetLeft;
      cell(row, b ? [b.requests !== null ? b.requests + " req" : "", b.tokens !== null ? b.tokens + " tok" : "",
        b.requestsToday != null ? b.requestsToday + " req today" : "", b.tokensToday != null ? b.tokensToday + " tok today" : ""].join(" ").trim() : "");
      body.appendChild(row);
    });
    history.push({ at: Date.now(), n: doc.tokensInPool, max: doc.tokensConfigured });
    var now = Date.now();
    history = history.filter(function (p) { return p.at >= now - 10 * 60 * 1000; });
    // The chart spans what the page has seen, up to 10 minutes: a step line (a key leaving is a
    // drop at its time), the count of configured keys at the top of the axis.
    var from = history[0].at, span = Math.max(now - from, 1);
    var max = Math.max.apply(null, history.map(function (p) { return p.max; }).concat([1]));
    var x = function (at) { return (30 + 286 * (at - from) / span).toFixed(1); };
    var y = function (n) { return (82 - 72 * n / max).toFixed(1); };
    var points = [];
    history.forEach(function (p, i) {
      if (i > 0) points.push(x(p.at) + "," + y(history[i - 1].n));
      points.push(x(p.at) + "," + y(p.n));
    });
    $("line").setAttribute("points", points.join(" "));
    $("ymax").textContent = String(max);
    $("xfrom").textContent = ago(now - from);
  }
  function poll() {
    var token = sessionStorage.getItem(KEY);
    if (!token) return;
    fetch(location.pathname, { headers: { "Authorization": "Bearer " + token, "Accept": "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { stop(); sessionStorage.removeItem(KEY); showError("Wrong status token."); $("login").hidden = false; $("view").hidden = true; return null; }
        if (!r.ok) { showError("Status request failed: HTTP " + r.status); return null; }
        return r.json();
      })
      .then(function (doc) { if (doc) render(doc); })
      .catch(function (e) { showError("Status request failed: " + e.message); });
  }
  function start() { stop(); poll(); timer = setInterval(poll, 2000); }
  function stop() { if (timer) clearInterval(timer); timer = null; }
  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    var t = $("token").value.trim();
    if (!t) return;
    sessionStorage.setItem(KEY, t);
    $("token").value = "";
    start();
  });
  $("logout").addEventListener("click", function () { stop(); sessionStorage.removeItem(KEY); history = []; $("view").hidden = true; $("login").hidden = false; });
  if (sessionStorage.getItem(KEY)) start();
})();
</script>
</body></html>
`;

/** The page with `nonce` in its script and style tags. */
export function dashboardPage(nonce: string): string {
  return PAGE.replaceAll(NONCE, nonce);
}

/** The Content-Security-Policy the page is sent with: only its own nonce'd script and style, fetches to this origin. */
export function dashboardPolicy(nonce: string): string {
  return "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce +
    "'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

/** Whether an Accept header asks for a page rather than JSON. */
export function wantsPage(accept: string | null): bool {
  return accept != null && accept.includes("text/html");
}
