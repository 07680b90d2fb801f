// Polls, teacher side: ask, watch the bars move as votes come in, close.

import { bars, el } from "/dom.js";
import { formatNumber, formatPercent, humanError, t } from "/i18n.js";

export function mount(ctx, host) {
  const { client } = ctx;
  const question = el("input", { id: "poll-question", maxlength: "1000", required: true });
  const options = el("textarea", { id: "poll-options", rows: "3", "aria-describedby": "poll-options-help" });
  const show = el("input", { type: "checkbox", id: "poll-show", checked: true });
  const start = el("button", { type: "submit", class: "btn btn-primary", id: "poll-start" }, t("poll.start"));
  const status = el("p", { class: "form-status", role: "status", id: "poll-status" });
  const form = el("form", { id: "poll-form", class: "stack" },
    el("label", { class: "field" }, el("span", {}, t("poll.question")), question),
    el("label", { class: "field" }, el("span", {}, t("poll.options")), options,
      el("small", { id: "poll-options-help", class: "muted" }, t("poll.options_help"))),
    el("label", { class: "check" }, show, t("poll.show_results")),
    el("div", {}, start), status);
  const live = el("div", { id: "poll-live" });
  host.append(el("h2", { class: "sr-only" }, t("tabs.poll")), live, form);
  const polls = new Map();

  function draw(id) {
    const p = polls.get(id);
    if (!p) return;
    const tally = p.tally || { counts: p.poll.options.map(() => 0), total: 0 };
    const open = p.poll.status !== "closed" && !p.closed;
    live.replaceChildren(el("section", { class: "poll-live", id: "poll-card", dataset: { pollId: id, status: open ? "open" : "closed", total: String(tally.total) } },
      el("h3", {}, p.poll.question),
      el("p", { class: "muted" }, open ? t("poll.votes", { n: tally.total }) : t("poll.closed_votes", { n: tally.total })),
      bars(p.poll.options.map((o, i) => ({ label: o, count: tally.counts[i] || 0 })), tally.total, { format: (n) => formatNumber(n), percent: formatPercent }),
      open ? el("button", { type: "button", class: "btn", id: "poll-close", on: { click: () => close(id) } }, t("poll.close")) : null));
  }
  async function close(id) {
    try { await client.request({ type: "poll.close", poll_id: id }); } catch (err) { status.textContent = humanError(err); }
  }
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const opts = options.value.split("\n").map((s) => s.trim()).filter(Boolean);
    if (!question.value.trim()) { status.textContent = t("poll.need_question"); return; }
    if (opts.length < 2) { status.textContent = t("poll.need_options"); return; }
    try {
      const ack = await client.request({ type: "poll.start", question: question.value.trim(), options: opts, show_results: show.checked });
      polls.set(ack.poll.id, { poll: ack.poll, tally: null });
      draw(ack.poll.id);
      form.reset();
      show.checked = true;
      status.textContent = t("poll.started");
    } catch (err) { status.textContent = humanError(err); }
  };
  client.on("poll.opened", (env) => { const p = env.payload; polls.set(p.poll.id, { poll: p.poll, tally: p.tally }); draw(p.poll.id); });
  client.on("poll.tally", (env) => { const p = polls.get(env.payload.poll_id); if (p) { p.tally = env.payload; draw(env.payload.poll_id); } });
  client.on("poll.closed", (env) => {
    const p = polls.get(env.payload.poll_id);
    if (!p) return;
    p.closed = true;
    if (env.payload.tally) p.tally = env.payload.tally;
    draw(env.payload.poll_id);
  });
  client.on("snapshot", (snap) => {
    for (const entry of (snap.interactions || {}).polls || []) { polls.set(entry.poll.id, { poll: entry.poll, tally: entry.tally }); draw(entry.poll.id); }
  });
}
