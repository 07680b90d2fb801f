// The board, student side: shown to everyone; students draw and add notes when the
// teacher allows it.

import { announce, el } from "/dom.js";
import { t } from "/i18n.js";
import { Board } from "/panels/board.js";

export function mount(ctx, host) {
  const { client } = ctx;
  host.append(el("h2", {}, t("board.title")));
  const board = new Board(client, host, { staff: false, idPrefix: "s" });
  client.on("board.permit", (env) => {
    board.setCanDraw(env.payload.students);
    announce(env.payload.students ? t("board.you_may_draw") : t("board.drawing_off"));
  });
  client.on("snapshot", (snap) => { const b = (snap.interactions || {}).board; if (b) board.load(b); });
  return board;
}
