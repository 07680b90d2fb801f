// The class roster, the centre of the teacher console: who is here, hands, confusion,
// answers, video quality, device and group — filtered, sorted, and virtualised (only the
// rows in view exist in the DOM, so 300 students cost what 15 do). Each row's "Actions"
// opens one dialog: hint, group, video quality, mute chat, remove from class.
// Every render is timed (window.rosterTimings, main-thread ms) for the scale test.

import { el, frameScheduler, announce } from "/dom.js";
import { compareText, formatAgo, formatNumber, humanError, t } from "/i18n.js";

// The row height comes from the stylesheet (--roster-row: taller on phones, where badges wrap).
const DEFAULT_ROW_PX = 60;
const OVERSCAN = 6;
const RUNG_LABELS = { high: "1080p", medium: "720p", low: "480p" };

export function linkQuality(link) {
  const e = link && link.estimate;
  if (!e || e.available_kbps === undefined) return "";
  const loss = e.loss || 0;
  const rtt = e.rtt_ms || 0;
  if (loss > 0.08 || rtt > 400 || e.available_kbps < 700) return "poor";
  if (loss > 0.02 || rtt > 150 || e.available_kbps < 2000) return "fair";
  return "good";
}

export function mount(ctx, host) {
  const { client, model } = ctx;
  const summary = el("p", { id: "roster-summary", class: "roster-summary", "aria-live": "off" });
  const search = el("input", { id: "roster-search", type: "search", autocomplete: "off", placeholder: t("roster.search_placeholder") });
  const filter = el("select", { id: "roster-filter" },
    ...["all", "online", "offline", "hands", "confused", "not_answered", "wrong"].map((f) => new Option(t(`roster.filter.${f}`), f)));
  const sort = el("select", { id: "roster-sort" },
    ...["name", "status", "hand", "answer"].map((s) => new Option(t(`roster.sort.${s}`), s)));
  const spacer = el("div", { class: "roster-spacer" });
  const rows = el("div", { class: "roster-rows", role: "list", id: "roster-list", "aria-label": t("roster.title") });
  const empty = el("p", { class: "muted roster-empty", id: "roster-empty" }, t("roster.empty"));
  const scroller = el("div", { class: "roster-scroll", id: "roster", role: "region", tabindex: "0", "aria-label": t("roster.scroll_label") }, spacer, rows);
  spacer.append(rows);
  host.append(
    el("div", { class: "card-head" }, el("h2", { id: "roster-title" }, t("roster.title")), summary),
    el("div", { class: "roster-tools" },
      el("label", { class: "field-inline" }, el("span", { class: "sr-only" }, t("roster.search")), search),
      el("label", { class: "field-inline" }, el("span", {}, t("roster.filter")), filter),
      el("label", { class: "field-inline" }, el("span", {}, t("roster.sort")), sort)),
    scroller, empty);

  let visible = [];
  const timings = (window.rosterTimings = []);

  function ordered() {
    const query = search.value.trim().toLowerCase();
    const f = filter.value;
    const now = Date.now();
    let list = model.students().filter((p) => {
      if (query && !p.name.toLowerCase().includes(query)) return false;
      if (f === "online") return p.state === "online";
      if (f === "offline") return p.state !== "online";
      if (f === "hands") return Boolean(p.hand);
      if (f === "confused") return model.isConfused(p, now);
      if (f === "not_answered") return model.question && !p.answer;
      if (f === "wrong") return p.answer && p.answer.correct === false;
      return true;
    });
    const byName = (a, b) => compareText(a.name, b.name);
    const rank = {
      status: (p) => (p.state === "online" ? 0 : p.state === "reconnecting" ? 1 : 2),
      hand: (p) => (p.hand ? p.hand.since : Infinity),
      answer: (p) => (!p.answer ? 0 : p.answer.correct === false ? 1 : p.answer.correct === true ? 3 : 2),
    }[sort.value];
    list.sort(rank ? (a, b) => (rank(a) - rank(b)) || byName(a, b) : byName);
    return list;
  }

  function answerMark(p) {
    if (!model.question) return null;
    if (!p.answer) return el("span", { class: "badge badge-none", title: t("roster.not_answered") }, "—", el("span", { class: "sr-only" }, t("roster.not_answered")));
    if (p.answer.correct === true) return el("span", { class: "badge badge-ok" }, "✓ ", t("roster.right"));
    if (p.answer.correct === false) return el("span", { class: "badge badge-bad" }, "✗ ", t("roster.wrong"));
    return el("span", { class: "badge badge-info" }, t("roster.answered"));
  }

  function row(p, index, total) {
    const now = Date.now();
    const stateLabel = t(`roster.state.${p.state}`);
    const rung = p.rung ? RUNG_LABELS[p.rung] || p.rung : "";
    const quality = linkQuality(p.link);
    const actions = el("button", { type: "button", class: "btn-small roster-actions", dataset: { user: p.id },
      "aria-label": t("roster.actions_for", { name: p.name }) }, t("roster.actions"));
    actions.onclick = () => openActions(p.id);
    const item = el("div", { class: "roster-row", role: "listitem", draggable: "true",
        "aria-posinset": String(index + 1), "aria-setsize": String(total),
        dataset: { user: p.id, state: p.state, hand: p.hand ? "true" : "false",
                   answered: p.answer ? (p.answer.correct === true ? "right" : p.answer.correct === false ? "wrong" : "yes") : "no" } },
      el("span", { class: `dot dot-${p.state}`, "aria-hidden": "true" }),
      el("span", { class: "roster-name" }, el("strong", {}, p.name),
        el("span", { class: "roster-sub" }, stateLabel,
          p.device ? ` · ${t(`device.${p.device}`)}` : "",
          p.group ? ` · ${t("roster.in_group", { group: p.group })}` : "",
          p.muted ? ` · ${t("roster.muted")}` : "")),
      el("span", { class: "roster-badges" },
        p.hand ? el("span", { class: "badge badge-hand", title: p.hand.text || "" },
          t(p.hand.kind === "hand" ? "roster.hand" : "roster.help"), " ",
          el("span", { class: "since" }, formatAgo(p.hand.since, now))) : null,
        model.isConfused(p, now) ? el("span", { class: "badge badge-warn", title: p.confused.detail }, t("roster.confused")) : null,
        answerMark(p),
        rung ? el("span", { class: `badge badge-video${quality ? ` q-${quality}` : ""}`, title: p.reason },
          rung, quality ? ` · ${t(`roster.link.${quality}`)}` : "") : null),
      actions);
    item.style.top = `${index * rowPx}px`;
    item.addEventListener("dragstart", (ev) => { ev.dataTransfer.setData("text/x-user", p.id); ev.dataTransfer.effectAllowed = "move"; });
    return item;
  }

  let rowPx = DEFAULT_ROW_PX;
  const readRowPx = () => {
    const px = parseFloat(getComputedStyle(scroller).getPropertyValue("--roster-row"));
    rowPx = px > 0 ? px : DEFAULT_ROW_PX;
  };

  function render() {
    const started = performance.now();
    readRowPx();
    visible = ordered();
    const s = model.summary();
    summary.textContent = [
      t("roster.summary.online", { n: s.online, total: s.total }),
      t("roster.summary.hands", { n: s.hands }),
      model.question ? t("roster.summary.answered", { n: s.answered, total: s.asked }) : null,
      s.confused ? t("roster.summary.confused", { n: s.confused }) : null,
    ].filter(Boolean).join(" · ");
    host.dataset.online = String(s.online);
    host.dataset.total = String(s.total);
    host.dataset.hands = String(s.hands);
    host.dataset.answered = String(s.answered);
    host.dataset.shown = String(visible.length);
    empty.hidden = visible.length > 0;
    spacer.style.height = `${visible.length * rowPx}px`;
    const top = scroller.scrollTop;
    const height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / rowPx) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((top + height) / rowPx) + OVERSCAN);
    // Keep the row that has focus (a keyboard user is on it).
    const focusedUser = document.activeElement && document.activeElement.closest && document.activeElement.closest(".roster-row")?.dataset.user;
    const nodes = [];
    for (let i = first; i < last; i++) nodes.push(row(visible[i], i, visible.length));
    rows.replaceChildren(...nodes);
    if (focusedUser) rows.querySelector(`.roster-row[data-user="${CSS.escape(focusedUser)}"] .roster-actions`)?.focus({ preventScroll: true });
    scroller.offsetHeight; // force layout inside the measurement: the real cost of an update
    timings.push(performance.now() - started);
    if (timings.length > 1000) timings.splice(0, 500);
  }
  const schedule = frameScheduler(render);
  model.addEventListener("change", schedule);
  scroller.addEventListener("scroll", schedule, { passive: true });
  for (const input of [search, filter, sort]) input.addEventListener("input", schedule);
  window.addEventListener("resize", schedule);
  setInterval(schedule, 15000); // "since" times and confusion fade

  // -- the actions dialog -----------------------------------------------------------------
  const dlgTitle = el("h2", { id: "actions-title" });
  const dlgStatus = el("p", { class: "form-status", role: "status", id: "actions-status" });
  const hintText = el("textarea", { id: "act-hint-text", rows: "2", maxlength: "2000" });
  const hintSend = el("button", { type: "button", class: "btn", id: "act-hint-send" }, t("actions.send_hint"));
  const groupName = el("input", { id: "act-group", list: "group-names", maxlength: "64", autocomplete: "off" });
  const groupMove = el("button", { type: "button", class: "btn", id: "act-group-move" }, t("actions.move"));
  const rungSel = el("select", { id: "act-rung" }, ...["auto", "high", "medium", "low"].map((r) => new Option(t(`rung.${r}`), r)));
  const rungSet = el("button", { type: "button", class: "btn", id: "act-rung-set" }, t("actions.set_quality"));
  const muteBtn = el("button", { type: "button", class: "btn", id: "act-mute" });
  const removeBtn = el("button", { type: "button", class: "btn btn-danger", id: "act-remove" }, t("actions.remove"));
  const closeBtn = el("button", { type: "button", class: "btn", id: "act-close" }, t("common.close"));
  const dialog = el("dialog", { id: "actions-dialog", class: "dialog", "aria-labelledby": "actions-title" },
    dlgTitle,
    el("div", { class: "dialog-grid" },
      el("label", { class: "field" }, el("span", {}, t("actions.hint_label")), hintText,
        el("small", { class: "muted" }, t("actions.hint_help"))), hintSend,
      el("label", { class: "field" }, el("span", {}, t("actions.group_label")), groupName), groupMove,
      el("label", { class: "field" }, el("span", {}, t("actions.quality_label")), rungSel), rungSet,
      el("div", { class: "field" }, el("span", {}, t("actions.chat_label"))), muteBtn),
    dlgStatus,
    el("div", { class: "dialog-actions" }, removeBtn, closeBtn));
  document.body.append(dialog, el("datalist", { id: "group-names" }));
  let current = null;
  closeBtn.onclick = () => dialog.close();

  function openActions(userId) {
    current = model.people.get(userId);
    if (!current) return;
    dlgTitle.textContent = t("actions.title", { name: current.name });
    dialog.dataset.user = userId;
    dlgStatus.textContent = "";
    hintText.value = "";
    groupName.value = current.group || "";
    muteBtn.textContent = current.muted ? t("actions.unmute_chat") : t("actions.mute_chat");
    const offered = ctx.media && ctx.media.offered ? ctx.media.offered : ["high", "medium", "low"];
    for (const o of rungSel.options) o.disabled = o.value !== "auto" && !offered.includes(o.value);
    rungSel.value = "auto";
    removeBtn.dataset.confirm = "false";
    removeBtn.textContent = t("actions.remove");
    hintSend.disabled = !model.question && !hintText.value;
    dialog.showModal();
  }
  ctx.openActions = openActions;
  hintText.addEventListener("input", () => { hintSend.disabled = !model.question && !hintText.value.trim(); });

  const act = async (fn, done) => {
    dlgStatus.textContent = t("common.sending");
    try { await fn(); dlgStatus.textContent = done; announce(done); }
    catch (err) { dlgStatus.textContent = humanError(err); }
  };
  hintSend.onclick = () => act(() => {
    const text = hintText.value.trim();
    const msg = { type: "hint.send", user: current.id };
    if (text) msg.text = text;
    if (model.question) msg.question_id = model.question.id;
    return client.request(msg);
  }, t("actions.hint_sent", { name: current?.name || "" }));
  groupMove.onclick = () => act(async () => {
    const target = groupName.value.trim();
    if (current.group && current.group !== target) await client.request({ type: "group.set", group: current.group, remove: [current.id] });
    if (target) await client.request({ type: "group.set", group: target, add: [current.id] });
  }, t("actions.moved"));
  rungSet.onclick = () => act(() => client.request({ type: "media.set_rung", user: current.id, rung: rungSel.value }), t("actions.quality_set"));
  muteBtn.onclick = () => act(async () => {
    await client.request({ type: "chat.mute", user: current.id, muted: !current.muted });
    muteBtn.textContent = !current.muted ? t("actions.unmute_chat") : t("actions.mute_chat");
  }, t("actions.chat_changed"));
  // Two steps instead of window.confirm: the second press says exactly what happens.
  removeBtn.onclick = () => {
    if (removeBtn.dataset.confirm !== "true") {
      removeBtn.dataset.confirm = "true";
      removeBtn.textContent = t("actions.remove_confirm", { name: current.name });
      return;
    }
    act(async () => { await client.request({ type: "participant.remove", user: current.id }); dialog.close(); }, t("actions.removed"));
  };

  return { render, count: () => visible.length, formatNumber };
}
