// A virtualised list: only the rows in (and near) view are in the DOM, so tens of
// thousands of records scroll smoothly.  Rows have one height, an expanded row the
// height it measures; offsets are prefix sums, the first row in view a binary search.

const OVERSCAN = 12;

export class VList {
  // render(item, index, expanded) -> element; key(item) -> stable string
  constructor(el, { rowHeight, render, key, onEnd }) {
    this.el = el;
    this.rowHeight = rowHeight;
    this.render = render;
    this.key = key;
    this.onEnd = onEnd || (() => {});
    this.items = [];
    this.expanded = new Map(); // key -> measured height (0 until measured)
    this.selected = -1;
    this.offsets = null;
    this.spacer = document.createElement("div");
    this.spacer.className = "vspacer";
    el.appendChild(this.spacer);
    this.rows = new Map(); // index -> element in the DOM
    this.pending = false;
    el.addEventListener("scroll", () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(el);
  }

  setItems(items) {
    this.items = items;
    this.expanded.clear();
    this.selected = -1;
    this.offsets = null;
    this.clearRows();
    this.el.scrollTop = 0;
    this.schedule();
  }

  append(items) {
    this.items = this.items.concat(items);
    this.offsets = null;
    this.schedule();
  }

  // new items at the top (the live tail, newest first); keeps at most `max`
  prepend(items, max) {
    const all = items.concat(this.items);
    const dropped = Math.max(0, all.length - max);
    this.items = dropped ? all.slice(0, max) : all;
    if (this.selected >= 0) this.selected = Math.min(this.selected + items.length, this.items.length - 1);
    this.offsets = null;
    this.clearRows();
    this.schedule();
    return dropped;
  }

  clearRows() {
    for (const r of this.rows.values()) r.remove();
    this.rows.clear();
  }

  toggle(i) {
    const k = this.key(this.items[i]);
    if (this.expanded.has(k)) this.expanded.delete(k);
    else this.expanded.set(k, 0);
    this.refresh(i);
  }

  isExpanded(i) { return this.expanded.has(this.key(this.items[i])); }

  // re-render row i (its content changed)
  refresh(i) {
    const r = this.rows.get(i);
    if (r) { r.remove(); this.rows.delete(i); }
    this.offsets = null;
    this.schedule();
  }

  select(i) {
    if (!this.items.length) return;
    i = Math.max(0, Math.min(this.items.length - 1, i));
    const old = this.rows.get(this.selected);
    if (old) old.classList.remove("sel");
    this.selected = i;
    this.computeOffsets();
    const top = this.offsets[i], bottom = this.offsets[i + 1];
    if (top < this.el.scrollTop) this.el.scrollTop = top;
    else if (bottom > this.el.scrollTop + this.el.clientHeight) {
      this.el.scrollTop = bottom - this.el.clientHeight;
    }
    this.draw();
  }

  heightOf(i) {
    const h = this.expanded.get(this.key(this.items[i]));
    return h === undefined ? this.rowHeight : (h || this.rowHeight * 4);
  }

  computeOffsets() {
    if (this.offsets && this.offsets.length === this.items.length + 1) return;
    const n = this.items.length;
    const off = new Float64Array(n + 1);
    if (this.expanded.size === 0) {
      for (let i = 1; i <= n; i++) off[i] = i * this.rowHeight;
    } else {
      for (let i = 0; i < n; i++) off[i + 1] = off[i] + this.heightOf(i);
    }
    this.offsets = off;
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  draw() {
    this.computeOffsets();
    const off = this.offsets, n = this.items.length;
    this.spacer.style.height = `${off[n]}px`;
    const top = this.el.scrollTop, bottom = top + this.el.clientHeight;
    let lo = 0, hi = n;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (off[mid + 1] <= top) lo = mid + 1; else hi = mid; }
    const first = Math.max(0, lo - OVERSCAN);
    let last = lo;
    while (last < n && off[last] < bottom) last++;
    last = Math.min(n, last + OVERSCAN);
    for (const [i, r] of this.rows) {
      if (i < first || i >= last) { r.remove(); this.rows.delete(i); }
    }
    let remeasure = false;
    for (let i = first; i < last; i++) {
      let r = this.rows.get(i);
      if (!r) {
        const expanded = this.isExpanded(i);
        r = this.render(this.items[i], i, expanded);
        r.style.top = `${off[i]}px`;
        this.el.appendChild(r);
        this.rows.set(i, r);
        if (expanded) {
          const h = r.offsetHeight, k = this.key(this.items[i]);
          if (h !== this.expanded.get(k)) { this.expanded.set(k, h); remeasure = true; }
        }
      } else {
        r.style.top = `${off[i]}px`;
      }
      r.classList.toggle("sel", i === this.selected);
    }
    if (remeasure) { this.offsets = null; this.schedule(); }
    if (n && last >= n - OVERSCAN) this.onEnd();
  }
}
