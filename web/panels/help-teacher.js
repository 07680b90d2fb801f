// The help queue: raised hands and help requests in the order they came, each with
// "On it" (the student is told the teacher is coming) and "Resolved".

import { announce, el } from "/dom.js";
import { formatAgo, humanError, t } from "/i18n.js";

export function mount(ctx, host) {
  const { client, model } = ctx;
  const list = el("ol", { class: "queue", id: "help-queue" });
  const empty = el("p", { class: "muted", id: "help-empty" }, t("help.empty"));
  const count = el("span", { class: "count-pill", id: "help-count" }, "0");
  host.append(el("div", { class: "card-head" }, el("h2", {}, t("help.title"), " ", count)), empty, list);
  const onIt = new Set();
  let queue = [];

  function draw() {
    count.textContent = String(queue.length);
    empty.hidden = queue.length > 0;
    const now = Date.now();
    list.replaceChildren(...queue.map((r) => el("li", { class: "queue-item", dataset: { helpId: r.id, user: r.user_id, onIt: String(onIt.has(r.id)) } },
      el("div", {}, el("strong", {}, r.name), " ",
        el("span", { class: "badge badge-hand" }, r.kind === "hand" ? t("roster.hand") : t("roster.help")), " ",
        el("span", { class: "muted since" }, formatAgo(r.created_at_ms, now)),
        r.text ? el("p", { class: "queue-text" }, r.text) : null),
      el("div", { class: "button-row" },
        onIt.has(r.id) ? el("span", { class: "badge badge-info" }, t("help.on_it_marked"))
          : el("button", { type: "button", class: "btn-small help-on-it", on: { click: () => claim(r) } }, t("help.on_it")),
        el("button", { type: "button", class: "btn-small help-resolve", on: { click: () => resolve(r) } }, t("help.resolve"))))));
  }
  async function claim(r) {
    try {
      await client.request({ type: "message", to: { user: r.user_id }, text: t("help.on_it_message"), data: { kind: "help.on_it", help_id: r.id } });
      onIt.add(r.id);
      draw();
    } catch (err) { announce(humanError(err)); }
  }
  async function resolve(r) {
    try { await client.request({ type: "help.resolve", help_id: r.id }); } catch (err) { announce(humanError(err)); }
  }
  const update = (q, change) => {
    const before = new Set(queue.map((r) => r.id));
    queue = q;
    model.helpQueue(q);
    draw();
    const added = change && change.added;
    if (added && !before.has(added.id)) announce(t(added.kind === "hand" ? "help.announce_hand" : "help.announce_help", { name: added.name }));
  };
  client.on("help.queue", (env) => update(env.payload.queue, env.payload.change));
  client.on("snapshot", (snap) => update((snap.interactions || {}).help_queue || [], null));
  setInterval(draw, 30000);
}
