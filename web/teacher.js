// The teacher console: one screen with the class header (name, topic, lesson timer,
// connection, server load), the roster in the middle, video, help queue and inbox on one
// side, and the tools (question, poll, AI lesson, board, groups) in tabs on the other.

import { ClassroomClient, api, tokenClaims, tokenFromUrl } from "/client.js";
import { el, liveRegions } from "/dom.js";
import { chooseLanguage, formatClock, formatPercent, languagePicker, t } from "/i18n.js";
import { connectionStatus, debugLog, problemPage } from "/shell.js";
import { RosterModel } from "/panels/roster-model.js";
import * as roster from "/panels/roster-teacher.js";
import * as questions from "/panels/questions-teacher.js";
import * as polls from "/panels/polls-teacher.js";
import * as help from "/panels/help-teacher.js";
import * as inbox from "/panels/chat-teacher.js";
import * as board from "/panels/board-teacher.js";
import * as content from "/panels/content-teacher.js";
import * as media from "/panels/media-teacher.js";
import * as groups from "/panels/groups-teacher.js";

const TABS = ["question", "poll", "lesson", "board", "groups"];

async function boot() {
  const token = tokenFromUrl();
  const claims = tokenClaims(token);
  let session = null;
  let failure = null;
  try {
    session = await api(`/api/sessions/${encodeURIComponent(claims.sid || "-")}`, { token });
  } catch (err) {
    failure = err.code;
  }
  chooseLanguage(session ? session.language : "");
  document.title = t("teacher.page_title");
  const body = document.body;
  body.prepend(el("a", { href: "#roster", class: "skip-link" }, t("common.skip_to_roster")));
  body.append(...liveRegions());
  if (!token || (failure && failure !== "network" && failure !== "session_not_found") || (claims.role && !["teacher", "admin"].includes(claims.role))) {
    body.append(el("main", { id: "main" }));
    problemPage(!token ? "token_missing" : claims.role && !["teacher", "admin"].includes(claims.role) ? "token_invalid" : failure);
    return;
  }
  const client = new ClassroomClient(token);
  window.classroom = client;
  const model = new RosterModel();
  const ctx = { client, model, groupSelects: [] };
  window.rosterModel = model;

  // -- header -------------------------------------------------------------------------------
  const title = el("h1", { id: "class-title" }, t("teacher.title_loading"));
  const topic = el("p", { id: "class-topic", class: "topic" });
  const timer = el("span", { id: "lesson-timer", class: "timer", role: "timer", "aria-live": "off" }, "0:00");
  const load = el("span", { id: "server-load", class: "pill", hidden: true });
  const inviteBtn = el("button", { type: "button", class: "btn-small btn-on-dark", id: "invite-open" }, t("teacher.invite"));
  const endBtn = el("button", { type: "button", class: "btn-small btn-on-dark", id: "end-class" }, t("teacher.end_class"));
  const conn = connectionStatus(client);
  body.append(el("header", { class: "topbar" },
    el("div", { class: "topbar-title" }, title, topic),
    el("div", { class: "topbar-facts" },
      el("span", { class: "pill" }, el("span", { class: "sr-only" }, t("teacher.timer_label")), timer), conn, load),
    el("div", { class: "topbar-actions" }, inviteBtn, languagePicker(el), endBtn)));

  // -- layout ------------------------------------------------------------------------------
  const rosterCard = el("section", { class: "card roster-card", id: "panel-roster", "aria-labelledby": "roster-title" });
  const mediaCard = el("section", { class: "card", id: "panel-media", "aria-label": t("media.title") });
  const helpCard = el("section", { class: "card", id: "panel-help", "aria-label": t("help.title") });
  const inboxCard = el("section", { class: "card", id: "panel-inbox", "aria-label": t("inbox.title") });
  const tabList = el("div", { class: "tabs", role: "tablist", "aria-label": t("teacher.tools") });
  const tabPanels = {};
  const tabButtons = {};
  for (const name of TABS) {
    const tab = el("button", { type: "button", role: "tab", id: `tab-${name}`, class: "tab", "aria-controls": `tabpanel-${name}`, "aria-selected": "false", tabindex: "-1" }, t(`tabs.${name}`));
    const panel = el("section", { role: "tabpanel", id: `tabpanel-${name}`, class: "tabpanel", "aria-labelledby": `tab-${name}`, tabindex: "0", hidden: true });
    tab.onclick = () => selectTab(name);
    tabButtons[name] = tab;
    tabPanels[name] = panel;
    tabList.append(tab);
  }
  tabList.addEventListener("keydown", (ev) => {
    const i = TABS.findIndex((n) => tabButtons[n] === document.activeElement);
    if (i < 0) return;
    const next = ev.key === "ArrowRight" ? (i + 1) % TABS.length : ev.key === "ArrowLeft" ? (i + TABS.length - 1) % TABS.length
      : ev.key === "Home" ? 0 : ev.key === "End" ? TABS.length - 1 : null;
    if (next === null) return;
    ev.preventDefault();
    selectTab(TABS[next]);
    tabButtons[TABS[next]].focus();
  });
  function selectTab(name) {
    for (const n of TABS) {
      tabButtons[n].setAttribute("aria-selected", String(n === name));
      tabButtons[n].tabIndex = n === name ? 0 : -1;
      tabPanels[n].hidden = n !== name;
    }
    document.body.dataset.tab = name;
  }
  const toolsCard = el("section", { class: "card tools-card", id: "panel-tools", "aria-label": t("teacher.tools") }, tabList, ...Object.values(tabPanels));
  const main = el("main", { class: "console", id: "main" },
    el("div", { class: "col col-side" }, mediaCard, helpCard, inboxCard),
    el("div", { class: "col col-roster" }, rosterCard),
    el("div", { class: "col col-tools" }, toolsCard));
  body.append(main, el("footer", { class: "page-foot" }, debugLog(client)));

  // -- panels ------------------------------------------------------------------------------
  ctx.focusTool = (name, { group } = {}) => {
    selectTab(name);
    const select = { question: "#q-audience", lesson: "#content-audience" }[name];
    if (group && select) document.querySelector(select).value = group;
    tabButtons[name].focus();
  };
  roster.mount(ctx, rosterCard);
  media.mount(ctx, mediaCard);
  help.mount(ctx, helpCard);
  inbox.mount(ctx, inboxCard);
  questions.mount(ctx, tabPanels.question);
  polls.mount(ctx, tabPanels.poll);
  content.mount(ctx, tabPanels.lesson);
  board.mount(ctx, tabPanels.board);
  groups.mount(ctx, tabPanels.groups);
  selectTab("question");

  // -- the class: title, timer, invite, end ---------------------------------------------------
  let record = session;
  const showClass = () => {
    if (!record) return;
    const name = [record.subject, record.grade_level ? t("common.grade", { grade: record.grade_level }) : ""].filter(Boolean).join(" · ");
    title.textContent = name || t("teacher.untitled_class");
    topic.textContent = record.current_topic || "";
    document.title = `${title.textContent} · ${t("teacher.page_title")}`;
  };
  const startMs = () => (record && record.created_at_ms) || Date.now();
  ctx.elapsedMinutes = () => (Date.now() - startMs()) / 60000;
  const tickTimer = () => {
    const elapsed = (Date.now() - startMs()) / 1000;
    const planned = record && record.planned_minutes ? record.planned_minutes * 60 : 0;
    timer.textContent = planned ? t("teacher.timer", { elapsed: formatClock(elapsed), planned: formatClock(planned) }) : formatClock(elapsed);
    timer.dataset.over = String(planned > 0 && elapsed > planned);
  };
  setInterval(tickTimer, 1000);
  client.on("welcome", (w) => {
    record = { ...(record || {}), ...w.session };
    showClass();
    tickTimer();
    model.fromSession(w.session);
    showLoad(w.server_load);
  });
  client.on("session.updated", (env) => { record = { ...record, ...env.payload.changes }; if ("current_topic" in env.payload.changes) record.current_topic = env.payload.changes.current_topic; showClass(); });
  client.on("presence", (env) => model.presence(env.payload));
  client.on("chat.muted", (env) => model.muted(env.payload.user, env.payload.muted));
  client.on("snapshot", (snap) => { for (const u of (snap.chat || {}).muted || []) model.muted(u, true); });
  // The load at join comes in the welcome (server_load), each change as server.load.
  const showLoad = (p) => {
    if (!p) return;
    load.hidden = false;
    load.dataset.step = String(p.step);
    load.dataset.monitoring = String(p.monitoring !== false);
    load.textContent = p.monitoring === false ? t("teacher.load_off") : t("teacher.load", { load: formatPercent(p.load || 0), step: p.step });
    load.title = (p.changes || []).map((c) => c.reason).join("; ");
  };
  client.on("server.load", (env) => showLoad(env.payload));
  showClass();
  tickTimer();

  const inviteDialog = el("dialog", { id: "invite-dialog", class: "dialog", "aria-labelledby": "invite-title" });
  body.append(inviteDialog);
  inviteBtn.onclick = () => {
    const code = record && record.join_code;
    const link = code ? `${location.origin}/join.html?code=${code}` : "";
    inviteDialog.replaceChildren(el("h2", { id: "invite-title" }, t("invite.title")),
      code ? el("p", { class: "big-code", id: "invite-code" }, code) : el("p", {}, t("invite.no_code")),
      code ? el("p", {}, t("invite.link"), " ", el("a", { href: link, id: "invite-link" }, link)) : null,
      code ? el("p", { class: "muted" }, t("invite.how", { origin: location.host })) : null,
      el("div", { class: "dialog-actions" }, el("button", { type: "button", class: "btn", on: { click: () => inviteDialog.close() } }, t("common.close"))));
    inviteDialog.showModal();
  };
  endBtn.onclick = async () => {
    if (endBtn.dataset.confirm !== "true") {
      endBtn.dataset.confirm = "true";
      endBtn.textContent = t("teacher.end_confirm");
      setTimeout(() => { endBtn.dataset.confirm = "false"; endBtn.textContent = t("teacher.end_class"); }, 5000);
      return;
    }
    try { await client.request({ type: "session.end" }); } catch (err) { /* the state says it */ }
  };
  await client.start().catch(() => {});
}

boot();
