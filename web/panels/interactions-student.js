// What the teacher opened now, student side: the question card (countdown, choices as big
// buttons or a text box; then what was picked, the receipt, and — when the teacher shows
// it — right or wrong with feedback), the poll, hints as cards, and raise hand / ask for
// help / "I'm confused" with their state. Everything new is announced to screen readers.

import { announce, bars, el } from "/dom.js";
import { formatClock, formatList, formatNumber, formatPercent, formatTime, humanError, t } from "/i18n.js";

export function mountNow(ctx, host) {
  const { client } = ctx;
  const questionBox = el("div", { id: "question", class: "question-card", dataset: { state: "none" } });
  const pollBox = el("div", { id: "poll", class: "poll-card", dataset: { state: "none" } });
  const idle = el("p", { class: "muted", id: "now-idle" }, t("now.nothing"));
  host.append(el("h2", {}, t("now.title")), idle, questionBox, pollBox);
  const answered = new Map(); // question id -> {answer_id, choice, text, submitted_at_ms}
  const results = new Map();  // question id -> answer.result payload
  let current = null;
  let ticker = null;
  // On a phone the card is below the video and the lesson: a bar at the top leads to it.
  const jump = el("a", { href: "#now", class: "now-jump", id: "now-jump", hidden: true });
  document.querySelector("main")?.prepend(jump);
  jump.addEventListener("click", () => setTimeout(() => host.focus(), 0));
  const refreshIdle = () => {
    idle.hidden = questionBox.dataset.state !== "none" || pollBox.dataset.state !== "none";
    const open = questionBox.dataset.state === "open" ? "question" : pollBox.dataset.state === "open" ? "poll" : null;
    jump.hidden = !open;
    if (open) jump.textContent = t(`now.jump_${open}`);
  };

  function drawQuestion() {
    clearInterval(ticker);
    const q = current;
    if (!q) { questionBox.dataset.state = "none"; questionBox.replaceChildren(); refreshIdle(); return; }
    const mine = answered.get(q.id);
    const result = results.get(q.id);
    const open = q.status !== "closed" && !(q.closes_at_ms && Date.now() >= q.closes_at_ms);
    questionBox.dataset.state = open ? "open" : "closed";
    questionBox.dataset.questionId = q.id;
    const countdown = el("p", { class: "countdown", id: "question-countdown", role: "timer", "aria-live": "off" });
    const tick = () => {
      if (!open || (q.closes_at_ms && Date.now() >= q.closes_at_ms)) {
        countdown.textContent = q.close_reason === "teacher" ? t("q.closed_by_teacher") : q.closes_at_ms ? t("q.time_up") : t("q.closed");
        if (open && q.closes_at_ms && Date.now() >= q.closes_at_ms) { q.status = "closed"; q.close_reason = "time"; drawQuestion(); }
        return;
      }
      if (!q.closes_at_ms) { countdown.textContent = t("q.no_limit_student"); return; }
      const left = Math.ceil((q.closes_at_ms - Date.now()) / 1000);
      countdown.textContent = t("q.time_left", { time: formatClock(left) });
      countdown.dataset.left = String(left);
      if (left === 10) announce(t("q.ten_seconds"));
    };
    tick();
    if (open && q.closes_at_ms) ticker = setInterval(tick, 500);
    const parts = [el("h3", { id: "question-text" }, q.text), countdown];
    if (q.kind === "choice") {
      parts.push(el("div", { class: "choices", role: "group", "aria-labelledby": "question-text" }, ...q.choices.map((c, i) => {
        const picked = mine && mine.choice === i;
        const b = el("button", { type: "button", class: `choice${picked ? " picked" : ""}`, dataset: { index: String(i) },
          "aria-pressed": String(Boolean(picked)), disabled: Boolean(mine) || !open }, el("span", { class: "choice-letter", "aria-hidden": "true" }, String.fromCharCode(65 + i)), c);
        b.onclick = () => submit({ choice: i });
        return b;
      })));
    } else if (!mine && open) {
      const text = el("textarea", { id: "answer-text", rows: "3", maxlength: "4000" });
      const send = el("button", { type: "button", class: "btn btn-primary", id: "answer-send" }, t("q.send_answer"));
      send.onclick = () => { if (text.value.trim()) submit({ text: text.value.trim() }); else text.focus(); };
      parts.push(el("label", { class: "field" }, el("span", {}, t("q.your_answer")), text), send);
    }
    if (mine) {
      const picked = q.kind === "choice" ? q.choices[mine.choice] : mine.text;
      parts.push(el("div", { class: "receipt", id: "receipt", dataset: { answerId: mine.answer_id } },
        el("p", {}, el("strong", {}, t("q.you_answered")), " ", picked || ""),
        el("p", { class: "muted" }, "✓ ", t("q.receipt", { time: formatTime(mine.submitted_at_ms || Date.now()) }))));
    }
    if (result) {
      const right = result.correct === true;
      const wrong = result.correct === false;
      const answer = q.kind === "choice" && typeof result.correct_choice === "number" ? q.choices[result.correct_choice] : result.reference;
      parts.push(el("div", { class: `result ${right ? "result-right" : wrong ? "result-wrong" : "result-review"}`, id: "result", dataset: { correct: String(result.correct) } },
        el("p", {}, el("strong", {}, right ? t("q.right") : wrong ? t("q.wrong") : t("q.reviewed"))),
        wrong && answer ? el("p", {}, t("q.the_answer_was", { answer })) : null,
        ...feedbackLines(q, result)));
    }
    parts.push(el("p", { class: "form-status", role: "status", id: "question-status" }));
    questionBox.replaceChildren(...parts);
    refreshIdle();
  }

  // The server's feedback is English; say what it says in the page's language when it is
  // built from structured fields (docs/protocol.md, answer.result feedback_kind). A server
  // without feedback_kind: a choice question's feedback only restates the key.
  function feedbackLines(q, result) {
    const kind = result.feedback_kind || (q.kind === "choice" ? "key" : "text");
    if (kind === "keywords") {
      const matched = result.matched || [];
      const missing = (result.missing || []).slice(0, 3);
      return [matched.length ? el("p", {}, t("q.covered", { words: formatList(matched) })) : null,
        missing.length && result.correct !== true ? el("p", {}, t("q.think_about", { words: formatList(missing) })) : null];
    }
    return [kind === "text" && result.feedback ? el("p", { class: "result-feedback" }, result.feedback) : null];
  }

  async function submit(fields) {
    const q = current;
    questionBox.querySelectorAll("button, textarea").forEach((b) => { b.disabled = true; });
    try {
      const receipt = await client.request({ type: "answer.submit", question_id: q.id, ...fields });
      answered.set(q.id, { answer_id: receipt.answer_id, submitted_at_ms: receipt.submitted_at_ms, ...fields });
      drawQuestion();
      announce(t("q.answer_received"));
    } catch (err) {
      if (err.code === "question_closed") { q.status = "closed"; drawQuestion(); }
      else { drawQuestion(); }
      const s = questionBox.querySelector("#question-status");
      if (s) s.textContent = humanError(err);
    }
  }

  const showQuestion = (q, fresh) => {
    current = { ...q };
    drawQuestion();
    if (fresh) announce(t("q.announce_new", { text: q.text }), { urgent: true });
  };
  client.on("question.opened", (env) => showQuestion(env.payload.question, true));
  client.on("question.closed", (env) => {
    if (current && current.id === env.payload.question_id) {
      current.status = "closed";
      current.close_reason = env.payload.reason;
      drawQuestion();
      announce(env.payload.reason === "time" ? t("q.time_up") : t("q.closed_by_teacher"));
    }
  });
  client.on("answer.result", (env) => {
    const p = env.payload;
    results.set(p.question_id, p);
    if (current && current.id === p.question_id) drawQuestion();
    announce(p.correct === true ? t("q.right") : p.correct === false ? t("q.wrong") : t("q.reviewed"));
  });

  // -- poll ---------------------------------------------------------------------------------
  let poll = null;
  function drawPoll() {
    if (!poll) { pollBox.dataset.state = "none"; pollBox.replaceChildren(); refreshIdle(); return; }
    const open = poll.poll.status !== "closed" && !poll.closed;
    pollBox.dataset.state = open ? "open" : "closed";
    pollBox.dataset.pollId = poll.poll.id;
    const tally = poll.tally;
    pollBox.replaceChildren(el("h3", { id: "poll-question-text" }, poll.poll.question),
      el("p", { class: "muted" }, open ? t("poll.vote_hint") : t("poll.closed")),
      el("div", { class: "choices", role: "group", "aria-labelledby": "poll-question-text" }, ...poll.poll.options.map((o, i) => {
        const b = el("button", { type: "button", class: `choice vote${poll.mine === i ? " picked" : ""}`, dataset: { option: String(i) }, "aria-pressed": String(poll.mine === i), disabled: !open }, o);
        b.onclick = () => vote(i);
        return b;
      })),
      tally ? bars(poll.poll.options.map((o, i) => ({ label: o, count: tally.counts[i] || 0 })), tally.total, { format: (n) => formatNumber(n), percent: formatPercent }) : null,
      el("p", { class: "form-status", role: "status", id: "poll-status" }, poll.mine !== null && poll.mine !== undefined ? t("poll.your_vote", { option: poll.poll.options[poll.mine] }) : ""));
    refreshIdle();
  }
  async function vote(i) {
    try {
      await client.request({ type: "poll.vote", poll_id: poll.poll.id, option: i });
      poll.mine = i;
      drawPoll();
      announce(t("poll.your_vote", { option: poll.poll.options[i] }));
    } catch (err) { pollBox.querySelector("#poll-status").textContent = humanError(err); }
  }
  client.on("poll.opened", (env) => { poll = { poll: env.payload.poll, tally: env.payload.tally || null, mine: null }; drawPoll(); announce(t("poll.announce_new", { text: env.payload.poll.question }), { urgent: true }); });
  client.on("poll.tally", (env) => { if (poll && poll.poll.id === env.payload.poll_id) { poll.tally = env.payload; drawPoll(); } });
  client.on("poll.closed", (env) => {
    if (!poll || poll.poll.id !== env.payload.poll_id) return;
    poll.closed = true;
    if (env.payload.tally) poll.tally = env.payload.tally;
    drawPoll();
  });

  client.on("snapshot", (snap) => {
    const ix = snap.interactions || {};
    for (const a of ix.my_answers || []) answered.set(a.question_id, { answer_id: a.answer_id, choice: a.choice, text: a.text, submitted_at_ms: a.submitted_at_ms });
    const open = (ix.questions || [])[ix.questions.length - 1];
    if (open) showQuestion(open, false);
    const p = (ix.polls || [])[ix.polls.length - 1];
    if (p) { poll = { poll: p.poll, tally: p.tally || null, mine: p.my_vote ?? null }; drawPoll(); }
  });
  refreshIdle();
}

export function mountHints(ctx, host) {
  const { client } = ctx;
  const list = el("ol", { class: "hint-list", id: "hints" });
  host.append(el("h2", {}, t("hints.title")), list);
  host.hidden = true;
  client.on("hint", (env) => {
    const p = env.payload;
    host.hidden = false;
    list.prepend(el("li", { class: "hint-card", dataset: { seq: String(env.seq) } },
      el("p", { class: "muted" }, p.from && p.from.name ? t("hints.from", { name: p.from.name }) : t("hints.title")), el("p", { class: "hint-text" }, p.text)));
    announce(t("hints.announce", { text: p.text }));
  });
}

export function mountHelp(ctx, host) {
  const { client } = ctx;
  const hand = el("button", { type: "button", class: "btn", id: "hand" }, t("help.raise_hand"));
  const helpText = el("input", { id: "help-text", maxlength: "1000", autocomplete: "off" });
  const helpSend = el("button", { type: "submit", class: "btn", id: "help-send" }, t("help.ask"));
  const confusedDetail = el("input", { id: "confused-detail", maxlength: "500", autocomplete: "off" });
  const confused = el("button", { type: "submit", class: "btn", id: "confused" }, t("help.confused"));
  const state = el("p", { id: "help-state", class: "help-state", role: "status", dataset: { state: "none" } });
  const confusedState = el("p", { id: "confused-state", class: "form-status", role: "status" });
  const helpForm = el("form", { class: "row-fields", id: "help-form" }, el("label", { class: "field" }, el("span", {}, t("help.what_stuck")), helpText), helpSend);
  const confusedForm = el("form", { class: "row-fields", id: "confused-form" }, el("label", { class: "field" }, el("span", {}, t("help.what_unclear")), confusedDetail), confused);
  host.append(el("h2", {}, t("help.student_title")), el("div", { class: "button-row" }, hand), state, helpForm, confusedForm, confusedState);

  const setState = (s, words) => { state.dataset.state = s; state.textContent = words; hand.disabled = s === "waiting" || s === "on_it"; };
  async function ask(kind, text) {
    try {
      const ack = await client.request({ type: "help.request", kind, text });
      state.dataset.helpId = ack.help_id;
      setState("waiting", t(kind === "hand" ? "help.hand_raised" : "help.asked"));
      announce(state.textContent);
      helpText.value = "";
    } catch (err) { setState("error", humanError(err)); }
  }
  hand.onclick = () => ask("hand", "");
  helpForm.onsubmit = (ev) => { ev.preventDefault(); if (!helpText.value.trim()) { helpText.focus(); setState(state.dataset.state, t("help.say_what")); return; } ask("help", helpText.value); };
  confusedForm.onsubmit = async (ev) => {
    ev.preventDefault();
    confused.disabled = true;
    try {
      // About the lesson content on screen, so the teacher sees the signal beside it.
      const msg = { type: "content.confused", detail: confusedDetail.value.trim() };
      const inView = ctx.feed && ctx.feed.inView();
      if (inView) msg.generation_id = inView.id;
      let reply;
      try {
        reply = await client.request(msg);
      } catch (err) {
        // A lesson this server does not know yet (streaming from another server process):
        // the signal still counts, without saying which content it is about.
        if (err.code !== "not_found" || !msg.generation_id) throw err;
        delete msg.generation_id;
        reply = await client.request(msg);
      }
      confusedState.textContent = reply.supplement ? t("help.confused_extra") : t("help.confused_sent");
      confusedState.dataset.sent = "true";
      confusedDetail.value = "";
    } catch (err) { confusedState.textContent = humanError(err); } finally { confused.disabled = false; }
  };
  client.on("help.resolved", () => { setState("resolved", t("help.resolved")); announce(t("help.resolved")); });
  client.on("message", (env) => {
    const d = env.payload.data;
    if (d && d.kind === "help.on_it") { setState("on_it", t("help.teacher_coming")); announce(t("help.teacher_coming")); }
  });
  client.on("snapshot", (snap) => {
    const mine = (snap.interactions || {}).my_help;
    if (mine) setState("waiting", t(mine.kind === "hand" ? "help.hand_raised" : "help.asked"));
  });
}
