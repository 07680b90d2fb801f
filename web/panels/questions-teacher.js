// Questions, teacher side: the composer (choice or free text, the correct answer picked by
// clicking, a time limit, for the class or one group, the teacher's own hints), then the live card: a countdown,
// "N of M answered", bars per choice as answers arrive and who has not answered; after
// closing, results with percentages and the free-text evaluations grouped, the prepared
// hints, and "show students the answer".

import { announce, bars, el, frameScheduler } from "/dom.js";
import { formatClock, formatNumber, formatPercent, humanError, t } from "/i18n.js";

const LIMITS = [0, 30, 60, 120, 300];
// What question.ask accepts (docs/protocol.md): at most 5 hints of up to 500 characters.
const MAX_HINTS = 5;
const MAX_HINT_CHARS = 500;

/** The teacher's hints from the composer's text: one per line, blank lines left out. */
function hintLines(value) {
  return value.split(/\r?\n/).map((h) => h.trim()).filter(Boolean);
}

export function evaluationGroup(a) {
  if (!a.evaluated) return "pending";
  if (a.correct === true) return "right";
  if (a.correct === false) return (a.score || 0) >= 0.4 ? "partly" : "wrong";
  return "review";
}

export function mount(ctx, host) {
  const { client, model } = ctx;
  // -- composer ---------------------------------------------------------------------------
  const text = el("textarea", { id: "q-text", rows: "2", maxlength: "2000", required: true });
  const kindChoice = el("input", { type: "radio", name: "q-kind", value: "choice", id: "q-kind-choice", checked: true });
  const kindFree = el("input", { type: "radio", name: "q-kind", value: "free", id: "q-kind-free" });
  const choiceList = el("ol", { class: "choice-editor", id: "q-choices" });
  const addChoice = el("button", { type: "button", class: "btn-small", id: "q-add-choice" }, t("q.add_choice"));
  const reference = el("input", { id: "q-reference", maxlength: "2000" });
  const limit = el("select", { id: "q-limit" }, ...LIMITS.map((s) => new Option(s ? formatClock(s) : t("q.no_limit"), String(s))));
  limit.value = "60";
  const audience = el("select", { id: "q-audience" }, new Option(t("common.whole_class"), ""));
  const autoHint = el("input", { type: "checkbox", id: "q-auto-hint" });
  const hintsHelp = el("small", { class: "muted", id: "q-hints-help" }, t("q.hints_help", { n: MAX_HINTS }));
  const hintsInput = el("textarea", { id: "q-hints-input", rows: "3", "aria-describedby": "q-hints-help" });
  const ask = el("button", { type: "submit", class: "btn btn-primary", id: "q-ask" }, t("q.ask"));
  const status = el("p", { class: "form-status", id: "q-status", role: "status" });
  const choicesField = el("fieldset", { class: "field", id: "q-choices-field" }, el("legend", {}, t("q.choices_legend")), choiceList, addChoice);
  const referenceField = el("label", { class: "field", id: "q-reference-field", hidden: true }, el("span", {}, t("q.reference")), reference,
    el("small", { class: "muted" }, t("q.reference_help")));
  const form = el("form", { id: "q-form", class: "stack" },
    el("label", { class: "field" }, el("span", {}, t("q.text")), text),
    el("fieldset", { class: "field segmented" }, el("legend", {}, t("q.kind")),
      el("label", {}, kindChoice, t("q.kind_choice")), el("label", {}, kindFree, t("q.kind_free"))),
    choicesField, referenceField,
    el("div", { class: "row-fields" },
      el("label", { class: "field" }, el("span", {}, t("q.time_limit")), limit),
      el("label", { class: "field" }, el("span", {}, t("common.send_to")), audience)),
    el("label", { class: "field" }, el("span", {}, t("q.hints_label")), hintsInput, hintsHelp),
    el("label", { class: "check" }, autoHint, t("q.auto_hint")),
    el("div", {}, ask), status);
  const live = el("div", { id: "q-live" });
  host.append(el("h2", { class: "sr-only" }, t("tabs.question")), live, form);

  function choiceRow(value = "") {
    const n = choiceList.children.length;
    const input = el("input", { class: "q-choice", maxlength: "200", "aria-label": t("q.choice_n", { n: n + 1 }) });
    input.value = value;
    const correct = el("input", { type: "radio", name: "q-correct", class: "q-correct", value: String(n), "aria-label": t("q.correct_n", { n: n + 1 }) });
    const li = el("li", {}, input, el("label", { class: "correct-pick" }, correct, el("span", { "aria-hidden": "true" }, t("q.correct"))));
    choiceList.append(li);
  }
  for (let i = 0; i < 3; i++) choiceRow();
  addChoice.onclick = () => { if (choiceList.children.length < 10) choiceRow(); choiceList.lastChild.querySelector("input").focus(); };
  const showKind = () => {
    const free = kindFree.checked;
    choicesField.hidden = free;
    referenceField.hidden = !free;
  };
  kindChoice.onchange = kindFree.onchange = showKind;
  ctx.addGroupOption = ctx.addGroupOption || [];
  ctx.groupSelects = [...(ctx.groupSelects || []), audience];

  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const free = kindFree.checked;
    const msg = { type: "question.ask", text: text.value.trim(), kind: free ? "free" : "choice", auto_hint: autoHint.checked };
    if (!msg.text) { status.textContent = t("q.need_text"); text.focus(); return; }
    if (!free) {
      const inputs = [...choiceList.querySelectorAll("li")];
      const kept = inputs.map((li) => ({ value: li.querySelector(".q-choice").value.trim(), correct: li.querySelector(".q-correct").checked })).filter((c) => c.value);
      if (kept.length < 2) { status.textContent = t("q.need_choices"); return; }
      if (new Set(kept.map((c) => c.value)).size !== kept.length) { status.textContent = t("q.choices_differ"); return; }
      msg.choices = kept.map((c) => c.value);
      const right = kept.findIndex((c) => c.correct);
      if (right >= 0) msg.correct = right;
    } else if (reference.value.trim()) {
      msg.correct = reference.value.trim();
    }
    const hints = hintLines(hintsInput.value);
    if (hints.length > MAX_HINTS) { status.textContent = t("q.too_many_hints", { n: MAX_HINTS }); hintsInput.focus(); return; }
    if (hints.some((h) => h.length > MAX_HINT_CHARS)) { status.textContent = t("q.hint_too_long", { n: MAX_HINT_CHARS }); hintsInput.focus(); return; }
    if (hints.length) msg.hints = hints;
    if (Number(limit.value)) msg.time_limit_s = Number(limit.value);
    if (audience.value) msg.to = { group: audience.value };
    ask.disabled = true;
    status.textContent = t("common.sending");
    try {
      const ack = await client.request(msg);
      opened(ack.question);
      status.textContent = t("q.asked");
      form.reset();
      limit.value = "60";
      choiceList.replaceChildren();
      for (let i = 0; i < 3; i++) choiceRow();
      showKind();
    } catch (err) {
      status.textContent = humanError(err);
    } finally {
      ask.disabled = false;
    }
  };

  // -- the live card ----------------------------------------------------------------------
  const questions = new Map(); // id -> {q, answers: Map(user -> answer), summary, hints}
  let currentId = null;
  let ticker = null;
  let missingOpen = false; // the "not answered yet" list, kept open across redraws

  function entry(id) {
    if (!questions.has(id)) questions.set(id, { q: null, answers: new Map(), summary: null, hints: [] });
    return questions.get(id);
  }

  function opened(q) {
    const e = entry(q.id);
    e.q = { ...(e.q || {}), ...q };
    if (currentId !== q.id && q.status !== "closed") {
      currentId = q.id;
      missingOpen = false;
      model.openQuestion(e.q);
    }
    draw();
  }

  function draw() {
    const e = currentId && questions.get(currentId);
    clearInterval(ticker);
    if (!e || !e.q) { live.replaceChildren(); return; }
    const q = e.q;
    const isOpen = q.status !== "closed";
    const asked = model.audience();
    const answers = [...e.answers.values()];
    const counted = answers.length;
    const askedCount = Math.max(asked.length, counted);
    const countdown = el("p", { class: "countdown", id: "q-countdown", role: "timer", "aria-live": "off" });
    const tick = () => {
      if (!isOpen) { countdown.textContent = t("q.closed"); return; }
      if (!q.closes_at_ms) { countdown.textContent = t("q.open_no_limit"); return; }
      const left = Math.max(0, (q.closes_at_ms - Date.now()) / 1000);
      countdown.textContent = t("q.time_left", { time: formatClock(Math.ceil(left)) });
      countdown.dataset.left = String(Math.ceil(left));
    };
    tick();
    if (isOpen && q.closes_at_ms) ticker = setInterval(tick, 500);
    const parts = [
      el("div", { class: "card-head" }, el("h3", { id: "q-live-text" }, q.text),
        q.to && q.to.group ? el("span", { class: "badge badge-info" }, t("roster.in_group", { group: q.to.group })) : null),
      countdown,
      el("p", { class: "answered-count", id: "q-answered", dataset: { n: String(counted), of: String(askedCount) } },
        t("q.n_of_m_answered", { n: counted, m: askedCount })),
    ];
    if (q.kind === "choice") {
      const counts = q.choices.map(() => 0);
      for (const a of answers) if (a.choice !== null && a.choice !== undefined && counts[a.choice] !== undefined) counts[a.choice] += 1;
      parts.push(bars(q.choices.map((c, i) => ({ label: c, count: counts[i], highlight: !isOpen && q.correct === i })), counted,
        { format: (n) => formatNumber(n), percent: formatPercent }));
    }
    if (!isOpen && q.kind === "free") parts.push(freeResults(answers));
    const missing = asked.filter((p) => !e.answers.has(p.id));
    if (isOpen && missing.length) {
      // Redraws (answers, presence) must not snap the list shut while the teacher reads it.
      const details = el("details", { class: "not-answered", id: "q-missing",
        on: { toggle: () => { missingOpen = details.open; } } },
        el("summary", {}, t("q.not_answered_yet", { n: missing.length })),
        el("p", {}, missing.slice(0, 200).map((p) => p.name).join(", ")));
      details.open = missingOpen;
      parts.push(details);
    }
    if (e.hints.length) {
      parts.push(el("div", { class: "hints-ready", id: "q-hints" }, el("h4", {}, t("q.prepared_hints")),
        el("ol", {}, ...e.hints.map((h, level) => el("li", {}, el("span", {}, h), " ",
          el("button", { type: "button", class: "btn-small", dataset: { level: String(level) }, on: { click: () => hintWrong(q, level) } }, t("q.hint_to_wrong")))))));
    }
    const buttons = el("div", { class: "button-row" });
    if (isOpen) buttons.append(el("button", { type: "button", class: "btn", id: "q-close", on: { click: () => closeQ(q.id) } }, t("q.close_now")));
    else buttons.append(el("button", { type: "button", class: "btn", id: "q-reveal", on: { click: () => reveal(q.id) } }, e.revealed ? t("q.revealed") : t("q.reveal")));
    parts.push(buttons);
    live.replaceChildren(el("section", { class: "question-live", id: "question-live", dataset: { questionId: q.id, status: isOpen ? "open" : "closed" }, "aria-labelledby": "q-live-text" }, ...parts));
  }
  const redraw = frameScheduler(draw);

  function freeResults(answers) {
    const groups = { right: [], partly: [], wrong: [], review: [], pending: [] };
    for (const a of answers) groups[evaluationGroup(a)].push(a);
    return el("div", { class: "eval-groups", id: "q-eval-groups" }, ...Object.entries(groups).filter(([, list]) => list.length).map(([name, list]) =>
      el("section", { class: `eval-group eval-${name}`, dataset: { group: name } }, el("h4", {}, t(`q.eval.${name}`, { n: list.length })),
        el("ul", {}, ...list.map((a) => el("li", {}, el("strong", {}, a.name), `: ${a.text || ""}`, a.feedback ? el("small", { class: "muted" }, ` — ${a.feedback}`) : null))))));
  }

  async function closeQ(id) {
    try { await client.request({ type: "question.close", question_id: id }); } catch (err) { status.textContent = humanError(err); }
  }
  async function reveal(id) {
    try {
      await client.request({ type: "question.reveal", question_id: id });
      entry(id).revealed = true;
      announce(t("q.revealed"));
      draw();
    } catch (err) { status.textContent = humanError(err); }
  }
  async function hintWrong(q, level) {
    const wrong = [...entry(q.id).answers.values()].filter((a) => a.correct === false);
    const targets = wrong.length ? wrong : [];
    if (!targets.length) { status.textContent = t("q.no_wrong_yet"); return; }
    for (const a of targets) {
      try { await client.request({ type: "hint.send", user: a.user, question_id: q.id, level }); } catch (err) { status.textContent = humanError(err); return; }
    }
    status.textContent = t("q.hints_sent", { n: targets.length });
    announce(status.textContent);
  }

  client.on("question.opened", (env) => opened(env.payload.question));
  client.on("question.closed", (env) => {
    const e = entry(env.payload.question_id);
    if (e.q) e.q = { ...e.q, status: "closed" };
    model.closeQuestion(env.payload.question_id);
    if (env.payload.question_id === currentId) announce(t("q.closed_announce"));
    redraw();
  });
  client.on("question.summary", (env) => { entry(env.payload.question_id).summary = env.payload; redraw(); });
  client.on("hints.ready", (env) => { entry(env.payload.question_id).hints = env.payload.hints; redraw(); });
  const onAnswer = (p) => {
    const e = entry(p.question_id);
    const user = p.user || p.user_id;
    const a = { ...(e.answers.get(user) || {}), user, name: p.name, answer_id: p.answer_id };
    if ("choice" in p && p.choice !== undefined) a.choice = p.choice;
    if ("text" in p && p.text) a.text = p.text;
    if ("correct" in p) Object.assign(a, { correct: p.correct, score: p.score, feedback: p.feedback, evaluated: true });
    e.answers.set(user, a);
    model.answer({ ...p, user });
    if (p.question_id === currentId) redraw();
  };
  client.on("answer.received", (env) => onAnswer(env.payload));
  client.on("answer.evaluated", (env) => onAnswer(env.payload));
  model.addEventListener("change", () => { if (currentId) redraw(); });

  // A reloaded teacher: the open question and the answers so far, from the snapshot.
  client.on("snapshot", (snap) => {
    const ix = snap.interactions || {};
    for (const q of ix.questions || []) opened(q);
    for (const a of ix.answers || []) onAnswer(a);
    for (const [qid, hints] of Object.entries(ix.hints || {})) entry(qid).hints = hints;
    redraw();
  });
  return { current: () => currentId && questions.get(currentId) };
}
