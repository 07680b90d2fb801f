// The start page (index.html): a teacher creates a class and gets the code and links;
// a student joins with a code and a name. join.html?code=… is the student's half alone.

import { api } from "/client.js";
import { el, liveRegions } from "/dom.js";
import { chooseLanguage, humanError, languagePicker, t } from "/i18n.js";

const CODE_ERRORS = { session_not_found: "join.no_such_code", session_ended: "join.ended", rate_limited: "join.rate_limited" };

function field(label, input, help) {
  return el("label", { class: "field" }, el("span", {}, label), input, help ? el("small", { class: "muted" }, help) : null);
}

function joinCard(code) {
  const codeInput = el("input", { id: "join-code", maxlength: "12", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", required: true, class: "code-input" });
  codeInput.value = code || "";
  const name = el("input", { id: "join-name", maxlength: "64", autocomplete: "name", required: true });
  const info = el("p", { id: "join-info", class: "muted", role: "status" });
  const status = el("p", { id: "join-status", class: "form-status", role: "alert" });
  const go = el("button", { type: "submit", class: "btn btn-primary", id: "join-go" }, t("join.go"));
  const form = el("form", { id: "join-form", class: "stack", novalidate: true },
    field(t("join.code"), codeInput, t("join.code_help")), field(t("join.name"), name, t("join.name_help")), info, el("div", {}, go), status);
  const lookUp = async () => {
    const c = codeInput.value.trim();
    if (c.length < 4) { info.textContent = ""; return; }
    try {
      const cls = await api(`/api/classes/${encodeURIComponent(c)}`);
      info.textContent = t("join.class_info", { subject: cls.subject || t("teacher.untitled_class"), topic: cls.topic || "" });
      info.dataset.found = "true";
      if (cls.status === "ended") { status.textContent = t("join.ended"); }
    } catch (err) {
      info.dataset.found = "false";
      info.textContent = "";
      status.textContent = t(CODE_ERRORS[err.code] || "join.no_such_code", { code: c.toUpperCase() });
    }
  };
  codeInput.addEventListener("change", () => { status.textContent = ""; lookUp(); });
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    status.textContent = "";
    if (codeInput.value.trim().length < 4) { status.textContent = t("join.need_code"); codeInput.focus(); return; }
    if (!name.value.trim()) { status.textContent = t("join.need_name"); name.focus(); return; }
    go.disabled = true;
    try {
      const res = await api("/api/join", { method: "POST", body: { code: codeInput.value.trim(), name: name.value.trim() } });
      location.assign(`/student.html?token=${encodeURIComponent(res.token)}`);
    } catch (err) {
      status.textContent = CODE_ERRORS[err.code] ? t(CODE_ERRORS[err.code], { code: codeInput.value.trim().toUpperCase() }) : humanError(err);
      go.disabled = false;
    }
  };
  if (code) lookUp();
  return el("section", { class: "card", id: "join-card", "aria-labelledby": "join-title" }, el("h2", { id: "join-title" }, t("join.title")), form);
}

function createCard() {
  const teacher = el("input", { id: "create-teacher", maxlength: "64", autocomplete: "name" });
  const subject = el("input", { id: "create-subject", maxlength: "200" });
  const grade = el("input", { id: "create-grade", maxlength: "50" });
  const topic = el("input", { id: "create-topic", maxlength: "500" });
  const lang = el("select", { id: "create-language" }, new Option("한국어", "ko"), new Option("English", "en"));
  lang.value = document.documentElement.lang === "ko" ? "ko" : "en";
  const minutes = el("input", { id: "create-minutes", type: "number", min: "1", max: "600", value: "45", inputmode: "numeric" });
  const go = el("button", { type: "submit", class: "btn btn-primary", id: "create-go" }, t("create.go"));
  const status = el("p", { id: "create-status", class: "form-status", role: "alert" });
  const result = el("div", { id: "create-result", role: "status" });
  const form = el("form", { id: "create-form", class: "stack", novalidate: true },
    field(t("create.teacher_name"), teacher), field(t("create.subject"), subject),
    el("div", { class: "row-fields" }, field(t("create.grade"), grade), field(t("create.minutes"), minutes)),
    field(t("create.topic"), topic), field(t("create.language"), lang), el("div", {}, go), status);
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    status.textContent = "";
    const planned = Number(minutes.value);
    if (!Number.isInteger(planned) || planned < 1 || planned > 600) { status.textContent = t("create.bad_minutes"); minutes.focus(); return; }
    go.disabled = true;
    try {
      const res = await api("/api/classes", { method: "POST", body: {
        teacher_name: teacher.value.trim() || t("create.default_teacher"), subject: subject.value.trim(), grade_level: grade.value.trim(),
        topic: topic.value.trim(), language: lang.value, planned_minutes: planned } });
      const joinUrl = `${location.origin}/join.html?code=${res.join_code}`;
      const teacherUrl = `${location.origin}/teacher.html?token=${encodeURIComponent(res.teacher_token)}`;
      result.replaceChildren(el("div", { class: "created" },
        el("h3", {}, t("create.done")),
        el("p", {}, t("create.code_is")), el("p", { class: "big-code", id: "created-code" }, res.join_code),
        el("p", {}, t("create.students_go", { host: location.host })),
        el("p", {}, t("create.join_link"), " ", el("a", { href: joinUrl, id: "created-join-link" }, joinUrl)),
        el("p", {}, el("a", { href: teacherUrl, class: "btn btn-primary", id: "created-teacher-link" }, t("create.open_console"))),
        el("p", { class: "muted" }, t("create.keep_link"))));
      form.hidden = true;
      result.querySelector("h3").tabIndex = -1;
      result.querySelector("h3").focus();
    } catch (err) {
      status.textContent = err.code === "forbidden" ? t("create.not_allowed") : humanError(err);
    } finally {
      go.disabled = false;
    }
  };
  return el("section", { class: "card", id: "create-card", "aria-labelledby": "create-title" }, el("h2", { id: "create-title" }, t("create.title")), form, result);
}

function boot() {
  chooseLanguage();
  const page = document.body.dataset.page;
  const code = new URLSearchParams(location.search).get("code") || "";
  document.title = t(page === "join" ? "join.page_title" : "start.page_title");
  document.body.append(...liveRegions(),
    el("header", { class: "topbar" }, el("div", { class: "topbar-title" }, el("h1", {}, t("start.product"))),
      el("div", { class: "topbar-actions" }, languagePicker(el))),
    el("main", { class: "start", id: "main" },
      page === "join" ? null : el("p", { class: "lead" }, t("start.lead")),
      el("div", { class: page === "join" ? "start-grid single" : "start-grid" }, joinCard(code), page === "join" ? null : createCard())),
    el("footer", { class: "page-foot muted" }, el("p", {}, t("start.footer"), " ", el("a", { href: "/admin" }, t("start.admin_link")))));
}

boot();
