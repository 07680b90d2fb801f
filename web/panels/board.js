// The shared board: an SVG of sticky notes and pen strokes, with tools (pen, note, erase,
// clear, undo) and a keyboard path (type a note, "Add note": it goes to the next free
// place; every note is listed below the board with a "Remove" button).
// Sync rule (docs/protocol.md "Board sync rule"): take a snapshot {seq, items}, then apply
// only board.op events with board_seq > seq, strictly in board_seq order (an op that
// arrives early waits in `pending` until the ones before it are in).

import { announce, el } from "/dom.js";
import { humanError, t } from "/i18n.js";

const NS = "http://www.w3.org/2000/svg";
const W = 10000;
const H = 6000;
const NOTE_W = 2300;
const NOTE_H = 1300;
const COLORS = ["#1e3a8a", "#b3261e", "#1b6e34", "#111827"];

export class Board {
  constructor(client, host, { staff = false, idPrefix = "b" } = {}) {
    this.client = client;
    this.staff = staff;
    this.seq = 0;
    this.items = new Map();
    this.pending = new Map();
    this.synced = false;
    this.canDraw = staff;
    this.tool = "note";
    this.color = COLORS[0];
    this.mine = []; // ids of items this page added (undo)
    this.idPrefix = `${idPrefix}${Math.random().toString(36).slice(2, 6)}`;
    this.n = 0;
    this.build(host);
    client.on("board.op", (env) => this.onOp(env.payload));
  }

  build(host) {
    const tool = (name, label) => {
      const b = el("button", { type: "button", class: "btn-small tool", dataset: { tool: name }, "aria-pressed": String(this.tool === name) }, label);
      b.onclick = () => this.setTool(name);
      return b;
    };
    this.toolButtons = [tool("note", t("board.tool_note")), tool("pen", t("board.tool_pen")), tool("erase", t("board.tool_erase"))];
    const undo = el("button", { type: "button", class: "btn-small", id: "board-undo" }, t("board.undo"));
    undo.onclick = () => this.undo();
    const clear = this.staff ? el("button", { type: "button", class: "btn-small btn-danger", id: "board-clear" }, t("board.clear")) : null;
    if (clear) clear.onclick = () => this.send({ kind: "clear" });
    this.noteInput = el("input", { id: "board-note-text", maxlength: "500", autocomplete: "off" });
    const add = el("button", { type: "submit", class: "btn-small", id: "board-add-note" }, t("board.add_note"));
    this.form = el("form", { class: "board-note-form", id: "board-note-form" },
      el("label", { class: "field-inline" }, el("span", {}, t("board.note_label")), this.noteInput), add);
    this.form.onsubmit = (ev) => { ev.preventDefault(); this.addNoteHere(null); };
    this.svg = document.createElementNS(NS, "svg");
    this.svg.id = "board-svg";
    this.svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    this.svg.setAttribute("role", "img");
    this.svg.setAttribute("aria-labelledby", "board-desc");
    this.svg.classList.add("board-svg");
    this.desc = el("p", { id: "board-desc", class: "sr-only" });
    this.list = el("ul", { class: "board-notes", id: "board-notes", "aria-label": t("board.notes_list") });
    this.status = el("p", { class: "form-status", role: "status", id: "board-status" });
    this.toolbar = el("div", { class: "board-toolbar", role: "toolbar", "aria-label": t("board.tools") }, ...this.toolButtons, undo, clear);
    this.readOnly = el("p", { class: "muted", id: "board-readonly" }, t("board.read_only"));
    this.root = el("div", { class: "board", id: "board" }, this.toolbar, this.form, this.readOnly, this.svg, this.desc, this.list, this.status);
    host.append(this.root);
    this.listenPointer();
    this.setCanDraw(this.canDraw);
  }

  setTool(name) {
    this.tool = name;
    for (const b of this.toolButtons) b.setAttribute("aria-pressed", String(b.dataset.tool === name));
    this.svg.dataset.tool = name;
  }

  setCanDraw(allowed) {
    this.canDraw = allowed;
    this.root.dataset.canDraw = String(allowed);
    this.toolbar.hidden = !allowed;
    this.form.hidden = !allowed;
    this.readOnly.hidden = allowed;
    this.render();
  }

  load(snap) {
    this.seq = snap.seq;
    this.items = new Map((snap.items || []).map((i) => [i.id, { ...i }]));
    this.synced = true;
    if (typeof snap.students_allowed === "boolean" && !this.staff) this.setCanDraw(snap.students_allowed);
    this.flush();
    this.render();
  }

  async sync() { this.load(await this.client.request({ type: "board.sync" })); }

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
    this.svg.dataset.seq = String(this.seq);
    const nodes = [];
    const notes = [];
    let strokes = 0;
    for (const item of this.items.values()) {
      if (item.type === "note") {
        notes.push(item);
        const g = document.createElementNS(NS, "g");
        g.dataset.itemId = item.id;
        g.classList.add("board-note");
        const rect = document.createElementNS(NS, "rect");
        for (const [k, v] of Object.entries({ x: item.x, y: item.y, width: NOTE_W, height: NOTE_H, rx: 60, fill: item.color || "#fff59d", stroke: "#8a7a00", "stroke-width": 12 })) rect.setAttribute(k, v);
        g.append(rect);
        wrap(item.text, 14).slice(0, 4).forEach((line, i) => {
          const text = document.createElementNS(NS, "text");
          text.setAttribute("x", item.x + 120);
          text.setAttribute("y", item.y + 340 + i * 280);
          text.setAttribute("font-size", "250");
          text.setAttribute("fill", "#1d2330");
          text.textContent = line;
          g.append(text);
        });
        nodes.push(g);
      } else {
        strokes += 1;
        const path = document.createElementNS(NS, "polyline");
        path.dataset.itemId = item.id;
        path.classList.add("board-stroke");
        path.setAttribute("points", item.points.map(([x, y]) => `${x + (item.x || 0)},${y + (item.y || 0)}`).join(" "));
        path.setAttribute("fill", "none");
        path.setAttribute("stroke", item.color);
        path.setAttribute("stroke-width", String((item.width || 3) * 10));
        path.setAttribute("stroke-linecap", "round");
        path.setAttribute("stroke-linejoin", "round");
        nodes.push(path);
      }
    }
    this.svg.replaceChildren(...nodes);
    this.desc.textContent = t("board.description", { notes: notes.length, strokes });
    this.list.replaceChildren(...notes.map((n) => el("li", { dataset: { itemId: n.id } }, el("span", {}, n.text || t("board.empty_note")),
      this.canDraw ? el("button", { type: "button", class: "btn-small", "aria-label": t("board.remove_note", { text: n.text }), on: { click: () => this.send({ kind: "delete", item_id: n.id }) } }, t("board.remove")) : null)));
    this.root.dataset.items = String(this.items.size);
  }

  nextId(kind) { return `${this.idPrefix}-${kind}-${Date.now().toString(36)}-${this.n++}`; }

  async send(op) {
    try {
      const ack = await this.client.request({ type: "board.op", op });
      this.status.textContent = "";
      return ack;
    } catch (err) {
      this.status.textContent = humanError(err);
      return null;
    }
  }

  /** A free place for a note (keyboard path): the first grid cell no note covers. */
  freeSpot() {
    const taken = [...this.items.values()].filter((i) => i.type === "note");
    for (let y = 200; y + NOTE_H < H; y += NOTE_H + 200) {
      for (let x = 200; x + NOTE_W < W; x += NOTE_W + 200) {
        if (!taken.some((n) => Math.abs(n.x - x) < NOTE_W && Math.abs(n.y - y) < NOTE_H)) return [x, y];
      }
    }
    return [200 + Math.random() * 7000, 200 + Math.random() * 4000];
  }

  async addNoteHere(at) {
    const text = this.noteInput.value.trim();
    if (!text) { this.status.textContent = t("board.need_text"); this.noteInput.focus(); return; }
    const [x, y] = at || this.freeSpot();
    const id = this.nextId("n");
    const ack = await this.send({ kind: "add", item: { id, x: Math.round(Math.min(x, W - NOTE_W)), y: Math.round(Math.min(y, H - NOTE_H)), text } });
    if (ack) { this.mine.push(id); this.noteInput.value = ""; announce(t("board.note_added")); }
  }

  async undo() {
    while (this.mine.length) {
      const id = this.mine.pop();
      if (this.items.has(id)) { await this.send({ kind: "delete", item_id: id }); return; }
    }
    this.status.textContent = t("board.nothing_to_undo");
  }

  toBoard(ev) {
    const r = this.svg.getBoundingClientRect();
    const clamp = (v, max) => Math.max(0, Math.min(max, Math.round(v)));
    return [clamp(((ev.clientX - r.left) / r.width) * W, W), clamp(((ev.clientY - r.top) / r.height) * H, H)];
  }

  listenPointer() {
    let points = null;
    let live = null;
    this.svg.addEventListener("pointerdown", (ev) => {
      if (!this.canDraw) return;
      if (this.tool === "erase") {
        const target = ev.target.closest("[data-item-id]");
        if (target) this.send({ kind: "delete", item_id: target.dataset.itemId });
        return;
      }
      if (this.tool === "note") { this.addNoteHere(this.toBoard(ev)); return; }
      points = [this.toBoard(ev)];
      this.svg.setPointerCapture(ev.pointerId);
      live = document.createElementNS(NS, "polyline");
      live.setAttribute("fill", "none");
      live.setAttribute("stroke", this.color);
      live.setAttribute("stroke-width", "40");
      this.svg.append(live);
    });
    this.svg.addEventListener("pointermove", (ev) => {
      if (!points) return;
      points.push(this.toBoard(ev));
      live.setAttribute("points", points.map((p) => p.join(",")).join(" "));
    });
    const end = async () => {
      if (!points) return;
      const done = points;
      points = null;
      if (live) live.remove();
      if (done.length < 2) return;
      const id = this.nextId("s");
      const ack = await this.send({ kind: "stroke", item: { id, points: done.slice(0, 2000), color: this.color, width: 4 } });
      if (ack) this.mine.push(id);
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
  }
}

function wrap(text, width) {
  const lines = [];
  let line = "";
  for (const word of String(text || "").split(/\s+/)) {
    if ((line + " " + word).trim().length > width && line) { lines.push(line); line = word; } else line = (line + " " + word).trim();
  }
  if (line) lines.push(line);
  return lines;
}
