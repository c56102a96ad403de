// The ccstore page: search, histogram, facets, groups, the job view and the live tail.
// The whole state (view, query, range, job) lives in the URL; every change pushes a
// history entry, and the back button restores the state it names.

import { AuthError, get, tail } from "./api.js";
import { Histogram, drawTimeline, levelColor } from "./chart.js";
import { VList } from "./vlist.js";

const PAGE = 1000;            // records per request
// records the live view keeps; when more arrive between two frames (faster than the
// browser can show them), the oldest are skipped: counted and said, never shown
const TAIL_MAX = 10000;
const PRESETS = { "15m": 900, "1h": 3600, "24h": 86400, "7d": 7 * 86400 };
const FIELDS = ["host", "level", "name", "kind", "cluster", "type", "type_id", "stype",
  "stype_id", "message", "_time", "job"];

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// ------------------------------------------------------------------ state <-> URL
function readState() {
  const p = new URLSearchParams(location.search);
  const view = ["search", "group", "job", "tail"].includes(p.get("view")) ? p.get("view") : "search";
  const st = { view, q: p.get("q") || "", range: p.get("range") || "", start: p.get("start") || "",
    end: p.get("end") || "", job: p.get("job") || "", cluster: p.get("cluster") || "" };
  if (!st.start && !PRESETS[st.range]) st.range = "1h";
  if (st.start) st.range = "";
  return st;
}

function stateUrl(st) {
  const p = new URLSearchParams();
  if (st.view !== "search") p.set("view", st.view);
  if (st.q) p.set("q", st.q);
  if (st.start) { p.set("start", st.start); if (st.end) p.set("end", st.end); }
  else if (st.range && st.range !== "1h") p.set("range", st.range);
  if (st.job) p.set("job", st.job);
  if (st.cluster) p.set("cluster", st.cluster);
  const s = p.toString();
  return s ? `?${s}` : location.pathname;
}

let state = readState();

function navigate(changes) {
  const next = { ...state, ...changes };
  if (changes.start !== undefined && changes.start) next.range = "";
  if (changes.range) { next.start = ""; next.end = ""; }
  state = next;
  history.pushState(null, "", stateUrl(state));
  run();
}

window.addEventListener("popstate", () => { state = readState(); run(); });

// the API's time range of the state: {start, end} strings and seconds for the chart
function bounds(st) {
  if (st.start) {
    const s = Date.parse(st.start) / 1000;
    const e = st.end ? Date.parse(st.end) / 1000 : Date.now() / 1000;
    return { start: st.start, end: st.end || undefined, s, e };
  }
  const span = PRESETS[st.range] || 3600;
  const e = Date.now() / 1000;
  return { start: `-${st.range || "1h"}`, end: undefined, s: e - span, e };
}

const iso = (s) => new Date(s * 1000).toISOString().replace(/\.000Z$/, "Z");

// ------------------------------------------------------------------ formatting
const pad = (n, w = 2) => String(n).padStart(w, "0");
function localTime(rec) {
  const ms = Math.floor(rec.ts_ns / 1e6);
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
function toLocalInput(s) {
  const d = new Date(s * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// a field:value filter in the query language (values quoted unless plain)
function filterText(field, value, exclude) {
  let f;
  if (value === null || value === "") f = exclude ? `${field}:*` : `-${field}:*`;
  else {
    const v = /^[\w.\-/@]+$/.test(value) ? value : JSON.stringify(value);
    f = `${exclude ? "-" : ""}${field}:${v}`;
  }
  return f;
}
const joinQuery = (...parts) => parts.map((p) => (p || "").trim()).filter(Boolean).join(" ");
const clusterHost = (rec) => joinQuery(rec.cluster ? filterText("cluster", rec.cluster) : "",
  rec.host ? filterText("host", rec.host) : "");

// ------------------------------------------------------------------ notices
function notice(text, kind = "error") {
  const n = $("notice");
  n.textContent = text || "";
  n.className = kind;
  n.hidden = !text;
}

function reportError(err) {
  if (err.name === "AbortError") return;
  if (err instanceof AuthError) {
    notice(`Not authorised: ${err.message}. Reload the page to enter a token.`);
  } else if (err.body && err.body.column) {
    notice(`Query error at column ${err.body.column}: ${err.message.replace(/^q: /, "")}`);
  } else {
    notice(err.message || String(err));
  }
}

// ------------------------------------------------------------------ the record list
const list = new VList($("list"), {
  rowHeight: 24,
  key: (r) => r.cursor,
  render: renderRow,
  onEnd: () => loadMore(),
});

let context = new Map(); // cursor -> {before, after} | "loading"

function renderRow(rec, i, expanded) {
  const row = el("div", "row" + (expanded ? " open" : ""));
  row.setAttribute("role", "listitem");
  row.dataset.i = i;
  const line = el("div", "line");
  const lv = el("span", "lv", rec.level || (rec.kind === "event" ? "event" : ""));
  lv.style.setProperty("--c", levelColor(rec.level || ""));
  line.append(el("span", "t", localTime(rec)), lv, el("span", "h", rec.host || ""),
    el("span", "n", rec.name), el("span", "m", rec.message));
  row.append(line);
  if (expanded) row.append(details(rec, i));
  return row;
}

function details(rec, i) {
  const box = el("div", "details");
  const dl = el("dl", "tags");
  const pairs = [["time", rec.time], ["cluster", rec.cluster], ["kind", rec.kind],
    ["host", rec.host], ["name", rec.name], ["type", rec.type], ["type_id", rec.type_id],
    ["stype", rec.stype], ["stype_id", rec.stype_id], ["level", rec.level],
    ...Object.entries(rec.tags || {})];
  for (const [k, v] of pairs) {
    if (v === null || v === undefined) continue;
    const dt = el("dt", "", k);
    const dd = el("dd");
    const add = el("button", "tagv", String(v));
    add.type = "button";
    add.title = `Add ${k}:${v} to the query`;
    const field = ["time"].includes(k) ? null : k;
    if (field) add.addEventListener("click", (e) => { e.stopPropagation(); addFilter(field, v, false); });
    else add.disabled = true;
    dd.append(add);
    dl.append(dt, dd);
  }
  box.append(dl, el("pre", "msg", rec.message));
  const actions = el("div", "actions");
  const cbtn = el("button", "ctx-btn", "Context");
  cbtn.type = "button";
  cbtn.title = "Lines just before and after on the same host (c)";
  cbtn.addEventListener("click", (e) => { e.stopPropagation(); loadContext(i); });
  actions.append(cbtn);
  const job = jobOf(rec);
  if (job) {
    const jb = el("button", "", `Job ${job.id}`);
    jb.type = "button";
    jb.addEventListener("click", (e) => { e.stopPropagation(); openJob(job.id, job.cluster); });
    actions.append(jb);
  }
  box.append(actions);
  const ctx = context.get(rec.cursor);
  if (ctx === "loading") box.append(el("div", "ctx", "Loading context…"));
  else if (ctx) {
    const c = el("div", "ctx");
    c.setAttribute("aria-label", "Context");
    const line = (r, cls) => {
      const d = el("div", "cl " + cls);
      d.append(el("span", "t", localTime(r)), el("span", "m", r.message));
      return d;
    };
    for (const r of ctx.before) c.append(line(r, "before"));
    c.append(line(rec, "self"));
    for (const r of ctx.after) c.append(line(r, "after"));
    box.append(c);
  }
  box.addEventListener("click", (e) => e.stopPropagation());
  return box;
}

function jobOf(rec) {
  if (rec.kind !== "event") return null;
  try {
    const d = JSON.parse(rec.message);
    if (d && d.jobId !== undefined) return { id: String(d.jobId), cluster: d.cluster || rec.cluster };
  } catch (_) { /* not a job */ }
  return null;
}

async function loadContext(i) {
  const rec = list.items[i];
  if (!rec) return;
  if (!list.isExpanded(i)) list.toggle(i);
  context.set(rec.cursor, "loading");
  list.refresh(i);
  const q = clusterHost(rec);
  try {
    const [before, after] = await Promise.all([
      get("search", { q, after: rec.cursor, order: "desc", limit: 5 }),
      get("search", { q, after: rec.cursor, order: "asc", limit: 5 }),
    ]);
    context.set(rec.cursor, { before: before.records.reverse(), after: after.records });
  } catch (err) {
    context.delete(rec.cursor);
    reportError(err);
  }
  const j = list.items.indexOf(rec);
  if (j >= 0) list.refresh(j);
}

$("list").addEventListener("click", (e) => {
  const row = e.target.closest(".row");
  if (!row) return;
  const i = Number(row.dataset.i);
  list.selected = i;
  list.toggle(i);
});

$("list").addEventListener("keydown", (e) => {
  if (e.target !== $("list")) return;
  const n = list.items.length;
  if (!n) return;
  const cur = list.selected < 0 ? -1 : list.selected;
  const page = Math.max(1, Math.floor($("list").clientHeight / list.rowHeight) - 1);
  const moves = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, PageDown: page, PageUp: -page };
  if (e.key in moves) { list.select(cur + moves[e.key]); e.preventDefault(); }
  else if (e.key === "Home") { list.select(0); e.preventDefault(); }
  else if (e.key === "End") { list.select(n - 1); e.preventDefault(); }
  else if (e.key === "Enter" && cur >= 0) { list.toggle(cur); e.preventDefault(); }
  else if (e.key === "c" && cur >= 0) { loadContext(cur); e.preventDefault(); }
  else if (e.key === " " && state.view === "tail") { togglePause(); e.preventDefault(); }
});

// ------------------------------------------------------------------ running a state
const hist = new Histogram($("chart"), $("legend"), (s, e) => {
  navigate({ start: iso(s), end: iso(e), range: "" });
});

let gen = 0;
let controller = null;
let next = null;       // cursor of the next page of the current search
let loadingMore = false;
let current = null;    // {q, start, end} of the list being shown
let lastFacets = {};

function effectiveQuery() {
  if (state.view === "job" && state.job) {
    const j = state.cluster ? `${state.cluster}/${state.job}` : state.job;
    return joinQuery(`job:${/^[\w.\-/]+$/.test(j) ? j : JSON.stringify(j)}`, state.q);
  }
  return state.q;
}

function syncForm() {
  $("q").value = state.q;
  const r = state.start ? "abs" : state.range || "1h";
  $("range").value = r;
  $("abs").hidden = r !== "abs";
  if (state.start) {
    $("start").value = toLocalInput(Date.parse(state.start) / 1000);
    $("end").value = state.end ? toLocalInput(Date.parse(state.end) / 1000) : "";
  }
  for (const a of document.querySelectorAll("#views a")) {
    if (a.dataset.view === state.view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("jobbar").hidden = state.view !== "job";
  $("job-id").value = state.job;
  $("job-cluster").value = state.cluster;
  $("groups").hidden = state.view !== "group";
  $("list").hidden = state.view === "group";
  $("tailbar").hidden = state.view !== "tail";
  const noChart = state.view === "tail" || (state.view === "job" && !state.job);
  $("chart").hidden = noChart;
  $("legend").hidden = noChart;
  if (noChart) $("timeline").hidden = true;
  document.body.dataset.view = state.view;
}

async function run() {
  const my = ++gen;
  document.body.dataset.loading = "1"; // until every answer of this state is in
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal;
  stopTail();
  notice("");
  syncForm();
  next = null;
  current = null;
  context = new Map();
  list.setItems([]);
  $("status").textContent = "";
  $("groups").textContent = "";
  delete $("status").dataset.total;
  if (state.view === "tail") {
    startTail();
    loadFacets(state.q, bounds({ range: "15m" }), signal, my)
      .catch((err) => { if (my === gen) reportError(err); })
      .finally(() => { if (my === gen) delete document.body.dataset.loading; });
    return;
  }
  let b = bounds(state);
  if (state.view === "job") {
    $("jobinfo").textContent = "";
    if (!state.job) {
      hist.clear(); $("facets").textContent = ""; $("job-id").focus();
      delete document.body.dataset.loading;
      return;
    }
    try {
      const job = await get(`job/${encodeURIComponent(state.job)}`, { cluster: state.cluster }, signal);
      if (my !== gen) return;
      showJob(job);
      // the job's window unless the user narrowed it
      if (!state.start) {
        b = { start: job.start, end: job.end, s: job.start_ns / 1e9, e: job.end_ns / 1e9 };
      }
    } catch (err) {
      if (my === gen) {
        hist.clear(); $("facets").textContent = ""; reportError(err);
        delete document.body.dataset.loading;
      }
      return;
    }
  }
  const q = effectiveQuery();
  const t0 = performance.now();
  const range = { start: b.start, end: b.end };
  let took = 0;
  // the answer the user waits for first; the histogram, facets and events after it,
  // so that they do not compete with it for the server
  const main = state.view === "group"
    ? get("group", { q, ...range }, signal).then((g) => {
      if (my === gen) showGroups(g.groups, performance.now() - t0);
    })
    : get("search", { q, ...range, limit: PAGE }, signal).then((res) => {
      if (my !== gen) return;
      took = performance.now() - t0;
      current = { q, ...range };
      next = res.next;
      list.setItems(res.records);
      showStatus(took);
    });
  const rest = main.then(() => my !== gen ? null : Promise.all([
    get("hits", { q, ...range, buckets: 80 }, signal).then((h) => {
      if (my !== gen) return;
      hist.draw(h);
      b.s = h.start; b.e = h.end;
      $("status").dataset.total = h.total;
      return loadEvents(state.view === "job" ? joinQuery(q, "kind:event") : "kind:event", b, signal, my);
    }),
    loadFacets(q, range, signal, my),
  ]));
  try { await Promise.all([main, rest]); } catch (err) { if (my === gen) reportError(err); }
  if (my === gen) {
    if (state.view !== "group" && current) showStatus(took);
    delete document.body.dataset.loading;
  }
}

// "N of M records" (M from the histogram, once it came), and how long the search took
function showStatus(took) {
  const n = list.items.length;
  const total = $("status").dataset.total;
  const of = total !== undefined && Number(total) > n ? ` of ${Number(total).toLocaleString()}` : "";
  const ms = took ? ` in ${Math.round(took)} ms` : "";
  const word = n === 1 && !of ? "record" : "records";
  $("status").textContent = n ? `${n.toLocaleString()}${of} ${word}, newest first${ms}` : "No records match.";
}

async function loadMore() {
  if (!next || loadingMore || !current || state.view === "tail") return;
  loadingMore = true;
  const my = gen;
  try {
    const res = await get("search", { ...current, limit: PAGE, after: next }, controller.signal);
    if (my !== gen) return;
    next = res.next;
    list.append(res.records);
    showStatus(0);
  } catch (err) {
    if (my === gen) reportError(err);
  } finally {
    loadingMore = false;
  }
}

async function loadFacets(q, range, signal, my) {
  const f = await get("facets", { q, start: range.start, end: range.end }, signal);
  if (my !== gen) return;
  lastFacets = f.facets;
  const box = $("facets");
  box.textContent = "";
  for (const [field, values] of Object.entries(f.facets)) {
    if (!values.length) continue;
    const sec = el("section", "facet");
    sec.append(el("h3", "", field));
    const ul = el("ul");
    for (const { value, count } of values) {
      const li = el("li");
      const add = el("button", "fv", value === null || value === "" ? "(none)" : value);
      add.type = "button";
      add.dataset.field = field;
      add.dataset.value = value ?? "";
      add.title = `Only ${field} = ${value ?? "(none)"}`;
      add.addEventListener("click", () => addFilter(field, value, false));
      const ex = el("button", "fx", "−");
      ex.type = "button";
      ex.title = `Exclude ${field} = ${value ?? "(none)"}`;
      ex.setAttribute("aria-label", ex.title);
      ex.addEventListener("click", () => addFilter(field, value, true));
      li.append(add, el("span", "fc", count.toLocaleString()), ex);
      ul.append(li);
    }
    sec.append(ul);
    box.append(sec);
  }
}

async function loadEvents(q, b, signal, my) {
  try {
    const res = await get("search", { q, start: iso(Math.floor(b.s)), end: iso(Math.ceil(b.e) - 1), limit: 500 }, signal);
    if (my !== gen) return;
    drawTimeline($("timeline"), res.records, b.s, b.e, (ev) => {
      const job = jobOf(ev);
      if (job) openJob(job.id, job.cluster);
      else navigate({ q: joinQuery(clusterHost(ev)), start: iso(ev.ts_ns / 1e9 - 300), end: iso(ev.ts_ns / 1e9 + 300), view: "search" });
    });
  } catch (err) {
    if (my === gen) reportError(err);
  }
}

function addFilter(field, value, exclude) {
  const f = filterText(field, value, exclude);
  const view = state.view === "tail" || state.view === "job" || state.view === "group" ? state.view : "search";
  navigate({ q: joinQuery(state.q, f), view });
}

function showGroups(groups, ms) {
  const box = $("groups");
  box.textContent = "";
  $("status").textContent = `${groups.length} message groups in ${Math.round(ms)} ms (identical messages, numbers masked)`;
  if (!groups.length) return;
  const table = el("table", "groups");
  const head = el("tr");
  for (const h of ["count", "hosts", "message", "first", "last"]) head.append(el("th", "", h));
  table.append(head);
  for (const g of groups) {
    const tr = el("tr");
    const hosts = el("button", "hl", g.hosts || "(no host)");
    hosts.type = "button";
    hosts.title = "Search these hosts";
    hosts.addEventListener("click", () => navigate({ view: "search", q: joinQuery(state.q, g.hosts ? `host:${g.hosts}` : "") }));
    const td = el("td");
    td.append(hosts);
    const msg = el("td", "tmpl", g.template);
    msg.title = g.sample;
    tr.append(el("td", "num", g.count.toLocaleString()), td, msg,
      el("td", "t", localTime({ ts_ns: g.first_ns })), el("td", "t", localTime({ ts_ns: g.last_ns })));
    table.append(tr);
  }
  box.append(table);
}

function openJob(id, cluster) {
  navigate({ view: "job", job: id, cluster: cluster || "", q: "", start: "", end: "", range: "1h" });
}

function showJob(job) {
  const box = $("jobinfo");
  box.textContent = "";
  const dl = el("dl", "jobcard");
  for (const [k, v] of [["job", job.job_id], ["cluster", job.cluster],
    ["nodes", `${job.hosts} (${job.host_count})`], ["start", localTime({ ts_ns: job.start_ns })],
    ["end", job.running ? "running" : localTime({ ts_ns: job.end_ns })]]) {
    dl.append(el("dt", "", k), el("dd", "", v));
  }
  box.append(dl);
}

// ------------------------------------------------------------------ the live tail
let tailCtl = null;
let paused = false;
let lastId = null;
let pending = [];
let skippedServer = 0;
let skippedBrowser = 0;
let received = 0;
let frame = 0;

function tailInfo(text) {
  const parts = [paused ? "Paused" : "Live", `${received.toLocaleString()} lines`];
  if (skippedServer || skippedBrowser) {
    parts.push(`skipped ${(skippedServer + skippedBrowser).toLocaleString()}` +
      (skippedServer ? ` (${skippedServer.toLocaleString()} by the server)` : ""));
  }
  if (text) parts.push(text);
  $("tailinfo").textContent = parts.join(" · ");
  $("status").textContent = "";
}

function startTail(resume = false) {
  if (!resume) { lastId = null; pending = []; skippedServer = 0; skippedBrowser = 0; received = 0; paused = false; }
  $("pause").textContent = paused ? "Resume" : "Pause";
  $("pause").setAttribute("aria-pressed", String(paused));
  tailInfo("connecting…");
  if (paused) return;
  const ctl = tailCtl = new AbortController();
  const params = { q: state.q, after: lastId || "" };
  tail(params, (event, data, id) => {
    if (ctl !== tailCtl) return;
    if (id) lastId = id;
    if (event === "open") tailInfo("");
    else if (event === "lines") { pending.push(...data); scheduleTail(); }
    else if (event === "skipped") { skippedServer += data.skipped; tailInfo(""); }
    else if (event === "error") notice(`Live tail: ${data.error}`);
  }, ctl.signal).then(() => reconnect(ctl), (err) => {
    if (err.name === "AbortError" || ctl !== tailCtl) return;
    if (err.status === 400 || err instanceof AuthError) { reportError(err); tailInfo("stopped"); return; }
    reconnect(ctl, err.message);
  });
}

function reconnect(ctl, why) {
  if (ctl !== tailCtl || paused) return;
  tailInfo(`reconnecting${why ? ` (${why})` : ""}…`);
  setTimeout(() => { if (ctl === tailCtl && !paused) startTail(true); }, 2000);
}

function stopTail() {
  if (tailCtl) { tailCtl.abort(); tailCtl = null; }
  cancelAnimationFrame(frame);
  frame = 0;
}

function scheduleTail() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (!pending.length) return;
    let take = pending;
    pending = [];
    if (take.length > TAIL_MAX) { // more than the view keeps: the newest only
      skippedBrowser += take.length - TAIL_MAX;
      take = take.slice(take.length - TAIL_MAX);
    }
    received += take.length;
    take.reverse();
    list.prepend(take, TAIL_MAX);
    tailInfo("");
    // for measurements (benchmarks/bench_ui.py): the records just shown
    document.dispatchEvent(new CustomEvent("ccstore:tail-shown", { detail: take }));
  });
}

function togglePause() {
  paused = !paused;
  if (paused) { stopTail(); startTail(true); } else startTail(true);
}

$("pause").addEventListener("click", togglePause);

// ------------------------------------------------------------------ completion
const suggest = $("suggest");
let options = [];
let active = -1;

function currentToken() {
  const input = $("q");
  const upto = input.value.slice(0, input.selectionStart);
  const m = /(^|[\s(])(-?)([^\s()]*)$/.exec(upto);
  return m ? { text: m[3], from: upto.length - m[3].length } : { text: "", from: upto.length };
}

function updateSuggest() {
  const { text } = currentToken();
  options = [];
  const colon = text.indexOf(":");
  if (colon < 0) {
    if (text.length) {
      const keys = new Set([...FIELDS, ...Object.keys(lastFacets)]);
      options = [...keys].filter((k) => k.startsWith(text.toLowerCase()) && k !== text).map((k) => `${k}:`);
    }
  } else {
    const field = text.slice(0, colon), part = text.slice(colon + 1).replace(/^"/, "");
    const values = (lastFacets[field] || []).map((v) => v.value).filter((v) => v !== null && v !== "");
    options = values.filter((v) => String(v).startsWith(part) && String(v) !== part)
      .map((v) => filterText(field, v, false));
  }
  options = options.slice(0, 12);
  active = -1;
  suggest.textContent = "";
  for (const [i, o] of options.entries()) {
    const li = el("li", "", o);
    li.setAttribute("role", "option");
    li.id = `sg-${i}`;
    li.addEventListener("mousedown", (e) => { e.preventDefault(); pick(i); });
    suggest.append(li);
  }
  suggest.hidden = !options.length;
  $("q").setAttribute("aria-expanded", String(!suggest.hidden));
}

function pick(i) {
  const input = $("q");
  const { from } = currentToken();
  const end = input.selectionStart;
  const o = options[i];
  input.value = input.value.slice(0, from) + o + (o.endsWith(":") ? "" : " ") + input.value.slice(end);
  const pos = from + o.length + (o.endsWith(":") ? 0 : 1);
  input.setSelectionRange(pos, pos);
  input.focus();
  updateSuggest();
}

function highlight(i) {
  active = i;
  for (const [j, li] of [...suggest.children].entries()) li.setAttribute("aria-selected", String(j === i));
  $("q").setAttribute("aria-activedescendant", i >= 0 ? `sg-${i}` : "");
}

$("q").addEventListener("input", updateSuggest);
$("q").addEventListener("blur", () => { suggest.hidden = true; });
$("q").addEventListener("keydown", (e) => {
  if (suggest.hidden) {
    if (e.key === "Escape") $("q").blur();
    return;
  }
  if (e.key === "ArrowDown") { highlight((active + 1) % options.length); e.preventDefault(); }
  else if (e.key === "ArrowUp") { highlight((active - 1 + options.length) % options.length); e.preventDefault(); }
  else if ((e.key === "Tab" || e.key === "Enter") && active >= 0) { pick(active); e.preventDefault(); }
  else if (e.key === "Escape") { suggest.hidden = true; e.preventDefault(); }
});

// ------------------------------------------------------------------ the form and keys
$("search").addEventListener("submit", (e) => {
  e.preventDefault();
  suggest.hidden = true;
  const r = $("range").value;
  const changes = { q: $("q").value.trim() };
  if (r === "abs") {
    const s = $("start").value, en = $("end").value;
    if (!s) { notice("Give the start of the range (and optionally its end)."); return; }
    changes.start = new Date(s).toISOString();
    changes.end = en ? new Date(en).toISOString() : "";
    changes.range = "";
  } else {
    changes.range = r;
  }
  navigate(changes);
});

$("range").addEventListener("change", () => {
  const r = $("range").value;
  $("abs").hidden = r !== "abs";
  if (r === "abs") {
    const b = bounds(state);
    $("start").value = toLocalInput(b.s);
    $("end").value = toLocalInput(b.e);
    $("start").focus();
  } else {
    navigate({ range: r, q: $("q").value.trim() });
  }
});

$("jobbar").addEventListener("submit", (e) => {
  e.preventDefault();
  navigate({ view: "job", job: $("job-id").value.trim(), cluster: $("job-cluster").value.trim(), start: "", end: "", range: "1h" });
});

for (const a of document.querySelectorAll("#views a")) {
  a.addEventListener("click", (e) => {
    e.preventDefault();
    navigate({ view: a.dataset.view, q: $("q").value.trim() });
  });
}

$("help-btn").addEventListener("click", () => {
  const h = $("help");
  h.hidden = !h.hidden;
  $("help-btn").setAttribute("aria-expanded", String(!h.hidden));
});

$("facets-toggle").addEventListener("click", () => {
  const open = document.body.classList.toggle("facets-open");
  $("facets-toggle").setAttribute("aria-expanded", String(open));
});

document.addEventListener("keydown", (e) => {
  const t = e.target;
  const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
  if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
    e.preventDefault();
    $("q").focus();
    $("q").select();
  }
});

run();
