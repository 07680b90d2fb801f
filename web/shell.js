// What every class page has: the connection state in words (with a reconnect countdown),
// a page for a link that cannot work, and the debug event log behind a toggle.

import { announce, el } from "/dom.js";
import { formatNumber, t } from "/i18n.js";

const REFUSED_KEYS = {
  token_expired: "link.expired", token_invalid: "link.invalid", token_missing: "link.missing",
  session_not_found: "link.no_class", session_ended: "conn.ended", forbidden: "conn.removed",
};

/** The connection pill: connected / reconnecting in N s (with "Retry now") / ended… */
export function connectionStatus(client, { onFatal } = {}) {
  const text = el("span", { class: "conn-text" }, t("conn.connecting"));
  const retry = el("button", { type: "button", class: "btn-small conn-retry", hidden: true }, t("conn.retry_now"));
  retry.onclick = () => client.retryNow();
  const root = el("div", { id: "conn", class: "conn", role: "status", dataset: { state: "connecting" } }, el("span", { class: "conn-dot", "aria-hidden": "true" }), text, retry);
  let countdown = null;
  let backTimer = null;
  let via = "websocket";

  const connectedText = () => t(via === "datachannel" ? "conn.connected_rtc" : "conn.connected_ws");
  const show = (state, words) => {
    root.dataset.state = state;
    document.body.dataset.connection = state;
    text.textContent = words;
  };

  client.on("transport", (p) => {
    via = p.events;
    document.body.dataset.transport = p.events;
    if (root.dataset.state === "connected") text.textContent = connectedText();
  });
  client.on("state", (d) => {
    clearInterval(countdown);
    retry.hidden = true;
    if (d.state === "connected") {
      via = "websocket";
      const wasDown = ["reconnecting", "stalled"].includes(root.dataset.state);
      if (wasDown && d.resumed !== undefined) {
        const n = d.resumed ? d.resumed.replayed : 0;
        const words = d.snapshot ? t("conn.back_refreshed") : n ? t("conn.back_caught_up", { n }) : t("conn.back_nothing_missed");
        show("connected", words);
        announce(words);
        clearTimeout(backTimer);
        backTimer = setTimeout(() => { if (root.dataset.state === "connected") text.textContent = connectedText(); }, 5000);
      } else if (root.dataset.state !== "connected") {
        show("connected", connectedText());
      }
    } else if (d.state === "stalled") {
      show("reconnecting", t("conn.unstable"));
    } else if (d.state === "reconnecting") {
      const tick = () => {
        const s = Math.max(0, Math.ceil((d.retryAt - Date.now()) / 1000));
        show("reconnecting", s > 0 ? t("conn.reconnecting_in", { s }) : t("conn.reconnecting"));
      };
      tick();
      if (d.attempt === 1) announce(t("conn.lost"), { urgent: true });
      countdown = setInterval(tick, 250);
      retry.hidden = false;
    } else if (d.state === "ended") {
      show("ended", t("conn.ended"));
      announce(t("conn.ended"), { urgent: true });
      if (onFatal) onFatal("ended");
    } else if (d.state === "removed") {
      show("removed", t("conn.removed"));
      announce(t("conn.removed"), { urgent: true });
      if (onFatal) onFatal("removed");
    } else if (d.state === "replaced") {
      show("offline", t("conn.replaced"));
      if (onFatal) onFatal("replaced");
    } else if (d.state === "flooding") {
      show("offline", t("conn.flooding"));
    } else if (d.state === "refused") {
      show("offline", t(REFUSED_KEYS[d.code] || "link.invalid"));
      if (onFatal) onFatal("refused", d.code);
    } else if (d.state === "left") {
      show("offline", t("conn.left"));
    } else if (d.state === "connecting") {
      show("connecting", t("conn.connecting"));
    }
  });
  return root;
}

/** A full-page message for a link that cannot work, saying what to do instead. */
export function problemPage(code) {
  const key = REFUSED_KEYS[code] || "link.invalid";
  const main = document.querySelector("main") || document.body;
  main.replaceChildren(el("section", { class: "card problem", id: "problem", dataset: { code: code || "" } },
    el("h2", {}, t(`${key}.title`)),
    el("p", {}, t(`${key}.what_to_do`)),
    el("p", {}, el("a", { href: "/", class: "btn btn-primary" }, t("link.go_start")))));
}

/** The debug event log, closed by default: the last 200 events, drawn only while open. */
export function debugLog(client) {
  const list = el("ol", { class: "log", id: "log", tabindex: "0", "aria-label": t("log.title") });
  const details = el("details", { class: "debug-log", id: "debug-log" },
    el("summary", {}, t("log.title")), list);
  const kept = [];
  const line = (env) => el("li", { dataset: { type: env.type, seq: String(env.seq ?? "") } },
    `#${env.seq ?? "—"} ${env.type} ${JSON.stringify(env.payload).slice(0, 400)}`);
  client.on("event", (env) => {
    kept.push(env);
    if (kept.length > 200) kept.shift();
    if (details.open) {
      list.prepend(line(env));
      while (list.children.length > 200) list.lastChild.remove();
    }
  });
  details.addEventListener("toggle", () => {
    if (details.open) list.replaceChildren(...kept.slice().reverse().map(line));
    else list.replaceChildren();
  });
  return details;
}

/** "3 of 12" in the page's language. */
export function ofTotal(n, total) { return t("common.n_of_m", { n: formatNumber(n), m: formatNumber(total) }); }
