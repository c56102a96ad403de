// The histogram (uPlot, bars stacked by level; drag to zoom, click a bar to narrow)
// and the events timeline under it (one mark per event on the same time axis).

const LEVEL_ORDER = ["emerg", "alert", "crit", "critical", "fatal", "err", "error", "warn",
  "warning", "notice", "info", "debug", "trace"];
const COLORS = {
  emerg: "#7a0019", alert: "#9b0020", crit: "#b3001b", critical: "#b3001b", fatal: "#b3001b",
  err: "#d62728", error: "#d62728", warn: "#ff9f1c", warning: "#ff9f1c", notice: "#2ca58d",
  info: "#3a86ff", debug: "#8d99ae", trace: "#adb5bd", "": "#6c757d",
};
const FALLBACK = ["#8338ec", "#06d6a0", "#ef476f", "#118ab2", "#ffd166"];

export function levelColor(level, i = 0) {
  const l = (level || "").toLowerCase();
  return COLORS[l] || FALLBACK[i % FALLBACK.length];
}

function rank(level) {
  const i = LEVEL_ORDER.indexOf((level || "").toLowerCase());
  return i < 0 ? LEVEL_ORDER.length + (level ? 0 : 1) : i;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class Histogram {
  // onRange(startS, endS): the user dragged over or clicked the chart
  constructor(el, legendEl, onRange) {
    this.el = el;
    this.legendEl = legendEl;
    this.onRange = onRange;
    this.plot = null;
    this.hits = null;
    new ResizeObserver(() => {
      if (this.plot && this.el.clientWidth) {
        this.plot.setSize({ width: this.el.clientWidth, height: this.height() });
      }
    }).observe(el);
  }

  height() { return window.innerWidth < 600 ? 110 : 150; }

  clear() {
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    this.el.textContent = "";
    this.legendEl.textContent = "";
  }

  draw(hits) {
    this.clear();
    this.hits = hits;
    if (!window.uPlot || !hits.buckets.length) return;
    const levels = new Set();
    for (const b of hits.buckets) for (const k of Object.keys(b.counts)) levels.add(k);
    // most severe at the bottom of each bar
    const order = [...levels].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const xs = hits.buckets.map((b) => b.start);
    const totals = {};
    const stacked = [];
    const acc = new Array(xs.length).fill(0);
    for (const lv of order) {
      totals[lv] = 0;
      hits.buckets.forEach((b, i) => { const n = b.counts[lv] || 0; acc[i] += n; totals[lv] += n; });
      stacked.push(acc.slice());
    }
    // the tallest stack first, each lower one painted over it
    const series = [{}];
    const data = [xs];
    const bars = uPlot.paths.bars({ size: [0.92, 64], align: 1 });
    for (let i = order.length - 1; i >= 0; i--) {
      const c = levelColor(order[i], i);
      series.push({ label: order[i] || "(none)", fill: c, stroke: c, width: 0, paths: bars,
        points: { show: false } });
      data.push(stacked[i]);
    }
    const fg = cssVar("--muted") || "#888";
    const grid = cssVar("--grid") || "#8884";
    const interval = hits.interval_s;
    const opts = {
      width: this.el.clientWidth || 800,
      height: this.height(),
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      select: { show: true },
      scales: { x: { time: true, range: () => [hits.start, hits.end] },
        y: { range: (u, lo, hi) => [0, Math.max(1, hi)] } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, space: 70 },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 44 },
      ],
      series,
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 3) return;
          const a = u.posToVal(u.select.left, "x");
          const b = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          this.onRange(Math.floor(a), Math.ceil(b));
        }],
      },
    };
    this.plot = new uPlot(opts, data, this.el);
    const over = this.plot.over;
    let downX = null;
    over.addEventListener("mousedown", (e) => { downX = e.clientX; });
    over.addEventListener("click", (e) => {
      if (downX === null || Math.abs(e.clientX - downX) > 3) return;
      const t = this.plot.posToVal(e.offsetX, "x");
      const i = Math.floor((t - hits.buckets[0].start) / interval);
      if (i < 0 || i >= hits.buckets.length) return;
      const s = hits.buckets[i].start;
      this.onRange(s, s + interval);
    });
    this.legendEl.textContent = "";
    for (let i = 0; i < order.length; i++) {
      const item = document.createElement("span");
      item.className = "lg";
      const sw = document.createElement("i");
      sw.style.background = levelColor(order[i], i);
      item.append(sw, `${order[i] || "(no level)"} ${totals[order[i]].toLocaleString()}`);
      this.legendEl.append(item);
    }
  }
}

// Events on a strip: `events` are records; `onPick(record)` when one is chosen.
export function drawTimeline(el, events, startS, endS, onPick) {
  el.textContent = "";
  if (!events.length || !(endS > startS)) { el.hidden = true; return; }
  el.hidden = false;
  const span = endS - startS;
  const label = document.createElement("span");
  label.className = "tl-label";
  label.textContent = `${events.length} event${events.length === 1 ? "" : "s"}`;
  el.append(label);
  for (const ev of events) {
    const t = ev.ts_ns / 1e9;
    if (t < startS || t > endS) continue;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "tl-mark";
    b.style.left = `${((t - startS) / span) * 100}%`;
    const fn = (ev.tags && ev.tags.function) || ev.name;
    b.dataset.name = fn;
    b.title = `${new Date(ev.ts_ns / 1e6).toLocaleString()} ${fn} ${ev.host || ""}`;
    b.setAttribute("aria-label", b.title);
    b.addEventListener("click", () => onPick(ev));
    el.append(b);
  }
}
