// Student panel for live interactions: answer the open question, see the receipt and hints,
// vote in polls, raise a hand / ask for help, and draw on the board when the teacher allows it.
import { Board, h } from "/panels/interactions-board.js";


export async function mount(client, section) {
  section.classList.add("ix-panel");
  section.innerHTML = `
    <h2>Class activity</h2>
    <div id="ix-question" data-state="none"><p class="ix-empty">No open question.</p></div>
    <div id="ix-receipt"></div>
    <div id="ix-error" class="ix-error"></div>
    <h3>Hints</h3><ul id="ix-hints"></ul>
    <h3>Help</h3>
    <button id="ix-hand" type="button">✋ Raise hand</button>
    <input id="ix-help-text" placeholder="What are you stuck on?" size="28">
    <button id="ix-help-send" type="button">Ask for help</button>
    <span id="ix-help-status"></span>
    <h3>Poll</h3><div id="ix-poll"></div>
    <h3>Board</h3><div id="ix-board-host"></div>`;
  const $ = (id) => section.querySelector(`#${id}`);
  const showError = (err) => { $("ix-error").textContent = err ? err.message : ""; $("ix-error").dataset.code = err?.code || ""; };
  const board = new Board(client, $("ix-board-host"), { idPrefix: "s" });
  board.noteText = () => "";
  const setDraw = (allowed) => { board.canDraw = allowed; $("ix-board-host").dataset.canDraw = String(allowed); };

  // -- the open question -------------------------------------------------------------------
  let current = null;
  const answered = new Map(); // question id -> answer id
  async function submit(fields) {
    try {
      const receipt = await client.request({ type: "answer.submit", question_id: current.id, ...fields });
      answered.set(current.id, receipt.answer_id);
      showReceipt(current.id, receipt.answer_id);
      showError(null);
    } catch (err) { showError(err); }
  }
  function showReceipt(questionId, answerId) {
    $("ix-receipt").replaceChildren(h("span", { className: "ix-receipt", "data-answer-id": answerId, "data-question-id": questionId },
      `Answer received (${answerId})`));
    $("ix-question").querySelectorAll("button, textarea").forEach((el) => { el.disabled = true; });
  }
  function showQuestion(q) {
    current = q;
    const box = $("ix-question");
    box.dataset.state = "open";
    box.dataset.questionId = q.id;
    const limit = q.closes_at_ms ? h("span", { className: "ix-limit" }, ` (until ${new Date(q.closes_at_ms).toLocaleTimeString()})`) : "";
    const body = q.kind === "choice"
      ? h("div", {}, ...q.choices.map((c, i) => h("button", { className: "ix-choice", type: "button", "data-index": i, onclick: () => submit({ choice: i }) }, c)))
      : h("div", {}, h("textarea", { id: "ix-free-text", rows: 3, cols: 40 }),
          h("button", { id: "ix-free-submit", type: "button", onclick: () => submit({ text: $("ix-free-text").value }) }, "Submit"));
    box.replaceChildren(h("p", { className: "ix-text" }, q.text, limit), body);
    $("ix-receipt").replaceChildren();
    if (answered.has(q.id)) showReceipt(q.id, answered.get(q.id));
  }
  client.addEventListener("question.opened", (e) => showQuestion(e.detail.payload.question));
  client.addEventListener("question.closed", (e) => {
    if (current && current.id === e.detail.payload.question_id) {
      $("ix-question").dataset.state = "closed";
      $("ix-question").querySelectorAll("button, textarea").forEach((el) => { el.disabled = true; });
    }
  });
  client.addEventListener("hint", (e) => {
    $("ix-hints").prepend(h("li", { className: "ix-hint", "data-seq": e.detail.seq }, e.detail.payload.text));
  });

  // -- help --------------------------------------------------------------------------------
  async function askHelp(kind, text) {
    try {
      const ack = await client.request({ type: "help.request", kind, text });
      $("ix-help-status").textContent = "waiting for the teacher…";
      $("ix-help-status").dataset.helpId = ack.help_id;
    } catch (err) { showError(err); }
  }
  $("ix-hand").onclick = () => askHelp("hand", "");
  $("ix-help-send").onclick = () => askHelp("help", $("ix-help-text").value);
  client.addEventListener("help.resolved", () => { $("ix-help-status").textContent = "the teacher is on it"; delete $("ix-help-status").dataset.helpId; });

  // -- polls -------------------------------------------------------------------------------
  function showPoll(poll, myVote) {
    $("ix-poll").dataset.pollId = poll.id;
    $("ix-poll").dataset.state = poll.status;
    $("ix-poll").replaceChildren(h("p", {}, poll.question), ...poll.options.map((o, i) => h("button", {
      className: "ix-vote" + (myVote === i ? " chosen" : ""), type: "button", "data-option": i,
      onclick: async () => {
        try {
          await client.request({ type: "poll.vote", poll_id: poll.id, option: i });
          $("ix-poll").querySelectorAll(".ix-vote").forEach((b) => b.classList.toggle("chosen", Number(b.dataset.option) === i));
        } catch (err) { showError(err); }
      } }, o)), h("div", { className: "ix-tally" }));
  }
  const drawTally = (t) => { const el = $("ix-poll").querySelector(".ix-tally"); if (el && $("ix-poll").dataset.pollId === t.poll_id) el.textContent = t.options.map((o, i) => `${o}: ${t.counts[i]}`).join(" · "); };
  client.addEventListener("poll.opened", (e) => showPoll(e.detail.payload.poll, null));
  client.addEventListener("poll.tally", (e) => drawTally(e.detail.payload));
  client.addEventListener("poll.closed", (e) => {
    if ($("ix-poll").dataset.pollId !== e.detail.payload.poll_id) return;
    $("ix-poll").dataset.state = "closed";
    $("ix-poll").querySelectorAll("button").forEach((b) => { b.disabled = true; });
    if (e.detail.payload.tally) drawTally(e.detail.payload.tally);
  });

  // -- board -------------------------------------------------------------------------------
  client.addEventListener("board.permit", (e) => setDraw(e.detail.payload.students));

  async function syncAll() {
    const snap = await client.request({ type: "interactions.sync" });
    for (const a of snap.my_answers || []) answered.set(a.question_id, a.answer_id);
    if (snap.questions.length) showQuestion(snap.questions[snap.questions.length - 1]);
    const open = snap.polls[snap.polls.length - 1];
    if (open) { showPoll(open.poll, open.my_vote); if (open.tally) drawTally(open.tally); }
    if (snap.my_help) $("ix-help-status").textContent = "waiting for the teacher…";
    setDraw(snap.board.students_allowed);
    await board.sync();
    section.dataset.ready = "true";
  }
  client.addEventListener("welcome", () => { syncAll().catch(showError); });
}
