// Every visible string comes from one catalogue per language (web/i18n/<lang>.js).
// The language: the person's own choice (saved in this browser), else the browser's
// language when there is a catalogue for it, else the class's language, else English.
// Numbers, times and dates are formatted for that language with Intl.

import en from "/i18n/en.js";
import ko from "/i18n/ko.js";

export const CATALOGUES = { en, ko };
const STORE_KEY = "classroom-lang";
let lang = "en";
let catalogue = en;

export function chooseLanguage(classLanguage = "") {
  const asked = new URLSearchParams(location.search).get("lang");
  let saved = null;
  try { saved = localStorage.getItem(STORE_KEY); } catch (err) { /* storage blocked */ }
  const browser = (navigator.languages || [navigator.language || ""]).map((l) => String(l).slice(0, 2).toLowerCase());
  const candidates = [asked, saved, ...browser.filter((l) => l === "ko" || l === "en"), String(classLanguage).slice(0, 2), "en"];
  setLanguage(candidates.find((l) => l && CATALOGUES[l]));
  return lang;
}

export function setLanguage(code, { save = false } = {}) {
  lang = CATALOGUES[code] ? code : "en";
  catalogue = CATALOGUES[lang];
  document.documentElement.lang = lang;
  if (save) { try { localStorage.setItem(STORE_KEY, lang); } catch (err) { /* ignore */ } }
}

export function language() { return lang; }

// Intl objects are costly to build: one of each per language and options, kept.
const intlCache = new Map();
function intl(kind, options = {}) {
  const key = `${lang}|${kind}|${JSON.stringify(options)}`;
  let made = intlCache.get(key);
  if (!made) {
    made = new Intl[kind](lang, options);
    intlCache.set(key, made);
  }
  return made;
}
export function compareText(a, b) { return intl("Collator").compare(a, b); }

/** t("roster.summary.online", {n: 3, total: 9}): the string for the key, placeholders filled in.
 *  A value may be {one, other}: chosen by the plural rule of `n`. */
export function t(key, vars = {}) {
  let value = catalogue[key] ?? en[key];
  if (value === undefined) {
    console.warn(`missing string ${key}`);
    return key;
  }
  if (typeof value === "object") {
    const rule = intl("PluralRules").select(Number(vars.n ?? 0));
    value = value[rule] ?? value.other;
  }
  return value.replace(/\{(\w+)\}/g, (_, name) => {
    const v = vars[name];
    if (v === undefined || v === null) return "";
    return typeof v === "number" ? formatNumber(v) : String(v);
  });
}

export function formatNumber(n, options = {}) { return intl("NumberFormat", options).format(n); }
export function formatPercent(fraction) { return intl("NumberFormat", { style: "percent", maximumFractionDigits: 0 }).format(fraction); }
export function formatList(items) { return intl("ListFormat", { type: "conjunction" }).format(items.map(String)); }
export function formatTime(ms) { return intl("DateTimeFormat", { hour: "numeric", minute: "2-digit" }).format(new Date(ms)); }
export function formatDateTime(ms) { return intl("DateTimeFormat", { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms)); }

/** 125 s -> "2:05" (a clock, the same in both languages). */
export function formatClock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** "3 minutes ago" in the page's language. */
export function formatAgo(ms, now = Date.now()) {
  const seconds = Math.round((ms - now) / 1000);
  const rtf = intl("RelativeTimeFormat", { numeric: "auto" });
  if (Math.abs(seconds) < 60) return rtf.format(Math.min(0, seconds), "second");
  const minutes = Math.round(seconds / 60);
  if (Math.abs(minutes) < 60) return rtf.format(minutes, "minute");
  return rtf.format(Math.round(minutes / 60), "hour");
}

/** Server errors in words a person can act on (never a field name or a code). */
export function humanError(err) {
  const code = (err && err.code) || "";
  const key = `error.${code}`;
  if (code && (catalogue[key] || en[key])) return t(key);
  if (code === "malformed_message" || code === "invalid_body" || code === "invalid_request") {
    const field = /field '([\w.]+)'/.exec(err.message || "");
    if (field && (catalogue[`field.${field[1]}`] || en[`field.${field[1]}`])) {
      return t("error.check_field", { field: t(`field.${field[1]}`) });
    }
    return t("error.not_accepted");
  }
  return t("error.generic");
}

/** A language switcher (a labelled select); changing it reloads the page in that language. */
export function languagePicker(el) {
  const select = el("select", { id: "lang-picker", class: "lang-picker" },
    ...Object.keys(CATALOGUES).map((code) => {
      const o = new Option(CATALOGUES[code]["lang.name"], code);
      o.lang = code;
      return o;
    }));
  select.value = lang;
  select.onchange = () => { setLanguage(select.value, { save: true }); location.reload(); };
  return el("label", { class: "lang-label" }, el("span", { class: "sr-only" }, t("lang.label")), select);
}
