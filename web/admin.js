// The admin dashboard (/admin): live sessions and students over every worker process, the
// workers with their classes, connections and load, AI tokens and (with prices configured)
// their estimated cost; then this worker's event delivery latency, AI time to first token,
// error and reconnect rates — plotted over the last minutes from the server's own metrics
// (GET /api/admin/overview, one sample every 5 s). Needs an admin token or the API secret
// (kept for this tab only).

import { api } from "/client.js";
import { el, liveRegions } from "/dom.js";
import { chooseLanguage, formatNumber, formatTime, humanError, languagePicker, t } from "/i18n.js";

const KEY = "classroom-admin-credential";
const REFRESH_MS = 5000;

const sum = (values, prefix) => Object.entries(values).filter(([k]) => k === prefix || k.startsWith(`${prefix}{`)).reduce((s, [, v]) => s + v, 0);

/** Per-minute (or per-second) rate of a counter between consecutive samples. */
function rates(samples, name, perSeconds = 60) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].ts_ms - samples[i - 1].ts_ms) / 1000;
    const dv = sum(samples[i].values, name) - sum(samples[i - 1].values, name);
    out.push({ ts: samples[i].ts_ms, v: dt > 0 ? Math.max(0, dv) / dt * perSeconds : 0 });
  }
  return out;
}
const gauge = (samples, name) => samples.map((s) => ({ ts: s.ts_ms, v: sum(s.values, name) }));
function ratio(samples, num, den) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dn = sum(samples[i].values, num) - sum(samples[i - 1].values, num);
    const dd = sum(samples[i].values, den) - sum(samples[i - 1].values, den);
    out.push({ ts: samples[i].ts_ms, v: dd > 0 ? dn / dd : 0 });
  }
  return out;
}

export function chart(id, title, points, { unit = "", digits = 0 } = {}) {
  const W = 300; const H = 80;
  const last = points.length ? points[points.length - 1].v : 0;
  const max = Math.max(1e-9, ...points.map((p) => p.v));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("spark");
  if (points.length > 1) {
    const t0 = points[0].ts; const span = Math.max(1, points[points.length - 1].ts - t0);
    const xy = points.map((p) => `${((p.ts - t0) / span * (W - 4) + 2).toFixed(1)},${(H - 4 - (p.v / max) * (H - 12)).toFixed(1)}`);
    const area = document.createElementNS(svg.namespaceURI, "polygon");
    area.setAttribute("points", `2,${H - 4} ${xy.join(" ")} ${W - 2},${H - 4}`);
    area.setAttribute("class", "spark-area");
    const line = document.createElementNS(svg.namespaceURI, "polyline");
    line.setAttribute("points", xy.join(" "));
    line.setAttribute("class", "spark-line");
    svg.append(area, line);
  }
  const fmt = (v) => `${formatNumber(v, { maximumFractionDigits: digits })}${unit}`;
  return el("figure", { class: "metric", id }, el("figcaption", {}, title),
    el("p", { class: "metric-now" }, fmt(last)), svg,
    el("p", { class: "muted metric-range" }, t("admin.peak", { value: fmt(points.length ? max : 0), minutes: Math.round((points.length * REFRESH_MS) / 60000) || 1 })));
}

function boot() {
  chooseLanguage();
  document.title = t("admin.page_title");
  const params = new URLSearchParams(location.search);
  if (params.get("token")) { sessionStorage.setItem(KEY, params.get("token")); history.replaceState(null, "", "/admin"); }
  const main = el("main", { class: "admin", id: "main" });
  const updated = el("span", { class: "pill", id: "admin-updated", role: "status" });
  document.body.append(...liveRegions(),
    el("header", { class: "topbar" }, el("div", { class: "topbar-title" }, el("h1", {}, t("admin.title"))),
      el("div", { class: "topbar-facts" }, updated), el("div", { class: "topbar-actions" }, languagePicker(el))), main);

  const credential = sessionStorage.getItem(KEY);
  if (!credential) { login(main); return; }
  let timer = null;
  const refresh = async () => {
    try {
      const data = await api("/api/admin/overview", { token: credential });
      draw(main, data);
      updated.textContent = t("admin.updated", { time: formatTime(data.now.ts_ms) });
      document.body.dataset.loaded = "true";
    } catch (err) {
      if (err.status === 401 || err.status === 403) { sessionStorage.removeItem(KEY); clearInterval(timer); login(main, t("admin.bad_credential")); return; }
      updated.textContent = humanError(err);
    }
  };
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

function login(main, problem = "") {
  const input = el("input", { id: "admin-credential", type: "password", autocomplete: "current-password", required: true });
  const status = el("p", { class: "form-status", role: "alert", id: "admin-login-status" }, problem);
  const form = el("form", { class: "stack", id: "admin-login" },
    el("label", { class: "field" }, el("span", {}, t("admin.credential")), input, el("small", { class: "muted" }, t("admin.credential_help"))),
    el("div", {}, el("button", { type: "submit", class: "btn btn-primary" }, t("admin.sign_in"))), status);
  form.onsubmit = (ev) => {
    ev.preventDefault();
    if (!input.value.trim()) { status.textContent = t("admin.need_credential"); return; }
    sessionStorage.setItem(KEY, input.value.trim());
    location.reload();
  };
  main.replaceChildren(el("section", { class: "card narrow", "aria-labelledby": "login-title" }, el("h2", { id: "login-title" }, t("admin.sign_in_title")), form));
}

function draw(main, data) {
  const samples = [...data.history, data.now].filter((s, i, all) => i === 0 || s.ts_ms > all[i - 1].ts_ms);
  const now = data.now.values;
  const students = data.sessions.reduce((s, x) => s + x.students, 0);
  const workers = data.workers || [];
  const connections = workers.reduce((s, w) => s + w.connections, 0);
  const load = data.load || {};
  const ai = data.ai || {};
  const cost = ai.cost == null ? [] : [el("div", {}, el("dt", {}, t("admin.ai_cost")),
    el("dd", { id: "fact-ai-cost" }, formatNumber(ai.cost, { style: "currency", currency: ai.currency || "USD", maximumFractionDigits: 2 })))];
  const facts = el("section", { class: "card", "aria-labelledby": "facts-title" }, el("h2", { id: "facts-title" }, t("admin.now")),
    el("dl", { class: "facts", id: "admin-facts" },
      el("div", {}, el("dt", {}, t("admin.sessions")), el("dd", { id: "fact-sessions" }, formatNumber(data.sessions.length))),
      el("div", {}, el("dt", {}, t("admin.students")), el("dd", { id: "fact-students" }, formatNumber(students))),
      el("div", {}, el("dt", {}, t("admin.connections")), el("dd", {}, formatNumber(connections))),
      el("div", {}, el("dt", {}, t("admin.workers")), el("dd", { id: "fact-workers" }, formatNumber(workers.length))),
      el("div", {}, el("dt", {}, t("admin.load")), el("dd", { id: "fact-load" }, t("admin.load_value", { load: formatNumber(Math.round((load.load || 0) * 100)), step: load.step ?? 0 }))),
      el("div", {}, el("dt", {}, t("admin.ai_tokens")), el("dd", { id: "fact-ai-tokens" }, formatNumber((ai.prompt_tokens || 0) + (ai.completion_tokens || 0)))), ...cost));
  const subjects = new Map(data.sessions.map((s) => [s.id, s.subject || s.id]));
  const workersCard = el("section", { class: "card sessions-card", "aria-labelledby": "workers-title" }, el("h2", { id: "workers-title" }, t("admin.workers_title")),
    el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "workers-title" }, el("table", { class: "table", id: "admin-workers" },
      el("caption", { class: "muted" }, t("admin.workers_caption", { n: workers.length, worker: String(data.worker) })),
      el("thead", {}, el("tr", {}, ...["admin.col_worker", "admin.col_classes", "admin.col_connections", "admin.col_load", "admin.col_cpu", "admin.col_lag", "admin.col_tokens"].map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, ...workers.map((w) => {
        const wl = w.load || {};
        const tokens = (w.ai_tokens?.prompt || 0) + (w.ai_tokens?.completion || 0);
        return el("tr", { dataset: { worker: w.worker } },
          el("th", { scope: "row" }, w.worker === data.worker ? t("admin.this_worker", { worker: w.worker }) : `${w.worker}`, el("br"), el("small", { class: "muted" }, `${w.host} · ${w.pid}`)),
          el("td", {}, w.sessions.length ? w.sessions.map((s) => subjects.get(s.id) || s.id).join(", ") : "—"),
          el("td", {}, formatNumber(w.connections)),
          // Without load monitoring (--no-load-shedding) there is no CPU or lag figure.
          el("td", {}, wl.monitoring ? t("admin.load_value", { load: formatNumber(Math.round((wl.load || 0) * 100)), step: wl.step ?? 0 }) : t("admin.not_measured")),
          el("td", {}, wl.monitoring ? `${formatNumber(Math.round((wl.cpu_fraction || 0) * 100))} %` : "—"),
          el("td", {}, wl.monitoring ? `${formatNumber(wl.loop_lag_ms || 0, { maximumFractionDigits: 1 })} ms` : "—"),
          el("td", {}, formatNumber(tokens)));
      })))));
  const sessions = el("section", { class: "card sessions-card", "aria-labelledby": "sessions-title" }, el("h2", { id: "sessions-title" }, t("admin.live_sessions")),
    data.sessions.length ? el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "sessions-title" }, el("table", { class: "table", id: "admin-sessions" },
      el("thead", {}, el("tr", {}, ...["admin.col_class", "admin.col_topic", "admin.col_students", "admin.col_teachers", "admin.col_connections", "admin.col_status"].map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, ...data.sessions.map((s) => el("tr", { dataset: { session: s.id } },
        el("th", { scope: "row" }, s.subject || s.id), el("td", {}, s.topic || "—"), el("td", {}, formatNumber(s.students)),
        el("td", {}, formatNumber(s.teachers)), el("td", {}, formatNumber(s.connections)), el("td", {}, t(`admin.status.${s.status}`))))))) : el("p", { class: "muted" }, t("admin.no_sessions")));
  const charts = el("section", { class: "card", "aria-labelledby": "charts-title" }, el("h2", { id: "charts-title" }, t("admin.last_minutes")),
    el("div", { class: "metric-grid" },
      chart("m-connections", t("admin.m_connections"), gauge(samples, "classroom_connections")),
      chart("m-events", t("admin.m_events"), rates(samples, "classroom_events_delivered_total", 1), { digits: 1 }),
      chart("m-latency-p50", t("admin.m_latency_p50"), gauge(samples, "classroom_delivery_latency_ms_p50"), { unit: " ms", digits: 1 }),
      chart("m-latency-p99", t("admin.m_latency_p99"), gauge(samples, "classroom_delivery_latency_ms_p99"), { unit: " ms", digits: 1 }),
      chart("m-ttft", t("admin.m_ttft"), ratio(samples, "classroom_content_ttft_ms_sum", "classroom_content_ttft_count"), { unit: " ms" }),
      chart("m-tokens", t("admin.m_tokens"), rates(samples, "classroom_content_completion_tokens")),
      chart("m-errors", t("admin.m_errors"), rates(samples, "classroom_error_replies_total"), { digits: 1 }),
      chart("m-resumes", t("admin.m_resumes"), rates(samples, "classroom_resumes_total"), { digits: 1 }),
      chart("m-joins", t("admin.m_joins"), rates(samples, "classroom_joins_total"), { digits: 1 }),
      chart("m-cpu", t("admin.m_cpu"), rates(samples, "process_cpu_seconds_total", 100), { unit: " %" }),
      chart("m-rss", t("admin.m_rss"), gauge(samples, "process_resident_memory_bytes").map((p) => ({ ...p, v: p.v / 1048576 })), { unit: " MB" })));
  const errorsNow = Object.entries(now).filter(([k, v]) => k.startsWith("classroom_error_replies_total{") && v > 0);
  const errors = el("section", { class: "card", "aria-labelledby": "errors-title" }, el("h2", { id: "errors-title" }, t("admin.errors_by_code")),
    errorsNow.length ? el("ul", { class: "plain" }, ...errorsNow.map(([k, v]) => el("li", {}, `${(/code="?([\w.]+)/.exec(k) || [])[1] || k}: ${formatNumber(v)}`))) : el("p", { class: "muted" }, t("admin.no_errors")));
  main.replaceChildren(el("div", { class: "admin-grid" }, facts, errors, sessions, workersCard), charts);
}

boot();
