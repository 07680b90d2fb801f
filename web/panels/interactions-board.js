// The shared board for the interaction panels: an SVG that shows sticky notes and strokes.
// Sync rule (docs: rtc_server/interactions/board.py): take the board.sync snapshot {seq, items},
// then apply only live board.op events with board_seq > seq, strictly in board_seq order
// (an op that arrives early waits in `pending` until the ones before it are in).

const NS = "http://www.w3.org/2000/svg";
// Element helper of the interaction panels: attributes become properties, data-* stay attributes.
export const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("data-")) el.setAttribute(k, v); else el[k] = v;
  }
  el.append(...children);
  return el;
};

export const VIEW = 1000; // the SVG shows board units 0..VIEW

export class Board {
  constructor(client, host, { idPrefix }) {
    this.client = client;
    this.seq = 0;
    this.items = new Map();
    this.pending = new Map();
    this.synced = false;
    this.canDraw = false;
    this.idPrefix = idPrefix;
    this.n = 0;
    this.svg = document.createElementNS(NS, "svg");
    this.svg.id = "ix-board";
    this.svg.setAttribute("viewBox", `0 0 ${VIEW} ${VIEW * 0.6}`);
    this.svg.setAttribute("style", "width:100%;max-width:640px;border:1px solid #999;background:#fff;touch-action:none");
    host.append(this.svg);
    client.addEventListener("board.op", (e) => this.onOp(e.detail.payload));
    this.listenDrawing();
  }

  async sync() {
    const snap = await this.client.request({ type: "board.sync" });
    this.seq = snap.seq;
    this.items = new Map(snap.items.map((i) => [i.id, i]));
    this.synced = true;
    this.flush();
    this.render();
    return snap;
  }

  onOp(p) {
    if (this.synced && p.board_seq <= this.seq) return; // already in the snapshot
    this.pending.set(p.board_seq, p.op);
    if (this.synced) { this.flush(); this.render(); }
  }

  flush() {
    for (const s of [...this.pending.keys()]) if (s <= this.seq) this.pending.delete(s);
    while (this.pending.has(this.seq + 1)) {
      const op = this.pending.get(this.seq + 1);
      this.pending.delete(this.seq + 1);
      this.apply(op);
      this.seq += 1;
    }
  }

  apply(op) {
    if (op.kind === "add" || op.kind === "stroke") {
      if (!this.items.has(op.item.id)) this.items.set(op.item.id, { ...op.item });
    } else if (op.kind === "move") {
      const item = this.items.get(op.item_id);
      if (item) { item.x = op.x; item.y = op.y; }
    } else if (op.kind === "delete") this.items.delete(op.item_id);
    else if (op.kind === "clear") this.items.clear();
  }

  render() {
    this.svg.dataset.seq = this.seq;
    const nodes = [];
    for (const item of this.items.values()) {
      const s = VIEW / 10000;
      if (item.type === "note") {
        const g = document.createElementNS(NS, "g");
        g.dataset.itemId = item.id;
        g.classList.add("ix-note");
        const rect = document.createElementNS(NS, "rect");
        Object.entries({ x: item.x * s, y: item.y * s, width: 120, height: 60, fill: item.color, stroke: "#aa8" })
          .forEach(([k, v]) => rect.setAttribute(k, v));
        const text = document.createElementNS(NS, "text");
        text.setAttribute("x", item.x * s + 6);
        text.setAttribute("y", item.y * s + 24);
        text.setAttribute("font-size", "16");
        text.textContent = item.text;
        g.append(rect, text);
        nodes.push(g);
      } else {
        const path = document.createElementNS(NS, "polyline");
        path.dataset.itemId = item.id;
        path.classList.add("ix-stroke");
        path.setAttribute("points", item.points.map(([x, y]) => `${(x + item.x) * s},${(y + item.y) * s}`).join(" "));
        path.setAttribute("fill", "none");
        path.setAttribute("stroke", item.color);
        path.setAttribute("stroke-width", item.width);
        nodes.push(path);
      }
    }
    this.svg.replaceChildren(...nodes);
  }

  toBoard(ev) {
    const r = this.svg.getBoundingClientRect();
    const k = 10000 / VIEW;
    const clamp = (v) => Math.max(0, Math.min(10000, Math.round(v)));
    return [clamp(((ev.clientX - r.left) / r.width) * VIEW * k),
            clamp(((ev.clientY - r.top) / r.height) * VIEW * 0.6 * k)];
  }

  nextId(kind) { return `${this.idPrefix}-${kind}-${Date.now().toString(36)}-${this.n++}`; }

  async send(op) {
    try { return await this.client.request({ type: "board.op", op }); }
    catch (err) { this.svg.dataset.error = err.message; return null; }
  }

  // Click: a sticky note with the text from noteText(); drag: a stroke.
  listenDrawing() {
    let points = null;
    this.svg.addEventListener("pointerdown", (ev) => {
      if (!this.canDraw) return;
      points = [this.toBoard(ev)];
    });
    this.svg.addEventListener("pointermove", (ev) => { if (points) points.push(this.toBoard(ev)); });
    this.svg.addEventListener("pointerup", async (ev) => {
      if (!points) return;
      const done = points;
      points = null;
      if (done.length < 3) {
        const [x, y] = this.toBoard(ev);
        const text = this.noteText ? this.noteText() : "";
        await this.send({ kind: "add", item: { id: this.nextId("n"), x, y, text } });
      } else {
        await this.send({ kind: "stroke", item: { id: this.nextId("s"), points: done.slice(0, 2000) } });
      }
    });
  }
}
