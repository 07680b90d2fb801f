// Breakout groups: create a group, drag students in from the roster (or add them from a
// list, by keyboard), send the group a question, a lesson or a message, and bring everyone
// back. Groups are the server's named groups (group.set / group.updated).

import { announce, el } from "/dom.js";
import { humanError, t } from "/i18n.js";

export function mount(ctx, host) {
  const { client, model } = ctx;
  const name = el("input", { id: "group-new-name", maxlength: "40", autocomplete: "off", pattern: "[A-Za-z0-9_.:@\\- ]+" });
  const create = el("button", { type: "submit", class: "btn", id: "group-create" }, t("groups.create"));
  const back = el("button", { type: "button", class: "btn", id: "groups-back" }, t("groups.bring_back"));
  const status = el("p", { class: "form-status", role: "status", id: "groups-status" });
  const list = el("div", { class: "group-list", id: "group-list" });
  const form = el("form", { class: "row-fields", id: "group-form" },
    el("label", { class: "field" }, el("span", {}, t("groups.new_name")), name), create);
  host.append(el("h2", { class: "sr-only" }, t("tabs.groups")), el("p", { class: "muted" }, t("groups.help")), form, list, el("div", { class: "button-row" }, back), status);
  const local = new Set(); // groups created here that have no members yet

  const slug = (s) => s.trim().replace(/\s+/g, "-").replace(/[^A-Za-z0-9_.:@-]/g, "").slice(0, 40);
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const g = slug(name.value);
    if (!g) { status.textContent = t("groups.need_name"); return; }
    local.add(g);
    name.value = "";
    draw();
    host.querySelector(`[data-group="${CSS.escape(g)}"] select`)?.focus();
  };

  async function move(user, group) {
    const p = model.people.get(user);
    try {
      if (p && p.group && p.group !== group) await client.request({ type: "group.set", group: p.group, remove: [user] });
      await client.request({ type: "group.set", group, add: [user] });
      announce(t("groups.moved", { name: p ? p.name : user, group }));
    } catch (err) { status.textContent = humanError(err); }
  }
  async function removeMember(user, group) {
    try { await client.request({ type: "group.set", group, remove: [user] }); } catch (err) { status.textContent = humanError(err); }
  }
  back.onclick = async () => {
    try {
      for (const [g, members] of model.groups) if (members.size) await client.request({ type: "group.set", group: g, remove: [...members] });
      local.clear();
      status.textContent = t("groups.all_back");
      announce(status.textContent);
    } catch (err) { status.textContent = humanError(err); }
  };

  function card(g) {
    const members = [...(model.groups.get(g) || [])].map((id) => model.people.get(id) || { id, name: id });
    const pick = el("select", { "aria-label": t("groups.add_to", { group: g }) }, new Option(t("groups.choose_student"), ""),
      ...model.students().filter((p) => p.group !== g).sort((a, b) => a.name.localeCompare(b.name)).map((p) => new Option(p.name, p.id)));
    const add = el("button", { type: "button", class: "btn-small" }, t("groups.add"));
    add.onclick = () => { if (pick.value) move(pick.value, g); };
    const ask = el("button", { type: "button", class: "btn-small", dataset: { askGroup: g } }, t("groups.ask_question"));
    ask.onclick = () => ctx.focusTool("question", { group: g });
    const lesson = el("button", { type: "button", class: "btn-small" }, t("groups.send_lesson"));
    lesson.onclick = () => ctx.focusTool("lesson", { group: g });
    const zone = el("section", { class: "group-card", dataset: { group: g, members: String(members.length) }, "aria-label": t("groups.group_named", { group: g }) },
      el("h3", {}, g, " ", el("span", { class: "count-pill" }, String(members.length))),
      el("ul", { class: "chips" }, ...members.map((p) => el("li", { class: "chip", dataset: { user: p.id } }, p.name,
        el("button", { type: "button", class: "chip-x", "aria-label": t("groups.remove_from", { name: p.name, group: g }), on: { click: () => removeMember(p.id, g) } }, "×")))),
      members.length ? null : el("p", { class: "muted drop-hint" }, t("groups.drop_here")),
      el("div", { class: "row-fields" }, pick, add),
      el("div", { class: "button-row" }, ask, lesson));
    zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("drop-target"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("drop-target"));
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault();
      zone.classList.remove("drop-target");
      const user = ev.dataTransfer.getData("text/x-user");
      if (user) move(user, g);
    });
    return zone;
  }

  function draw() {
    const names = [...new Set([...model.groups.keys(), ...local])].filter((g) => !g.startsWith("profile:") && !g.startsWith("supplement")).sort();
    list.replaceChildren(...names.map(card));
    if (!names.length) list.append(el("p", { class: "muted" }, t("groups.none")));
    // Every "send to" select offers the groups.
    for (const select of ctx.groupSelects || []) {
      const keep = select.value;
      while (select.options.length > 1) select.remove(1);
      for (const g of names) select.add(new Option(t("groups.group_named", { group: g }), g));
      select.value = names.includes(keep) ? keep : "";
    }
    const datalist = document.getElementById("group-names");
    if (datalist) datalist.replaceChildren(...names.map((g) => new Option(g, g)));
  }
  client.on("group.updated", (env) => {
    model.setGroup(env.payload.group, env.payload.members);
    if (env.payload.members.length) local.delete(env.payload.group);
    draw();
  });
  let drawn = 0;
  model.addEventListener("change", () => {
    // Membership names may change with presence; redraw at most every 2 s.
    if (Date.now() - drawn > 2000) { drawn = Date.now(); draw(); }
  });
  client.on("welcome", () => draw());
  draw();
}
