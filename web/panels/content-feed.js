// The AI lesson as it streams: each generation is rebuilt from its chunks in index order
// (the final text of content.done replaces it) and rendered as Markdown, with who wrote it,
// the plan's sections, visuals, sources cited from the teacher's material, and a mark when
// it was stopped or failed. Shared by the teacher and student pages; the lesson so far
// comes from the welcome's snapshot (finished lessons and the one streaming now).

import { announce, el } from "/dom.js";
import { renderInto } from "/markdown.js";
import { t } from "/i18n.js";

const FINAL_STATES = { "content.done": "done", "content.stopped": "stopped", "content.failed": "failed" };

export function providerLabel({ provider, model, cached }) {
  const who = model || provider || "?";
  return t(cached ? "content.written_by_cached" : "content.written_by", { who });
}

// Only images we can show without running anything: data:image/… or http(s) URLs.
export function imageSource({ data, url }) {
  if (typeof data === "string" && /^data:image\/[\w.+-]+[;,]/.test(data)) return data;
  if (typeof url === "string" && (/^https?:\/\//.test(url) || /^data:image\/[\w.+-]+[;,]/.test(url))) return url;
  return null;
}

class GenerationView {
  constructor(id, onStop) {
    this.id = id;
    this.chunks = new Map();
    this.finalText = null;
    this.renderQueued = false;
    this.body = el("div", { class: "content-body markdown" });
    this.provider = el("span", { class: "content-provider muted" });
    this.kind = el("strong", { class: "content-kind" }, t("content.kind.lesson"));
    this.state = el("span", { class: "content-state badge" }, t("content.state.waiting"));
    this.note = el("p", { class: "content-note muted" });
    this.sections = el("ol", { class: "content-sections" });
    this.sources = el("p", { class: "content-sources muted" });
    this.confusions = el("ul", { class: "content-confusions" });
    this.stopButton = onStop ? el("button", { type: "button", class: "btn-small content-stop-one", dataset: { stop: id } }, t("content.stop")) : null;
    if (this.stopButton) this.stopButton.onclick = () => onStop(id);
    this.root = el("article", { class: "content-generation", dataset: { generationId: id, state: "waiting" } },
      el("header", { class: "content-head" }, this.kind, this.state, this.provider, this.stopButton),
      this.note, this.sections, this.body, this.sources, this.confusions);
  }

  started(p) {
    this.root.dataset.kind = p.kind;
    this.kind.textContent = t(`content.kind.${p.kind}`);
    this.provider.textContent = providerLabel(p);
    if (p.group) this.note.textContent = t("content.for_group", { level: p.group.level, style: p.group.learning_style });
    if (p.trigger) this.note.textContent = t(p.trigger === "confusion" ? "content.supplement_confusion" : "content.supplement_wrong");
    if (p.audience && p.audience.kind !== "session") {
      this.root.dataset.audience = `${p.audience.kind}:${p.audience.name}`;
      if (p.audience.kind === "group" && !p.group) this.note.textContent = t("content.for_named_group", { group: p.audience.name });
    }
    if (p.mirrored) this.root.dataset.mirrored = "true";
    if (p.plan) this.plan = p.plan;
    if (this.root.dataset.state === "waiting") this.setState("streaming");
  }

  chunk(p) {
    if (this.finalText !== null) return;
    this.chunks.set(p.index, p.text);
    if (this.root.dataset.state === "waiting") this.setState("streaming");
    this.queueRender();
  }

  streamedText() {
    let text = "";
    for (let i = 0; this.chunks.has(i); i++) text += this.chunks.get(i);
    return text;
  }

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    setTimeout(() => { this.renderQueued = false; this.render(); }, 0);
  }

  render() {
    const text = this.finalText ?? this.streamedText() ?? "";
    renderInto(this.body, text || "");
    this.root.dataset.chars = String((text || "").length);
  }

  section(p) {
    if (this.sections.querySelector(`[data-index="${CSS.escape(String(p.index))}"]`)) return;
    const facts = [p.type ? t(`content.section_type.${p.type}`) : null, p.estimated_minutes != null ? t("content.minutes", { n: p.estimated_minutes }) : null]
      .filter(Boolean).join(" · ");
    this.sections.append(el("li", { class: "content-section", dataset: { index: String(p.index), type: p.type || "", minutes: String(p.estimated_minutes ?? "") } },
      el("strong", {}, p.title || p.heading || t("content.section_n", { n: p.index + 1 })),
      facts ? el("span", { class: "section-facts muted" }, ` (${facts})`) : null));
    this.root.dispatchEvent(new Event("section", { bubbles: true }));
  }

  finish(type, p) {
    const state = FINAL_STATES[type];
    this.finalText = typeof p.text === "string" ? p.text : this.streamedText();
    if (p.provider) this.provider.textContent = providerLabel(p);
    this.setState(state, state === "failed" ? t("content.state.failed") : null);
    if (Array.isArray(p.sources) && p.sources.length) {
      // Unpublished material comes without its title: it is cited by passage, as in the text.
      const label = (s) => (s.material_title ? s.material_title + (s.page ? ` p.${s.page}` : "") : `[${s.id}]`);
      this.sources.textContent = t("content.sources", { list: [...new Set(p.sources.map(label))].join("; ") });
    }
    this.render();
    if (this.stopButton) this.stopButton.remove();
  }

  setState(state, label) {
    this.root.dataset.state = state;
    this.state.textContent = label || t(`content.state.${state}`);
    this.state.className = `content-state badge badge-${state}`;
  }

  confused(p) {
    this.confusions.append(el("li", { dataset: { user: p.user } }, el("strong", {}, p.name || p.user), p.detail ? `: ${p.detail}` : ` ${t("content.is_confused")}`));
  }
}

class VisualView {
  constructor(id) {
    this.id = id;
    this.figure = el("figure", { class: "content-visual", dataset: { visualId: id, state: "drawing" } }, el("figcaption", {}, t("content.drawing")));
  }

  done(p) {
    const src = imageSource(p);
    if (!src) { this.failed({ error: "" }); return; }
    const img = el("img", { alt: p.alt || t("content.visual_alt") });
    img.src = src;
    this.figure.replaceChildren(img, el("figcaption", {}, `${p.alt || ""} — ${providerLabel(p)}`));
    this.figure.dataset.state = "done";
  }

  failed(p) {
    const ideas = (p.fallback_suggestions || []).join("; ");
    this.figure.replaceChildren(el("figcaption", {}, t("content.no_visual"), ideas ? ` ${t("content.try_instead", { ideas })}` : ""));
    this.figure.dataset.state = "failed";
  }
}

/** Renders every content.* and visual.* event the client receives into `list`. */
export class ContentFeed {
  constructor(client, list, { onStop = null, onChange = null, announceNew = false } = {}) {
    this.list = list;
    this.onStop = onStop;
    this.onChange = onChange || (() => {});
    this.generations = new Map();
    this.visuals = new Map();
    const on = (type, fn) => client.on(type, (env) => fn(env.payload, env));
    on("content.started", (p) => {
      this.generation(p.generation_id).started(p);
      if (announceNew && !p.mirrored) announce(t("content.announce_new", { kind: t(`content.kind.${p.kind}`) }));
      this.onChange();
    });
    on("content.chunk", (p) => this.generation(p.generation_id).chunk(p));
    on("content.section", (p) => this.generation(p.generation_id).section(p));
    for (const type of Object.keys(FINAL_STATES)) {
      on(type, (p) => {
        this.generation(p.generation_id).finish(type, p);
        if (announceNew && type === "content.done") announce(t("content.announce_done"));
        this.onChange();
      });
    }
    on("visual.started", (p) => this.visual(p.visual_id));
    on("visual.done", (p) => { this.visual(p.visual_id).done(p); if (announceNew) announce(t("content.announce_visual")); });
    on("visual.failed", (p) => this.visual(p.visual_id).failed(p));
    client.on("snapshot", (snap) => this.fromSnapshot(snap.content || {}));
  }

  /** The lesson so far: finished generations (oldest first) and those streaming now. */
  fromSnapshot(content) {
    for (const g of content.lessons || []) {
      const view = this.generation(g.generation_id);
      view.started(g);
      for (const s of g.sections || []) view.section(s);
      view.finish("content.done", g);
    }
    for (const g of content.streaming || []) {
      const view = this.generation(g.generation_id);
      view.started(g);
      for (const s of g.sections || []) view.section(s);
      // Chunks after the snapshot continue its text: they start at index `chunks`.
      const base = g.text || "";
      const from = g.chunks ?? 0;
      view.streamedText = () => {
        let text = base;
        for (let i = from; view.chunks.has(i); i++) text += view.chunks.get(i);
        return text;
      };
      view.render();
    }
    this.onChange();
  }

  generation(id) {
    let view = this.generations.get(id);
    if (!view) {
      view = new GenerationView(id, this.onStop);
      this.generations.set(id, view);
      this.list.prepend(view.root);
    }
    return view;
  }

  visual(id) {
    let view = this.visuals.get(id);
    if (!view) {
      view = new VisualView(id);
      this.visuals.set(id, view);
      this.list.prepend(view.figure);
    }
    return view;
  }

  /** The generation a reader has in view: the one showing most on screen (within the
   * viewport and the feed's own scroll box); the latest when none shows. */
  inView() {
    const box = this.list.getBoundingClientRect();
    const top = Math.max(0, box.top);
    const bottom = Math.min(window.innerHeight || document.documentElement.clientHeight, box.bottom);
    let best = null;
    let shown = 0;
    for (const g of this.generations.values()) {
      const r = g.root.getBoundingClientRect();
      const visible = Math.min(r.bottom, bottom) - Math.max(r.top, top);
      if (visible > shown) { best = g; shown = visible; }
    }
    return best || this.latest();
  }

  latest() {
    const all = [...this.generations.values()];
    return all.find((g) => g.root.dataset.state === "streaming") || all[all.length - 1] || null;
  }

  running() {
    return [...this.generations.values()].filter((g) => ["waiting", "streaming"].includes(g.root.dataset.state)).map((g) => g.id);
  }
}
