// A small, safe Markdown renderer for generated lesson content (no dependencies, no build).
// Safety comes from the order of work: the whole source is HTML-escaped first, and only
// then are the few Markdown constructs turned into tags this file writes itself. Links are
// kept only for http(s) URLs; anything else stays as plain text. Partial input (a lesson
// still streaming) renders sensibly: an unclosed code fence runs to the end.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// Inline constructs on already-escaped text. Code spans and link URLs are held aside first so
// that they are never read as emphasis (renderMarkdown strips
// NUL from the source, so the \u0000 markers cannot be forged).
function inline(escaped) {
  const held = []; // finished HTML kept away from the emphasis rules
  const hold = (html) => { held.push(html); return `\u0000${held.length - 1}\u0000`; };
  let s = escaped.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${code}</code>`));
  s = s.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, (_, label, url) => {
    const open = hold(`<a href="${url}" rel="noopener noreferrer" target="_blank">`);
    return `${open}${label}${hold("</a>")}`;
  });
  s = s.replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>");
  s = s.replace(/__([^_\n]+)__/g, "<strong>$1</strong>");
  s = s.replace(/(^|[^*\w])\*([^*\n]+)\*(?!\*)/g, "$1<em>$2</em>");
  s = s.replace(/(^|[^_\w])_([^_\n]+)_(?![_\w])/g, "$1<em>$2</em>");
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
}

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*(\d+)[.)]\s+(.*)$/;
const FENCE = /^\s*```/;

/** Markdown source -> an HTML string that contains only tags written here. */
export function renderMarkdown(source) {
  const lines = escapeHtml(String(source ?? "").replace(/\u0000/g, ""))
    .replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let paragraph = [];
  let list = null; // { tag: "ul" | "ol", items: [] }

  const flushParagraph = () => {
    if (paragraph.length) out.push(`<p>${inline(paragraph.join(" "))}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join("")}</${list.tag}>`);
    list = null;
  };
  const flush = () => { flushParagraph(); flushList(); };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (FENCE.test(line)) {
      flush();
      const code = [];
      for (i++; i < lines.length && !FENCE.test(lines[i]); i++) code.push(lines[i]);
      out.push(`<pre><code>${code.join("\n")}</code></pre>`);
      continue;
    }
    let m;
    if (!line.trim()) { flush(); continue; }
    if ((m = HEADING.exec(line))) {
      flush();
      const level = m[1].length;
      out.push(`<h${level}>${inline(m[2])}</h${level}>`);
    } else if ((m = BULLET.exec(line)) || (m = NUMBERED.exec(line))) {
      flushParagraph();
      const tag = BULLET.test(line) ? "ul" : "ol";
      if (list && list.tag !== tag) flushList();
      if (!list) list = { tag, items: [] };
      list.items.push(m[m.length - 1]);
    } else if (list && /^\s{2,}\S/.test(line)) {
      list.items[list.items.length - 1] += ` ${line.trim()}`; // continuation of an item
    } else {
      flushList();
      paragraph.push(line.trim());
    }
  }
  flush();
  return out.join("\n");
}

/** Renders into an element (innerHTML is safe here: see renderMarkdown). */
export function renderInto(element, source) {
  element.innerHTML = renderMarkdown(source);
}
