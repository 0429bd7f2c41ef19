// CacheCluster dashboard: one server-sent-event stream per tab (/ui/api/events, read with fetch so it can carry
// the bearer token), actions through /ui/api/<method> (the management API as JSON). No build step.
"use strict";

const HISTORY = 600; // samples kept in the charts: ten minutes at one a second
const OUTCOMES = ["hit", "miss", "stale", "revalidated", "collapsed", "pass", "denied", "error"];
const COLORS = { hit: "#1e8449", miss: "#e67e22", stale: "#a3e4d7", revalidated: "#48c9b0", collapsed: "#8e44ad",
  pass: "#7f8c8d", denied: "#c0392b", error: "#641e16" };
const NODE_COLORS = ["#2a6fdb", "#16a085", "#d35400", "#8e44ad", "#c0392b", "#2c3e50", "#f39c12", "#27ae60"];

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("cachecluster.token") || "", abort: null, samples: 0, charts: {}, data: {}, lastCpu: {} };
window.dashboardState = state; // read by the browser tests

// ---- formatting ------------------------------------------------------------------------------------------
function bytes(n) {
  n = Number(n) || 0;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}
const pct = (x) => (x == null ? "–" : (x * 100).toFixed(1) + " %");
const num = (x, d = 0) => (x == null ? "–" : Number(x).toLocaleString("en", { maximumFractionDigits: d }));
function duration(s) {
  s = Number(s);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}
function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

// ---- API ---------------------------------------------------------------------------------------------------
function headers() {
  const h = { "Content-Type": "application/json" };
  if (state.token) h.Authorization = "Bearer " + state.token;
  return h;
}

async function api(method, body) {
  const r = await fetch("api/" + method, { method: "POST", headers: headers(), body: JSON.stringify(body || {}) });
  const json = await r.json().catch(() => ({ error: r.status + " " + r.statusText }));
  if (r.status === 401) showLogin(json.error);
  if (!r.ok) throw new Error(json.error || r.status + " " + r.statusText);
  return json;
}

// ---- live feed ---------------------------------------------------------------------------------------------
async function connect() {
  if (state.abort) state.abort.abort();
  const abort = new AbortController();
  state.abort = abort;
  let delay = 1000;
  while (!abort.signal.aborted) {
    try {
      const r = await fetch("api/events", { headers: headers(), signal: abort.signal });
      if (r.status === 401) {
        const j = await r.json().catch(() => ({}));
        showLogin(j.error || "the management token is wrong");
        return;
      }
      if (!r.ok) throw new Error(r.status + " " + r.statusText);
      showDashboard();
      setConnection("live", true);
      delay = 1000;
      await readEvents(r.body.getReader(), abort.signal);
    } catch (e) {
      if (abort.signal.aborted) return;
      setConnection("disconnected (" + e.message + "); retrying", false);
    }
    await new Promise((res) => setTimeout(res, delay));
    delay = Math.min(delay * 2, 15000);
  }
}

async function readEvents(reader, signal) {
  const decoder = new TextDecoder();
  let buffer = "";
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended");
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (event === "history") JSON.parse(data).forEach((s) => addSample(s, false));
      else if (event === "sample") addSample(JSON.parse(data), true);
      if (event === "history") redrawCharts();
    }
  }
}

function setConnection(text, live) {
  const el = $("connection");
  el.textContent = text;
  el.className = "status" + (live ? " live" : "");
}

// ---- samples -----------------------------------------------------------------------------------------------
function addSample(s, redraw) {
  const c = s.cluster;
  const t = s.t / 1000;
  const d = state.data;
  const push = (key, v) => { (d[key] ||= []).push(v == null ? null : v); if (d[key].length > HISTORY) d[key].shift(); };
  // A pause in sampling (nobody was watching): a gap in the lines, not a straight line across it.
  if (d.t && d.t.length && t - d.t[d.t.length - 1] > 3) {
    for (const key of Object.keys(d)) push(key, key === "t" ? d.t[d.t.length - 1] + 1 : null);
  }
  push("t", t);
  OUTCOMES.forEach((o) => push(o, c[o]));
  push("hitRatio", c.hitRatio == null ? null : c.hitRatio * 100);
  push("byteHitRatio", c.byteHitRatio == null ? null : c.byteHitRatio * 100);
  push("toClients", c.bytesToClients);
  push("fromOrigins", c.bytesFromOrigins);
  push("p50", c.originLatencyP50Ms);
  push("p99", c.originLatencyP99Ms);
  push("mean", c.originLatencyMeanMs);
  push("clientP50", c.clientLatencyP50Ms);
  push("clientP99", c.clientLatencyP99Ms);
  push("storeBytes", s.storeBytes);
  push("evictions", c.evictions);
  state.samples++;
  state.last = s;
  if (s.top) renderTop(s.top);
  if (s.denials) renderDenials(s.denials);
  if (redraw) { redrawCharts(); renderNodes(s); }
  else renderNodes(s);
}

function renderNodes(s) {
  const tbody = $("nodes").querySelector("tbody");
  tbody.replaceChildren();
  const totalReq = s.nodes.reduce((a, n) => a + n.requestsPerSecond, 0);
  $("summary").textContent = `${s.nodes.length} node(s) · ${num(totalReq, 1)} req/s · ${num(s.entries)} entries · ${bytes(s.storeBytes)}`
    + (s.cluster.hitRatio == null ? "" : ` · hit ratio ${pct(s.cluster.hitRatio)}`);
  const keyspace = $("keyspace");
  keyspace.replaceChildren();
  s.nodes.forEach((n, i) => {
    const tr = document.createElement("tr");
    tr.dataset.node = n.name;
    cell(tr, n.name);
    const st = cell(tr, n.state, "state-" + n.state);
    st.title = n.error || "";
    // Upstream:Parents: how many of this node's parent proxies are up (the down ones named on hover).
    const parents = (n.parentsUp || []).length + (n.parentsDown || []).length;
    if (parents > 0) {
      const p = document.createElement("span");
      p.className = n.parentsDown.length ? "state-Unreachable" : "state-Active";
      p.textContent = ` · parents ${n.parentsUp.length}/${parents} up`;
      p.title = n.parentsDown.length ? "down: " + n.parentsDown.join(", ") : "";
      st.append(p);
    }
    cell(tr, n.state === "Unreachable" ? "–" : duration(n.uptimeSeconds));
    cell(tr, n.version);
    cell(tr, num(n.entries), "n");
    cell(tr, bytes(n.storeBytes), "n");
    cell(tr, pct(n.hitRatio), "n");
    cell(tr, num(n.requestsPerSecond, 1), "n");
    const prev = state.lastCpu[n.name];
    const cpu = prev && s.t > prev.t ? Math.max(0, (n.cpuSeconds - prev.cpu) / ((s.t - prev.t) / 1000)) : null;
    state.lastCpu[n.name] = { t: s.t, cpu: n.cpuSeconds };
    cell(tr, cpu == null ? "–" : (cpu * 100).toFixed(0) + " %", "n");
    cell(tr, n.rssBytes ? bytes(n.rssBytes) : "–", "n");
    cell(tr, pct(n.keySpaceShare), "n");
    const td = cell(tr, "");
    if (n.state === "Active") {
      const b = document.createElement("button");
      b.textContent = "Drain…";
      b.className = "danger";
      b.addEventListener("click", () => drain(n.name));
      td.appendChild(b);
    }
    tbody.appendChild(tr);
    if (n.keySpaceShare > 0) {
      const seg = document.createElement("div");
      seg.style.width = (n.keySpaceShare * 100).toFixed(2) + "%";
      seg.style.background = NODE_COLORS[i % NODE_COLORS.length];
      seg.textContent = `${n.name} ${pct(n.keySpaceShare)}`;
      keyspace.appendChild(seg);
    }
  });
}

function renderTop(top) {
  for (const [id, items] of [["top-urls", top.urls], ["top-hosts", top.hosts]]) {
    const tbody = $(id).querySelector("tbody");
    tbody.replaceChildren();
    for (const i of items) {
      const tr = document.createElement("tr");
      cell(tr, i.key).title = i.key;
      cell(tr, num(i.requests), "n");
      cell(tr, i.requests > 0 ? pct(i.hits / i.requests) : "–", "n");
      cell(tr, bytes(i.bytes), "n");
      tbody.appendChild(tr);
    }
  }
}

function renderDenials(denials) {
  const tbody = $("denials").querySelector("tbody");
  tbody.replaceChildren();
  for (const d of denials) {
    const tr = document.createElement("tr");
    cell(tr, new Date(d.t).toLocaleTimeString());
    cell(tr, d.node);
    cell(tr, d.client);
    // An access rule names itself; other refusals say their reason (auth, rate, guard, connect-port).
    cell(tr, d.rule ? `rule ${d.rule}` : d.reason);
    cell(tr, d.url).title = d.url;
    tbody.appendChild(tr);
  }
}

// ---- charts (uPlot) ----------------------------------------------------------------------------------------
function makeChart(id, series, axes) {
  const el = $(id);
  const opts = {
    width: Math.max(300, el.clientWidth || 500), height: 220,
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, scale: s.scale || "y", spanGaps: false }))],
    axes: [{}, ...axes],
    scales: { x: { time: true }, pct: { range: [0, 100] } },
    legend: { live: true },
  };
  const chart = new uPlot(opts, [[], ...series.map(() => [])], el);
  chart.keys = series.map((s) => s.key);
  return chart;
}

function initCharts() {
  const rate = { values: (u, v) => v.map((x) => num(x, 1)) };
  state.charts.requests = makeChart("chart-requests", OUTCOMES.map((o) => ({ key: o, label: o, color: COLORS[o] })), [rate]);
  state.charts.ratio = makeChart("chart-ratio", [
    { key: "hitRatio", label: "hit ratio %", color: "#1e8449", scale: "pct" },
    { key: "byteHitRatio", label: "byte hit ratio %", color: "#2a6fdb", scale: "pct" }], [{ scale: "pct", values: (u, v) => v.map((x) => x + " %"), size: 60 }]);
  const perSecond = { values: (u, v) => v.map((x) => bytes(x) + "/s"), size: 95 };
  state.charts.bandwidth = makeChart("chart-bandwidth", [
    { key: "toClients", label: "to clients", color: "#2a6fdb" },
    { key: "fromOrigins", label: "from origins", color: "#e67e22" }], [perSecond]);
  state.charts.latency = makeChart("chart-latency", [
    { key: "p50", label: "p50 ms", color: "#2a6fdb" },
    { key: "p99", label: "p99 ms", color: "#c0392b" },
    { key: "mean", label: "mean ms", color: "#7f8c8d" }], [{ values: (u, v) => v.map((x) => x + " ms"), size: 70 }]);
  state.charts.clientLatency = makeChart("chart-client-latency", [
    { key: "clientP50", label: "p50 ms", color: "#2a6fdb" },
    { key: "clientP99", label: "p99 ms", color: "#c0392b" }], [{ values: (u, v) => v.map((x) => x + " ms"), size: 70 }]);
  state.charts.store = makeChart("chart-store", [
    { key: "storeBytes", label: "store bytes", color: "#2a6fdb" },
    { key: "evictions", label: "evictions/s", color: "#c0392b", scale: "ev" }],
    [{ values: (u, v) => v.map(bytes), size: 80 }, { scale: "ev", side: 1, grid: { show: false } }]);
  window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.setSize({ width: c.root.parentElement.clientWidth - 4, height: 220 })));
}

function redrawCharts() {
  const d = state.data;
  for (const chart of Object.values(state.charts)) chart.setData([d.t || [], ...chart.keys.map((k) => d[k] || [])]);
}

// ---- actions -----------------------------------------------------------------------------------------------
function confirmAction(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function result(id, text, ok) {
  const out = $(id);
  out.textContent = text;
  out.className = ok ? "ok" : "error";
}

async function purge(ev) {
  ev.preventDefault();
  const kind = $("purge-kind").value, value = $("purge-value").value.trim();
  const label = $("purge-kind").selectedOptions[0].textContent;
  if (!await confirmAction(`Purge every entry matching ${label} "${value}" from every node?`)) return;
  try {
    const r = await api("Purge", { [kind]: value });
    const per = (r.nodes || []).map((n) => `${n.node}: ${n.error ? "error " + n.error : n.purged}`).join(", ");
    result("purge-result", `purged ${r.purged} entr${r.purged == 1 ? "y" : "ies"}` + (per ? ` (${per})` : ""), true);
  } catch (e) { result("purge-result", e.message, false); }
}

async function inspect(ev) {
  ev.preventDefault();
  const out = $("inspect-result");
  try {
    const r = await api("Inspect", { url: $("inspect-url").value.trim() });
    out.className = "ok";
    out.replaceChildren();
    const head = document.createElement("div");
    head.textContent = `key ${r.cacheKey} · owner ${r.owner} · ${r.variants.length} variant(s)`;
    out.appendChild(head);
    const table = document.createElement("table");
    const hr = document.createElement("tr");
    ["status", "bytes", "age", "fresh for", "hits", "owner", "etag"].forEach((h) => { const th = document.createElement("th"); th.textContent = h; hr.appendChild(th); });
    table.appendChild(hr);
    for (const v of r.variants) {
      const tr = document.createElement("tr");
      [v.status, bytes(v.bodyBytes), v.ageSeconds + " s", v.freshnessLeftSeconds + " s", v.hits, v.owner, v.etag || "–"].forEach((x) => cell(tr, String(x)));
      table.appendChild(tr);
    }
    out.appendChild(table);
  } catch (e) { result("inspect-result", e.message, false); }
}

async function drain(node) {
  if (!await confirmAction(`Drain ${node}? It finishes in-flight requests, checkpoints its store and stops; its keys move to the other nodes.`)) return;
  try {
    const r = await api("Drain", { node });
    alertResult(r.message);
  } catch (e) { alertResult(e.message); }
}

function alertResult(text) { $("summary").textContent = text; }

async function loadPolicy() {
  try {
    const p = await api("GetPolicy");
    $("policy-refresh").value = (p.refreshRules || []).join("\n");
    $("policy-access").value = (p.accessRules || []).join("\n");
    $("policy-version").textContent = "(version " + p.version + ")";
  } catch (e) { result("policy-result", e.message, false); }
}

async function applyPolicy(ev) {
  ev.preventDefault();
  const lines = (id) => $(id).value.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const policy = { refreshRules: lines("policy-refresh"), accessRules: lines("policy-access") };
  if (!await confirmAction(`Replace the runtime policy on every node (${policy.refreshRules.length} refresh rule(s), ${policy.accessRules.length} access rule(s))? It is not persisted: a whole-cluster restart goes back to the configuration.`)) return;
  try {
    const r = await api("SetPolicy", { policy });
    result("policy-result", `applied on ${r.nodes.join(", ")}; version ${r.policy.version}`, true);
    $("policy-version").textContent = "(version " + r.policy.version + ")";
  } catch (e) { result("policy-result", e.message, false); }
}

// ---- login -------------------------------------------------------------------------------------------------
function showLogin(error) {
  if (state.abort) state.abort.abort();
  $("dashboard").hidden = true;
  $("login").hidden = false;
  $("logout").hidden = true;
  $("login-error").textContent = error || "";
  setConnection("not connected", false);
}

function showDashboard() {
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("logout").hidden = !state.token;
  if (!state.charts.requests) { initCharts(); loadPolicy(); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("cachecluster.token", state.token);
    $("login-error").textContent = "";
    connect();
  });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem("cachecluster.token"); state.token = ""; showLogin(""); });
  $("purge-form").addEventListener("submit", purge);
  $("inspect-form").addEventListener("submit", inspect);
  $("policy-form").addEventListener("submit", applyPolicy);
  $("policy-load").addEventListener("click", loadPolicy);
  connect();
});
