// The student view, phone first: the teacher's video on top, then the live lesson, then
// whatever the teacher opened now (question, poll), hints, the board, help and messages.
// The lesson so far comes from the welcome's snapshot (a late join or a reload).

import { ClassroomClient, api, tokenClaims, tokenFromUrl } from "/client.js";
import { el, liveRegions } from "/dom.js";
import { chooseLanguage, languagePicker, t } from "/i18n.js";
import { connectionStatus, debugLog, problemPage } from "/shell.js";
import { ContentFeed } from "/panels/content-feed.js";
import * as media from "/panels/media-student.js";
import * as ix from "/panels/interactions-student.js";
import * as chat from "/panels/chat-student.js";
import * as board from "/panels/board-student.js";

async function boot() {
  const params = new URLSearchParams(location.search);
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
  document.title = t("student.page_title");
  const body = document.body;
  body.prepend(el("a", { href: "#now", class: "skip-link" }, t("student.skip_to_now")));
  body.append(...liveRegions());
  if (!token || (failure && failure !== "network")) {
    body.append(el("main", { id: "main" }));
    problemPage(!token ? "token_missing" : failure);
    return;
  }
  const client = new ClassroomClient(token, {
    transport: params.get("transport") || "auto",
    media: params.get("media") !== "0",
  });
  window.classroom = client;
  const ctx = { client };

  const title = el("h1", { id: "class-title" }, session ? session.subject || t("teacher.untitled_class") : t("student.page_title"));
  const topic = el("p", { id: "class-topic", class: "topic" }, session ? session.current_topic || "" : "");
  const who = el("p", { class: "topic", id: "me" }, claims.name ? t("student.you_are", { name: claims.name }) : "");
  const main = el("main", { class: "student", id: "main" });
  body.append(el("header", { class: "topbar" },
    el("div", { class: "topbar-title" }, title, topic),
    el("div", { class: "topbar-facts" }, connectionStatus(client, {
      onFatal: (kind, code) => { if (kind === "refused") problemPage(code); else showEnd(kind); } }), who),
    el("div", { class: "topbar-actions" }, languagePicker(el))), main);

  const mediaCard = el("section", { class: "card video-card", id: "panel-media", "aria-label": t("media.teacher_video") });
  const contentCard = el("section", { class: "card", id: "panel-content", "aria-labelledby": "content-title" });
  const nowCard = el("section", { class: "card now-card", id: "now", tabindex: "-1", "aria-labelledby": "now-title" });
  const hintsCard = el("section", { class: "card", id: "panel-hints", "aria-label": t("hints.title") });
  const boardCard = el("section", { class: "card", id: "panel-board", "aria-label": t("board.title") });
  const helpCard = el("section", { class: "card", id: "panel-help", "aria-label": t("help.student_title") });
  const chatCard = el("section", { class: "card", id: "panel-messages", "aria-label": t("chat.title") });
  main.append(
    el("div", { class: "col col-main" }, params.get("media") !== "0" ? mediaCard : null, contentCard),
    el("div", { class: "col col-side" }, nowCard, hintsCard, helpCard, chatCard, boardCard));
  body.append(el("footer", { class: "page-foot" }, debugLog(client)));

  if (params.get("media") !== "0") media.mount(ctx, mediaCard);
  const feed = el("div", { id: "content-feed", class: "content-feed", role: "region", tabindex: "0", "aria-label": t("content.feed_label") });
  const noContent = el("p", { class: "muted", id: "content-empty" }, t("content.nothing_yet"));
  contentCard.append(el("h2", { id: "content-title" }, t("content.title")), noContent, feed);
  ctx.feed = new ContentFeed(client, feed, { announceNew: true, onChange: () => { noContent.hidden = feed.children.length > 0; } });
  ix.mountNow(ctx, nowCard);
  nowCard.querySelector("h2").id = "now-title";
  ix.mountHints(ctx, hintsCard);
  ix.mountHelp(ctx, helpCard);
  chat.mount(ctx, chatCard);
  board.mount(ctx, boardCard);

  client.on("welcome", (w) => {
    title.textContent = w.session.subject || t("teacher.untitled_class");
    topic.textContent = w.session.current_topic || "";
    who.textContent = t("student.you_are", { name: w.user.name });
    document.title = `${title.textContent} · ${t("student.page_title")}`;
  });
  client.on("session.updated", (env) => {
    const c = env.payload.changes;
    if (c.subject !== undefined) title.textContent = c.subject;
    if (c.current_topic !== undefined) topic.textContent = c.current_topic;
  });
  client.on("participant.removed", () => showEnd("removed"));

  function showEnd(kind) {
    main.replaceChildren(el("section", { class: "card problem", id: "problem", dataset: { code: kind } },
      el("h2", {}, t(`conn.${kind}.title`)),
      el("p", {}, t(`conn.${kind}.what_to_do`)),
      el("p", {}, el("a", { href: "/", class: "btn btn-primary" }, t("link.go_start")))));
  }
  await client.start().catch(() => {});
}

boot();
