// The board tab of the teacher console: the shared board with every tool, and the
// "students may draw" switch.

import { el } from "/dom.js";
import { humanError, t } from "/i18n.js";
import { Board } from "/panels/board.js";

export function mount(ctx, host) {
  const { client } = ctx;
  const permit = el("input", { type: "checkbox", id: "board-permit", role: "switch" });
  const status = el("p", { class: "form-status", role: "status" });
  host.append(el("h2", { class: "sr-only" }, t("tabs.board")),
    el("label", { class: "check switch" }, permit, t("board.students_may_draw")), status);
  const board = new Board(client, host, { staff: true, idPrefix: "t" });
  permit.onchange = async () => {
    try { await client.request({ type: "board.permit", students: permit.checked }); status.textContent = ""; }
    catch (err) { status.textContent = humanError(err); permit.checked = !permit.checked; }
  };
  client.on("board.permit", (env) => { permit.checked = env.payload.students; });
  client.on("snapshot", (snap) => {
    const b = (snap.interactions || {}).board;
    if (b) { board.load(b); permit.checked = Boolean(b.students_allowed); }
  });
  client.on("reconnected", (d) => { if (!d.resumed) board.sync().catch(() => {}); });
  return board;
}
