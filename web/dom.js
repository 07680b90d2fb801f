// Small DOM helpers shared by the pages and panels.

/** el("div", {class, dataset, on: {click}, attr: value}, ...children) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Screen-reader announcements: one polite live region per page (role=status), and an
 *  assertive one for what must interrupt (the connection lost, a question opened). */
export function announce(text, { urgent = false } = {}) {
  const region = document.getElementById(urgent ? "announce-urgent" : "announce");
  if (!region) return;
  // Clear first so that the same text twice is announced twice.
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 30);
}

export function liveRegions() {
  return [
    el("div", { id: "announce", class: "sr-only", role: "status", "aria-live": "polite" }),
    el("div", { id: "announce-urgent", class: "sr-only", role: "alert", "aria-live": "assertive" }),
  ];
}

/** Horizontal bars: [{label, count, highlight}] with "count · percent" (a list for readers). */
export function bars(items, total, { format = (n) => String(n), percent = (f) => `${Math.round(f * 100)}%` } = {}) {
  return el("ul", { class: "bars" }, ...items.map((item, i) => {
    const fraction = total > 0 ? item.count / total : 0;
    const fill = el("span", { class: "bar-fill" });
    fill.style.width = `${(fraction * 100).toFixed(1)}%`;
    return el("li", { class: `bar${item.highlight ? " bar-correct" : ""}`, dataset: { index: String(i), count: String(item.count) } },
      el("span", { class: "bar-label" }, item.label),
      el("span", { class: "bar-track", "aria-hidden": "true" }, fill),
      el("span", { class: "bar-value" }, `${format(item.count)} · ${percent(fraction)}`));
  }));
}

/** Debounce a render to the next animation frame (many events, one render). */
export function frameScheduler(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}
