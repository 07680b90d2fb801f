// Messages, student side: what the teacher says to the class, to my group or to me, with
// the replies to my questions under them; a message to the teacher (not while muted).

import { announce, el } from "/dom.js";
import { formatTime, humanError, t } from "/i18n.js";

export function mount(ctx, host) {
  const { client } = ctx;
  const list = el("ol", { class: "messages", id: "messages" });
  const empty = el("p", { class: "muted", id: "messages-empty" }, t("chat.empty"));
  const text = el("textarea", { id: "ask-text", rows: "2", maxlength: "8000" });
  const send = el("button", { type: "submit", class: "btn btn-primary", id: "ask-send" }, t("chat.send"));
  const status = el("p", { class: "form-status", role: "status", id: "ask-status" });
  const form = el("form", { id: "ask-form", class: "stack" }, el("label", { class: "field" }, el("span", {}, t("chat.to_teacher")), text), el("div", {}, send), status);
  host.append(el("h2", {}, t("chat.title")), empty, list, form);
  const seen = new Set();
  const mineById = new Map(); // message_id -> li of my message
  const me = () => client.welcome && client.welcome.user.id;

  function add(p, ts, fresh) {
    if (seen.has(p.message_id)) return;
    seen.add(p.message_id);
    if (p.data && p.data.kind === "help.on_it") return; // shown as the help state
    empty.hidden = true;
    const fromMe = p.from.user === me();
    const where = p.to && p.to.user ? t("chat.to_you") : p.to && p.to.group === "teacher" ? t("chat.to_teacher_short") : p.to && p.to.group ? t("chat.to_group", { group: p.to.group }) : t("chat.to_class");
    const li = el("li", { class: `message${fromMe ? " mine" : ""}`, dataset: { seq: String(p.seq ?? ""), messageId: p.message_id } },
      el("p", { class: "message-head" }, el("strong", {}, fromMe ? t("chat.you") : p.from.name), " ", el("span", { class: "muted" }, `${where} · ${formatTime(ts || Date.now())}`)),
      el("p", { class: "message-text" }, p.text), el("ol", { class: "thread" }));
    const parent = p.reply_to && mineById.get(p.reply_to);
    if (parent) {
      parent.querySelector(".thread").append(el("li", { class: "reply", dataset: { messageId: p.message_id } }, el("strong", {}, p.from.name), `: ${p.text}`));
    } else {
      list.prepend(li);
    }
    if (fromMe) mineById.set(p.message_id, li);
    if (fresh && !fromMe) announce(t("chat.announce", { name: p.from.name, text: p.text }));
  }
  client.on("message", (env) => add({ ...env.payload, seq: env.seq }, env.ts, true));
  client.on("snapshot", (snap) => {
    for (const m of (snap.chat || {}).messages || []) add(m, m.ts, false);
    setMuted(Boolean((snap.chat || {}).muted));
  });
  const setMuted = (muted) => {
    text.disabled = send.disabled = muted;
    status.textContent = muted ? t("chat.muted") : "";
    form.dataset.muted = String(muted);
  };
  client.on("chat.muted", (env) => { if (env.payload.user === me()) { setMuted(env.payload.muted); announce(status.textContent || t("chat.unmuted")); } });
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) { text.focus(); return; }
    send.disabled = true;
    try {
      const said = text.value.trim();
      const ack = await client.request({ type: "message", to: { group: "teacher" }, text: said });
      // Messages to the teachers do not come back to me: show mine from the ack.
      const w = client.welcome.user;
      add({ message_id: ack.message_id, from: { user: w.id, name: w.name, role: w.role }, to: { group: "teacher" }, text: said, seq: ack.seq }, Date.now(), false);
      text.value = "";
      status.textContent = t("chat.sent");
    } catch (err) { status.textContent = err.code === "chat_muted" ? t("chat.muted") : humanError(err); } finally { send.disabled = form.dataset.muted === "true"; }
  };
}
