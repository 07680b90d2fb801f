// Lesson content, teacher side: request a lesson, plan, adapted text, visual or personalised
// lessons for the class or a group, watch them stream, stop them, and see which students
// say they are confused. The stream itself is drawn by the student panel's ContentFeed.

import { el } from "/dom.js";
import { ContentFeed } from "/panels/content-student.js";

const KINDS = [
  ["lesson", "Lesson"], ["plan", "Lesson plan"], ["adapt", "Adapt a text"],
  ["visual", "Visual"], ["personalized", "Personalised (per student group)"],
];
const DIFFICULTIES = ["beginner", "intermediate", "advanced"];
const STYLES = ["visual", "auditory", "reading_writing", "kinesthetic", "mixed"];

const field = (label, input, kinds) =>
  el("label", { class: "content-field", dataset: { kinds } }, el("span", {}, label), input);

/** "user:level:style" lines -> students; level and style may be left out. */
export function parseStudents(text) {
  const students = [];
  for (const [n, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const [userId, level, style] = line.split(":").map((s) => s.trim());
    if (level && !DIFFICULTIES.includes(level)) throw new Error(`line ${n + 1}: level must be ${DIFFICULTIES.join(", ")}`);
    if (style && !STYLES.includes(style)) throw new Error(`line ${n + 1}: style must be ${STYLES.join(", ")}`);
    students.push({ user_id: userId, ...(level ? { level } : {}), ...(style ? { learning_style: style } : {}) });
  }
  if (!students.length) throw new Error("list at least one student as user:level:style");
  return students;
}

export async function mount(client, section) {
  const kind = el("select", { id: "content-kind" }, ...KINDS.map(([v, l]) => new Option(l, v)));
  const prompt = el("textarea", { id: "content-prompt", rows: "2", cols: "36",
    placeholder: "What should the lesson explain?" });
  const topic = el("input", { id: "content-topic", size: "24", placeholder: "topic (optional for lessons)" });
  const minutes = el("input", { id: "content-minutes", type: "number", min: "1", max: "240", value: "20" });
  const understanding = el("input", { id: "content-understanding", type: "range", min: "0", max: "100", value: "60" });
  const understandingOut = el("output", { id: "content-understanding-value" }, "60%");
  understanding.oninput = () => { understandingOut.textContent = `${understanding.value}%`; };
  const text = el("textarea", { id: "content-text", rows: "3", cols: "36", placeholder: "Text to adapt" });
  const difficulty = el("select", { id: "content-difficulty" }, ...DIFFICULTIES.map((d) => new Option(d, d)));
  const description = el("input", { id: "content-description", size: "36", placeholder: "What should the visual show?" });
  const students = el("textarea", { id: "content-students", rows: "3", cols: "36",
    placeholder: "one student a line: user:level:style\nstu1:beginner:visual" });
  const audience = el("select", { id: "content-audience" }, new Option("whole class", "session"));
  const request = el("button", { id: "content-request", type: "submit" }, "Request");
  const stop = el("button", { id: "content-stop", type: "button", disabled: "" }, "Stop");
  const status = el("div", { id: "content-status", class: "content-note", role: "status" });
  const confusions = el("ul", { id: "content-confusions", class: "content-confusions" });
  const list = el("div", { id: "content-feed", class: "content-feed" });

  const form = el("form", { id: "content-form", class: "content-form" },
    field("Kind", kind, "*"),
    field("Prompt", prompt, "lesson personalized"),
    field("Topic", topic, "lesson plan personalized"),
    field("Minutes remaining", minutes, "plan"),
    field("Class understanding", el("span", {}, understanding, " ", understandingOut), "plan"),
    field("Text", text, "adapt"),
    field("Target difficulty", difficulty, "adapt"),
    field("Description", description, "visual"),
    field("Students", students, "personalized"),
    field("For", audience, "lesson plan adapt visual"),
    el("div", { class: "content-buttons" }, request, stop));
  section.dataset.panel = "content";
  section.append(el("h2", {}, "Lesson content"), form, status,
    el("h3", {}, "Confused students"), confusions, list);
  if (!document.getElementById("content-teacher-style")) {
    document.head.append(el("style", { id: "content-teacher-style" }, STYLE));
  }

  // Running generations: from the content.accepted reply and from content.started
  // (personalised and supplementary ones are only known from the latter).
  const running = new Set();
  const refreshStop = () => {
    for (const id of feed.running()) running.add(id);
    for (const id of [...running]) {
      const view = feed.generations.get(id);
      if (view && !["waiting", "streaming"].includes(view.root.dataset.state)) running.delete(id);
    }
    stop.disabled = running.size === 0;
    stop.dataset.running = [...running].join(" ");
  };
  const stopOne = async (id) => {
    try {
      await client.request({ type: "content.stop", generation_id: id });
    } catch (err) {
      // Already finished between the click and the server: nothing left to stop.
      if (!/no running generation/.test(err.message)) status.textContent = `Stop failed: ${err.message}`;
    }
  };
  const feed = new ContentFeed(client, list, { onStop: stopOne, onChange: refreshStop });

  const showFields = () => {
    for (const label of form.querySelectorAll(".content-field")) {
      const kinds = label.dataset.kinds;
      label.hidden = !(kinds === "*" || kinds.split(" ").includes(kind.value));
    }
  };
  kind.onchange = showFields;
  showFields();

  const addGroup = (name) => {
    if (!name || [...audience.options].some((o) => o.value === `group:${name}`)) return;
    audience.add(new Option(`group ${name}`, `group:${name}`));
  };
  client.addEventListener("welcome", (e) => Object.keys(e.detail.session?.groups || {}).forEach(addGroup));
  client.addEventListener("group.updated", (e) => addGroup(e.detail.payload.group));

  client.addEventListener("content.confusion", (e) => {
    const p = e.detail.payload;
    const li = el("li", { dataset: { user: p.user } }, el("strong", {}, p.name || p.user),
      p.detail ? `: ${p.detail}` : " is confused");
    confusions.prepend(li);
    while (confusions.children.length > 50) confusions.lastChild.remove();
  });

  const buildRequest = () => {
    const topicValue = topic.value.trim();
    switch (kind.value) {
      case "lesson":
        return { kind: "lesson", prompt: prompt.value, ...(topicValue ? { topic: topicValue } : {}) };
      case "plan":
        return { kind: "plan", topic: topicValue, minutes_remaining: Number(minutes.value),
                 understanding: Number(understanding.value) / 100 };
      case "adapt":
        return { kind: "adapt", text: text.value, target_difficulty: difficulty.value };
      case "visual":
        return { kind: "visual", description: description.value };
      case "personalized":
        return { kind: "personalized", prompt: prompt.value, students: parseStudents(students.value),
                 ...(topicValue ? { topic: topicValue } : {}) };
      default:
        throw new Error(`unknown kind ${kind.value}`);
    }
  };

  form.onsubmit = async (ev) => {
    ev.preventDefault();
    let message;
    try {
      const [target, name] = audience.value.split(":");
      message = { type: "content.request", request: buildRequest(),
                  to: target === "group" ? { group: name } : { session: true } };
    } catch (err) {
      status.textContent = err.message;
      return;
    }
    request.disabled = true;
    status.textContent = "requesting…";
    try {
      const reply = await client.request(message);
      if (reply.generation_id) running.add(reply.generation_id);
      status.textContent = reply.groups
        ? `started for ${reply.groups.length} group(s): ${reply.groups.map((g) => g.name).join(", ")}`
        : `started ${reply.kind}`;
      status.dataset.generationId = reply.generation_id || "";
      refreshStop();
    } catch (err) {
      status.textContent = `Refused: ${err.message}`;
    } finally {
      request.disabled = false;
    }
  };
  stop.onclick = () => Promise.all([...running].map(stopOne));
}

const STYLE = `
.content-form { flex-direction: column; align-items: stretch; }
.content-field { display: flex; gap: .5rem; align-items: baseline; }
.content-field > span:first-child { min-width: 9rem; font-size: .9rem; color: #445; }
.content-field[hidden] { display: none; }
.content-buttons { display: flex; gap: .4rem; }
.content-confusions { font-size: .9rem; padding-left: 1.2rem; }
`;
