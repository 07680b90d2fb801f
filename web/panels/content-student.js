// Lesson content, student side: each generation streams in as Markdown (rebuilt from its
// chunks in index order; the final text of content.done replaces it), with the provider
// that wrote it, plan sections, visuals, and a mark when it was stopped or failed.
// ContentFeed is shared with the teacher panel (content-teacher.js), which shows the same
// stream plus the lifecycle events mirrored to it for groups.

import { el } from "/dom.js";
import { renderInto } from "/markdown.js";

const FINAL_STATES = { "content.done": "done", "content.stopped": "stopped", "content.failed": "failed" };
const KIND_LABELS = { lesson: "Lesson", plan: "Lesson plan", adapt: "Adapted text",
  personalized: "For your group", supplement: "Extra explanation", visual: "Visual" };

/** "written by <model>" when a model wrote it, else the provider's own name. */
export function providerLabel({ provider, model, cached }) {
  const who = model || provider || "unknown provider";
  const via = model && provider && provider !== model ? ` via ${provider}` : "";
  return `written by ${who}${via}${cached ? " (from cache)" : ""}`;
}

// Only images we can show without running anything: data:image/… or http(s) URLs.
export function imageSource({ data, url }) {
  if (typeof data === "string" && /^data:image\/[\w.+-]+[;,]/.test(data)) return data;
  if (typeof url === "string" && /^https?:\/\//.test(url)) return url;
  if (typeof url === "string" && /^data:image\/[\w.+-]+[;,]/.test(url)) return url;
  return null;
}

class GenerationView {
  constructor(id, onStop) {
    this.id = id;
    this.chunks = new Map(); // index -> text
    this.finalText = null;
    this.renderQueued = false;
    this.body = el("div", { class: "content-body markdown" });
    this.provider = el("span", { class: "content-provider" });
    this.kind = el("strong", { class: "content-kind" }, "Content");
    this.state = el("span", { class: "content-state" }, "waiting…");
    this.note = el("div", { class: "content-note" });
    this.sections = el("ol", { class: "content-sections" });
    this.stopButton = onStop ? el("button", { type: "button", class: "content-stop-one",
      dataset: { stop: id } }, "Stop") : null;
    if (this.stopButton) this.stopButton.onclick = () => onStop(id);
    this.root = el("article", { class: "content-generation", dataset: { generationId: id, state: "waiting" } },
      el("header", {}, this.kind, " ", this.provider, " ", this.state, " ", this.stopButton),
      this.note, this.sections, this.body);
  }

  started(p) {
    this.root.dataset.kind = p.kind;
    this.kind.textContent = KIND_LABELS[p.kind] || p.kind;
    this.provider.textContent = providerLabel(p);
    if (p.group) this.note.textContent = `for ${p.group.level} · ${p.group.learning_style} learners`;
    if (p.trigger) this.note.textContent = p.trigger === "confusion"
      ? "An extra explanation, because some of the class said they were confused."
      : "An extra explanation, after several wrong answers.";
    if (p.audience && p.audience.kind !== "session") this.root.dataset.audience = `${p.audience.kind}:${p.audience.name}`;
    if (p.mirrored) this.root.dataset.mirrored = "true";
    if (this.root.dataset.state === "waiting") this.setState("streaming", "writing…");
  }

  chunk(p) {
    if (this.finalText !== null) return;
    this.chunks.set(p.index, p.text);
    if (this.root.dataset.state === "waiting") this.setState("streaming", "writing…");
    this.queueRender();
  }

  // Text rebuilt from chunks 0..n in order; a gap (never expected on an ordered channel)
  // holds back what follows it until it is filled.
  streamedText() {
    let text = "";
    for (let i = 0; this.chunks.has(i); i++) text += this.chunks.get(i);
    return text;
  }

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    // Chunks come in bursts; one render per task keeps long lessons cheap.
    setTimeout(() => { this.renderQueued = false; this.render(); }, 0);
  }

  render() {
    const text = this.finalText ?? this.streamedText();
    renderInto(this.body, text);
    this.root.dataset.chars = String(text.length);
  }

  section(p) {
    if (this.sections.querySelector(`[data-index="${CSS.escape(String(p.index))}"]`)) return;
    const facts = [p.type, p.estimated_minutes != null ? `${p.estimated_minutes} min` : null, p.difficulty]
      .filter(Boolean).join(" · ");
    const materials = (p.materials || []).length ? `materials: ${p.materials.join(", ")}` : "";
    const li = el("li", { class: "content-section", dataset: { index: String(p.index), type: p.type || "" } },
      el("strong", {}, p.title || p.heading || `Section ${p.index + 1}`),
      el("span", { class: "section-facts" }, facts ? ` (${facts})` : ""),
      materials ? el("div", { class: "section-materials" }, materials) : null);
    this.sections.append(li);
  }

  finish(type, p) {
    const state = FINAL_STATES[type];
    // The final event carries the whole text (for stopped: what had been published).
    this.finalText = typeof p.text === "string" ? p.text : this.streamedText();
    if (p.provider) this.provider.textContent = providerLabel(p);
    const label = state === "done" ? "done" : state === "stopped" ? "stopped by the teacher"
      : `failed: ${p.error || "unknown error"}`;
    this.setState(state, label);
    this.render();
    if (this.stopButton) this.stopButton.remove();
  }

  setState(state, label) {
    this.root.dataset.state = state;
    this.state.textContent = `· ${label}`;
  }
}

class VisualView {
  constructor(id) {
    this.id = id;
    this.figure = el("figure", { class: "content-visual", dataset: { visualId: id, state: "drawing" } },
      el("figcaption", {}, "Drawing a visual…"));
  }

  done(p) {
    const src = imageSource(p);
    const caption = el("figcaption", {}, `${p.alt || "Visual"} — ${providerLabel(p)}`);
    if (src) {
      const img = el("img", { alt: p.alt || "generated visual" });
      img.src = src; // a property, never markup: the value cannot escape the attribute
      this.figure.replaceChildren(img, caption);
      this.figure.dataset.state = "done";
    } else {
      this.failed({ error: "the image came in a form this page does not show", provider: p.provider });
    }
  }

  failed(p) {
    const ideas = (p.fallback_suggestions || []).join("; ");
    this.figure.replaceChildren(el("figcaption", {},
      `No visual (${p.error || "failed"})${ideas ? `. Try instead: ${ideas}` : ""}`));
    this.figure.dataset.state = "failed";
  }
}

/** Renders every content.* and visual.* event the client receives into ``list``. */
export class ContentFeed {
  constructor(client, list, { onStop = null, onChange = null } = {}) {
    this.list = list;
    this.onStop = onStop;
    this.onChange = onChange || (() => {});
    this.generations = new Map();
    this.visuals = new Map();
    const on = (type, fn) => client.addEventListener(type, (e) => fn(e.detail.payload, e.detail));
    on("content.started", (p) => { this.generation(p.generation_id).started(p); this.onChange(); });
    on("content.chunk", (p) => this.generation(p.generation_id).chunk(p));
    on("content.section", (p) => this.generation(p.generation_id).section(p));
    for (const type of Object.keys(FINAL_STATES)) {
      on(type, (p) => { this.generation(p.generation_id).finish(type, p); this.onChange(); });
    }
    on("visual.started", (p) => this.visual(p.visual_id));
    on("visual.done", (p) => this.visual(p.visual_id).done(p));
    on("visual.failed", (p) => this.visual(p.visual_id).failed(p));
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

  running() {
    return [...this.generations.values()]
      .filter((g) => ["waiting", "streaming"].includes(g.root.dataset.state)).map((g) => g.id);
  }
}

export async function mount(client, section) {
  const detail = el("input", { id: "content-confused-detail", placeholder: "What is unclear? (optional)",
    maxlength: "500", size: "28" });
  const button = el("button", { id: "content-confused", type: "submit" }, "I'm confused");
  const status = el("div", { id: "content-confused-status", class: "content-note", role: "status" });
  const form = el("form", { id: "content-confused-form" }, detail, button);
  const list = el("div", { id: "content-feed", class: "content-feed" });
  section.append(el("h2", {}, "Lesson content"), form, status, list);
  section.dataset.panel = "content";
  new ContentFeed(client, list);
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      const reply = await client.request({ type: "content.confused", detail: detail.value.trim() });
      status.textContent = reply.supplement
        ? "Thanks: an extra explanation is on its way."
        : "Thanks: your teacher has been told.";
      status.dataset.sent = "true";
      detail.value = "";
    } catch (err) {
      status.textContent = `Could not send: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  };
  if (!document.getElementById("content-style")) document.head.append(el("style", { id: "content-style" }, STYLE));
}

const STYLE = `
.content-feed { display: flex; flex-direction: column; gap: .6rem; margin-top: .6rem; }
.content-generation, .content-visual { border: 1px solid #dde2ec; border-radius: 6px; padding: .5rem .7rem; margin: 0; }
.content-generation header { font-size: .9rem; }
.content-provider, .content-state { color: #556; font-size: .85rem; }
.content-generation[data-state="stopped"] { border-color: #c9a100; background: #fffbea; }
.content-generation[data-state="failed"] { border-color: #c0392b; background: #fff1f0; }
.content-note { font-size: .85rem; color: #445; margin: .2rem 0; }
.content-sections { font-size: .9rem; padding-left: 1.2rem; }
.section-materials { color: #556; font-size: .8rem; }
.content-body pre { background: #f3f4f7; padding: .4rem; overflow: auto; }
.content-visual img { max-width: 100%; height: auto; display: block; }
`;
