// The AI lesson, teacher side: request a lesson, a plan, a visual or an adapted text for
// the class or one group; watch it stream and stop it; the plan as a timeline against the
// lesson timer; students' "I'm confused" listed beside the content they refer to.

import { announce, el } from "/dom.js";
import { humanError, t } from "/i18n.js";
import { ContentFeed } from "/panels/content-feed.js";

const KINDS = ["lesson", "plan", "visual", "adapt"];
const FIELDS = { prompt: ["lesson"], topic: ["lesson", "plan"], minutes: ["plan"], description: ["visual"], text: ["adapt"], difficulty: ["adapt"], audience: ["lesson", "plan", "visual", "adapt"] };

export function mount(ctx, host) {
  const { client, model } = ctx;
  const kind = el("select", { id: "content-kind" }, ...KINDS.map((k) => new Option(t(`content.kind.${k}`), k)));
  const prompt = el("textarea", { id: "content-prompt", rows: "2", maxlength: "4000" });
  const topic = el("input", { id: "content-topic", maxlength: "500" });
  const minutes = el("input", { id: "content-minutes", type: "number", min: "1", max: "240", value: "20", inputmode: "numeric" });
  const description = el("input", { id: "content-description", maxlength: "1000" });
  const text = el("textarea", { id: "content-text", rows: "3", maxlength: "4000" });
  const difficulty = el("select", { id: "content-difficulty" }, ...["beginner", "intermediate", "advanced"].map((d) => new Option(t(`content.level.${d}`), d)));
  const audience = el("select", { id: "content-audience" }, new Option(t("common.whole_class"), ""));
  const request = el("button", { type: "submit", class: "btn btn-primary", id: "content-request" }, t("content.request"));
  const stop = el("button", { type: "button", class: "btn", id: "content-stop", disabled: true }, t("content.stop_all"));
  const status = el("p", { class: "form-status", id: "content-status", role: "status" });
  const field = (name, label, input) => el("label", { class: "field", dataset: { field: name } }, el("span", {}, label), input);
  const form = el("form", { id: "content-form", class: "stack" },
    field("kind", t("content.what"), kind),
    field("prompt", t("content.prompt"), prompt),
    field("topic", t("content.topic"), topic),
    field("minutes", t("content.minutes_left"), minutes),
    field("description", t("content.description"), description),
    field("text", t("content.text_to_adapt"), text),
    field("difficulty", t("content.level"), difficulty),
    field("audience", t("common.send_to"), audience),
    el("div", { class: "button-row" }, request, stop), status);
  const timeline = el("div", { id: "plan-timeline", class: "plan-timeline", hidden: true });
  const list = el("div", { id: "content-feed", class: "content-feed", role: "region", tabindex: "0", "aria-label": t("content.feed_label") });
  host.append(el("h2", { class: "sr-only" }, t("tabs.lesson")), form, timeline, list);
  ctx.groupSelects = [...(ctx.groupSelects || []), audience];

  const showFields = () => {
    for (const label of form.querySelectorAll("[data-field]")) {
      const kinds = FIELDS[label.dataset.field];
      label.hidden = Boolean(kinds) && !kinds.includes(kind.value);
    }
  };
  kind.onchange = showFields;
  showFields();

  // The class's reading: lessons are written from it and cite it ([p3]).
  const file = el("input", { type: "file", id: "material-file", accept: ".pdf,.txt,.md,application/pdf,text/plain,text/markdown" });
  const upload = el("button", { type: "button", class: "btn", id: "material-add" }, t("material.add"));
  const materialStatus = el("p", { class: "form-status", role: "status", id: "material-status" });
  const materialList = el("ul", { class: "plain", id: "material-list" });
  host.insertBefore(el("details", { class: "material", id: "material" },
    el("summary", {}, t("material.title")), el("p", { class: "muted" }, t("material.help")),
    el("div", { class: "row-fields" }, el("label", { class: "field" }, el("span", {}, t("material.file")), file), upload),
    materialStatus, materialList), form);
  const showMaterials = (list) => {
    materialList.replaceChildren(...list.map((m) => el("li", { dataset: { materialId: m.id } },
      el("strong", {}, m.title), ` · ${t("material.pages", { n: m.pages || 1 })}`)));
  };
  upload.onclick = async () => {
    const f = file.files && file.files[0];
    if (!f) { materialStatus.textContent = t("material.choose"); file.focus(); return; }
    const type = f.type || (f.name.endsWith(".md") ? "text/markdown" : f.name.endsWith(".pdf") ? "application/pdf" : "text/plain");
    materialStatus.textContent = t("common.sending");
    try {
      const sid = client.welcome.session.id;
      const resp = await fetch(`/api/sessions/${encodeURIComponent(sid)}/materials?filename=${encodeURIComponent(f.name)}&publish=1`, {
        method: "POST", headers: { Authorization: `Bearer ${client.token}`, "Content-Type": type }, body: f });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) throw Object.assign(new Error(""), { code: body.error ? body.error.code : "" });
      materialStatus.textContent = t("material.added", { title: body.title });
      file.value = "";
    } catch (err) {
      materialStatus.textContent = t(`material.error.${err.code}`) !== `material.error.${err.code}` ? t(`material.error.${err.code}`) : humanError(err);
    }
  };
  client.on("materials", (env) => { if (!env.payload.published_only) showMaterials(env.payload.materials); });
  client.on("snapshot", (snap) => showMaterials((snap.content || {}).materials || []));

  const running = new Set();
  const refreshStop = () => {
    for (const id of feed.running()) running.add(id);
    if (status.dataset.generationId && !feed.running().includes(status.dataset.generationId) && feed.generations.has(status.dataset.generationId)) status.textContent = "";
    for (const id of [...running]) if (!feed.running().includes(id) && feed.generations.has(id)) running.delete(id);
    stop.disabled = running.size === 0;
    drawTimeline();
  };
  const stopOne = async (id) => {
    try { await client.request({ type: "content.stop", generation_id: id }); } catch (err) { /* already finished */ }
    running.delete(id);
    refreshStop();
  };
  const feed = new ContentFeed(client, list, { onStop: stopOne, onChange: refreshStop });
  ctx.feed = feed;
  list.addEventListener("section", () => drawTimeline());

  // The newest plan as a timeline: its sections from when it was requested, "now" marked.
  let planStartMin = null;
  function drawTimeline() {
    const plan = [...feed.generations.values()].reverse().find((g) => g.root.dataset.kind === "plan");
    if (!plan) { timeline.hidden = true; return; }
    const sections = [...plan.sections.children].map((li) => ({ title: li.querySelector("strong").textContent, minutes: Number(li.dataset.minutes) || 5 }));
    if (!sections.length) { timeline.hidden = true; return; }
    if (planStartMin === null) planStartMin = ctx.elapsedMinutes ? ctx.elapsedMinutes() : 0;
    const total = sections.reduce((s, x) => s + x.minutes, 0);
    const now = (ctx.elapsedMinutes ? ctx.elapsedMinutes() : 0) - planStartMin;
    const marker = el("span", { class: "timeline-now", "aria-hidden": "true" });
    marker.style.left = `${Math.max(0, Math.min(100, (now / total) * 100))}%`;
    let at = 0;
    const segs = sections.map((s) => {
      const seg = el("li", { class: `timeline-seg${now >= at && now < at + s.minutes ? " current" : ""}` },
        el("span", {}, s.title), el("small", {}, t("content.minutes", { n: s.minutes })));
      seg.style.flexGrow = String(s.minutes);
      at += s.minutes;
      return seg;
    });
    timeline.replaceChildren(el("h3", {}, t("content.plan_timeline")),
      el("div", { class: "timeline-track" }, el("ol", { class: "timeline" }, ...segs), marker),
      el("p", { class: "muted" }, t("content.plan_progress", { now: Math.max(0, Math.round(now)), total })));
    timeline.hidden = false;
  }
  setInterval(drawTimeline, 10000);

  client.on("content.confusion", (env) => {
    const p = env.payload;
    model.confused(p);
    // Beside the content the student had in view; the latest when they named none (or it
    // is not on this page).
    const target = (p.generation_id && feed.generations.get(p.generation_id)) || feed.latest();
    if (target) target.confused(p);
    announce(t("content.announce_confused", { name: p.name || p.user }));
  });

  const build = () => {
    const topicValue = topic.value.trim();
    switch (kind.value) {
      case "lesson":
        if (!prompt.value.trim()) throw new Error(t("content.need_prompt"));
        return { kind: "lesson", prompt: prompt.value.trim(), ...(topicValue ? { topic: topicValue } : {}) };
      case "plan":
        if (!topicValue) throw new Error(t("content.need_topic"));
        return { kind: "plan", topic: topicValue, minutes_remaining: Number(minutes.value) || 20 };
      case "visual":
        if (!description.value.trim()) throw new Error(t("content.need_description"));
        return { kind: "visual", description: description.value.trim() };
      case "adapt":
        if (!text.value.trim()) throw new Error(t("content.need_text"));
        return { kind: "adapt", text: text.value.trim(), target_difficulty: difficulty.value };
      default:
        throw new Error(kind.value);
    }
  };
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    let message;
    try {
      message = { type: "content.request", request: build(), to: audience.value ? { group: audience.value } : { session: true } };
    } catch (err) { status.textContent = err.message; return; }
    request.disabled = true;
    status.textContent = t("common.sending");
    try {
      const reply = await client.request(message);
      if (reply.generation_id) running.add(reply.generation_id);
      if (message.request.kind === "plan") planStartMin = null;
      status.textContent = t("content.started");
      status.dataset.generationId = reply.generation_id || "";
      refreshStop();
    } catch (err) {
      status.textContent = humanError(err);
    } finally {
      request.disabled = false;
    }
  };
  stop.onclick = () => Promise.all([...running].map(stopOne));
}
