// Teacher panel for live interactions: questions with live answers and evaluations, hints,
// the help queue, polls and the shared board. Mounted by teacher.html into a <section>.
import { Board, h } from "/panels/interactions-board.js";


export async function mount(client, section) {
  section.classList.add("ix-panel");
  section.innerHTML = `
    <h2>Interactions</h2>
    <form id="ix-ask">
      <input id="ix-q-text" placeholder="Question" size="30" required>
      <input id="ix-q-choices" placeholder="choices, comma separated (empty: free text)" size="30">
      <input id="ix-q-correct" placeholder="right choice # / reference answer" size="18">
      <input id="ix-q-limit" type="number" min="1" max="3600" placeholder="seconds" style="width:6em">
      <button id="ix-q-submit">Ask</button>
    </form>
    <div id="ix-error" class="ix-error"></div>
    <div id="ix-questions"></div>
    <h3>Help queue</h3><ul id="ix-help"></ul>
    <h3>Polls</h3>
    <form id="ix-poll">
      <input id="ix-poll-question" placeholder="Poll question" size="24" required>
      <input id="ix-poll-options" placeholder="options, comma separated" size="24" required>
      <label><input id="ix-poll-show" type="checkbox"> show results to students</label>
      <button id="ix-poll-submit">Start poll</button>
    </form>
    <div id="ix-polls"></div>
    <h3>Board</h3>
    <label><input id="ix-board-permit" type="checkbox"> students may draw</label>
    <input id="ix-note-text" placeholder="note text (click the board)" size="24">
    <div id="ix-board-host"></div>`;
  const $ = (id) => section.querySelector(`#${id}`);
  const showError = (err) => { $("ix-error").textContent = err ? err.message : ""; };
  const board = new Board(client, $("ix-board-host"), { idPrefix: "t" });
  board.canDraw = true;
  board.noteText = () => $("ix-note-text").value || "note";

  // -- questions and answers ---------------------------------------------------------------
  const questions = new Map(); // id -> {el, question}
  function questionBox(q) {
    if (questions.has(q.id)) return questions.get(q.id).el;
    const el = h("div", { className: "ix-question", "data-question-id": q.id });
    const choices = q.choices.length ? ` [${q.choices.map((c, i) => `${i}: ${c}`).join(", ")}]` : "";
    el.append(h("p", {}, h("strong", {}, q.text), choices),
              h("span", { className: "ix-status" }, q.status),
              h("button", { className: "ix-close", type: "button", onclick: () =>
                client.request({ type: "question.close", question_id: q.id }).catch(showError) }, "Close"),
              h("div", { className: "ix-hints" }),
              h("ul", { className: "ix-answers" }),
              h("div", { className: "ix-summary" }));
    $("ix-questions").prepend(el);
    questions.set(q.id, { el, question: q });
    return el;
  }
  function answerRow(p) {
    const box = questionBox(questions.get(p.question_id)?.question || { id: p.question_id, text: p.question_id, choices: [], status: "open" });
    let li = box.querySelector(`li[data-answer-id="${p.answer_id}"]`);
    if (li) return li;
    const q = questions.get(p.question_id)?.question;
    const given = p.choice !== null && p.choice !== undefined ? (q?.choices[p.choice] ?? `#${p.choice}`) : p.text;
    li = h("li", { className: "ix-answer", "data-answer-id": p.answer_id, "data-user": p.user },
           h("span", { className: "ix-who" }, `${p.name}: `), h("span", { className: "ix-given" }, given),
           " ", h("span", { className: "ix-eval" }, "evaluating…"), " ",
           h("button", { className: "ix-hint", type: "button", "data-user": p.user, onclick: () =>
             client.request({ type: "hint.send", user: p.user, question_id: p.question_id }).catch(showError) }, "Send hint"));
    box.querySelector(".ix-answers").append(li);
    return li;
  }
  $("ix-ask").onsubmit = async (ev) => {
    ev.preventDefault();
    const choices = $("ix-q-choices").value.split(",").map((s) => s.trim()).filter(Boolean);
    const msg = { type: "question.ask", text: $("ix-q-text").value, kind: choices.length ? "choice" : "free", choices };
    const correct = $("ix-q-correct").value.trim();
    if (correct) msg.correct = choices.length ? Number(correct) : correct;
    if ($("ix-q-limit").value) msg.time_limit_s = Number($("ix-q-limit").value);
    try { const ack = await client.request(msg); questionBox(ack.question); showError(null); }
    catch (err) { showError(err); }
  };
  client.addEventListener("question.opened", (e) => questionBox(e.detail.payload.question));
  client.addEventListener("question.closed", (e) => {
    const entry = questions.get(e.detail.payload.question_id);
    if (entry) { entry.el.querySelector(".ix-status").textContent = `closed (${e.detail.payload.reason})`; entry.el.dataset.status = "closed"; }
  });
  client.addEventListener("question.summary", (e) => {
    const p = e.detail.payload;
    const entry = questions.get(p.question_id);
    if (entry) entry.el.querySelector(".ix-summary").textContent =
      `${p.answers} answers · ${p.correct} right · ${p.incorrect} wrong · by choice ${p.by_choice.join("/")}`;
  });
  client.addEventListener("hints.ready", (e) => {
    const entry = questions.get(e.detail.payload.question_id);
    if (entry) entry.el.querySelector(".ix-hints").textContent = `Hints: ${e.detail.payload.hints.join(" → ")}`;
  });
  client.addEventListener("answer.received", (e) => answerRow(e.detail.payload));
  client.addEventListener("answer.evaluated", (e) => {
    const p = e.detail.payload;
    const li = answerRow({ ...p, user: p.user_id, choice: null, text: "" });
    li.dataset.correct = String(p.correct);
    li.querySelector(".ix-eval").textContent =
      `${p.correct === true ? "✔ correct" : p.correct === false ? "✘ incorrect" : "?"} — ${p.suggested_feedback}`;
  });

  // -- help queue --------------------------------------------------------------------------
  function drawQueue(queue) {
    $("ix-help").replaceChildren(...queue.map((r) => h("li", { className: "ix-help-item", "data-help-id": r.id, "data-user": r.user_id },
      `${r.name} ${r.kind === "hand" ? "✋" : "asks"}: ${r.text} `,
      h("button", { className: "ix-resolve", type: "button", onclick: () =>
        client.request({ type: "help.resolve", help_id: r.id }).catch(showError) }, "Resolve"))));
  }
  client.addEventListener("help.queue", (e) => drawQueue(e.detail.payload.queue));

  // -- polls -------------------------------------------------------------------------------
  function pollBox(poll) {
    let el = $("ix-polls").querySelector(`[data-poll-id="${poll.id}"]`);
    if (el) return el;
    el = h("div", { className: "ix-poll", "data-poll-id": poll.id },
           h("strong", {}, poll.question), " ", h("span", { className: "ix-tally" }, poll.options.map((o) => `${o}: 0`).join(" · ")), " ",
           h("button", { className: "ix-poll-close", type: "button", onclick: () =>
             client.request({ type: "poll.close", poll_id: poll.id }).catch(showError) }, "Close"));
    el.options = poll.options;
    $("ix-polls").prepend(el);
    return el;
  }
  function drawTally(t, final) {
    const el = $("ix-polls").querySelector(`[data-poll-id="${t.poll_id}"]`);
    if (!el) return;
    el.querySelector(".ix-tally").textContent = t.options.map((o, i) => `${o}: ${t.counts[i]}`).join(" · ") + (final ? " (closed)" : "");
    el.dataset.total = t.total;
  }
  $("ix-poll").onsubmit = async (ev) => {
    ev.preventDefault();
    const options = $("ix-poll-options").value.split(",").map((s) => s.trim()).filter(Boolean);
    try { const ack = await client.request({ type: "poll.start", question: $("ix-poll-question").value, options, show_results: $("ix-poll-show").checked }); pollBox(ack.poll); }
    catch (err) { showError(err); }
  };
  client.addEventListener("poll.opened", (e) => pollBox(e.detail.payload.poll));
  client.addEventListener("poll.tally", (e) => drawTally(e.detail.payload, e.detail.payload.final));
  client.addEventListener("poll.closed", (e) => { if (e.detail.payload.tally) drawTally(e.detail.payload.tally, true); });

  // -- board -------------------------------------------------------------------------------
  $("ix-board-permit").onchange = (ev) =>
    client.request({ type: "board.permit", students: ev.target.checked }).catch(showError);
  client.addEventListener("board.permit", (e) => { $("ix-board-permit").checked = e.detail.payload.students; });

  // -- (re)join: draw what is already going on ---------------------------------------------
  async function syncAll() {
    const snap = await client.request({ type: "interactions.sync" });
    snap.questions.forEach(questionBox);
    snap.polls.forEach((p) => { pollBox(p.poll); if (p.tally) drawTally(p.tally, false); });
    drawQueue(snap.help_queue || []);
    $("ix-board-permit").checked = snap.board.students_allowed;
    await board.sync();
    section.dataset.ready = "true";
  }
  client.addEventListener("welcome", () => { syncAll().catch(showError); });
}
