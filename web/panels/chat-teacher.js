// The teacher's inbox: messages students sent to the teachers, each with a reply (to that
// student, or to the whole class), and a message to the class or a group.

import { announce, el } from "/dom.js";
import { formatTime, humanError, t } from "/i18n.js";

export function mount(ctx, host) {
  const { client } = ctx;
  const list = el("ol", { class: "inbox", id: "inbox", "aria-label": t("inbox.title") });
  const empty = el("p", { class: "muted", id: "inbox-empty" }, t("inbox.empty"));
  const unread = el("span", { class: "count-pill", id: "inbox-count" }, "0");
  const text = el("textarea", { id: "say-text", rows: "2", maxlength: "8000" });
  const to = el("select", { id: "say-to" }, new Option(t("common.whole_class"), ""));
  const send = el("button", { type: "submit", class: "btn btn-primary", id: "say-send" }, t("inbox.send"));
  const status = el("p", { class: "form-status", role: "status", id: "say-status" });
  const form = el("form", { id: "say-form", class: "stack" },
    el("label", { class: "field" }, el("span", {}, t("inbox.to_class")), text),
    el("div", { class: "row-fields" }, el("label", { class: "field" }, el("span", {}, t("common.send_to")), to), send), status);
  host.append(el("div", { class: "card-head" }, el("h2", {}, t("inbox.title"), " ", unread)), empty, list, form);
  ctx.groupSelects = [...(ctx.groupSelects || []), to];
  const seen = new Set();
  let count = 0;

  function item(p) {
    const replyText = el("input", { class: "reply-text", maxlength: "8000", "aria-label": t("inbox.reply_to", { name: p.from.name }) });
    const toOne = el("button", { type: "button", class: "btn-small reply-one" }, t("inbox.reply"));
    const toAll = el("button", { type: "button", class: "btn-small reply-all" }, t("inbox.reply_all"));
    const thread = el("ul", { class: "thread" });
    const li = el("li", { class: "inbox-item", dataset: { messageId: p.message_id, user: p.from.user } },
      el("div", {}, el("strong", {}, p.from.name), " ", el("span", { class: "muted" }, formatTime(p.ts || Date.now()))),
      el("p", { class: "inbox-text" }, p.text), thread,
      el("form", { class: "reply-form" }, replyText, toOne, toAll));
    const reply = async (target) => {
      if (!replyText.value.trim()) { replyText.focus(); return; }
      try {
        await client.request({ type: "message", to: target, text: replyText.value.trim(), reply_to: p.message_id });
        replyText.value = "";
      } catch (err) { announce(humanError(err)); }
    };
    toOne.onclick = () => reply({ user: p.from.user });
    toAll.onclick = () => reply({ session: true });
    li.querySelector("form").onsubmit = (ev) => { ev.preventDefault(); reply({ user: p.from.user }); };
    return { li, thread };
  }
  const threads = new Map();
  function add(p, fresh) {
    if (seen.has(p.message_id)) return;
    seen.add(p.message_id);
    if (p.reply_to && threads.has(p.reply_to)) {
      threads.get(p.reply_to).append(el("li", { class: "reply", dataset: { messageId: p.message_id } }, el("strong", {}, p.from.name), `: ${p.text}`));
      return;
    }
    const toTeacher = p.to && p.to.group === "teacher";
    if (!toTeacher || p.from.role !== "student") return;
    const { li, thread } = item(p);
    threads.set(p.message_id, thread);
    list.prepend(li);
    count += 1;
    unread.textContent = String(count);
    empty.hidden = true;
    if (fresh) announce(t("inbox.announce", { name: p.from.name, text: p.text }));
  }
  client.on("message", (env) => add({ ...env.payload, ts: env.ts }, true));
  client.on("snapshot", (snap) => { for (const m of (snap.chat || {}).messages || []) add(m, false); });
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) { text.focus(); return; }
    try {
      await client.request({ type: "message", to: to.value ? { group: to.value } : { session: true }, text: text.value.trim() });
      text.value = "";
      status.textContent = t("inbox.sent");
    } catch (err) { status.textContent = humanError(err); }
  };
}
