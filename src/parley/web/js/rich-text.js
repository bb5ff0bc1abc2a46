// A safe subset of Markdown: **bold**, *italic* or _italic_, `code`, ```code blocks```,
// "> " quotes, and http(s) links. It builds DOM nodes from text; no user text is ever given
// to innerHTML, so nothing in a message can become markup.

import { element } from "./dom.js";

// One alternative per inline form, tried left to right. `_` only at word edges, so that
// snake_case_names stay as written.
const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*|(?<!\w)_[^_\s][^_\n]*_(?!\w))|(https?:\/\/[^\s<>"]+)/g;

/**
 * @param {string} url
 * @returns {[string, string]} the link and what trails it (punctuation that ends a sentence)
 */
function trimUrl(url) {
  let end = url.length;
  while (end > 0 && ".,;:!?'".includes(url[end - 1])) end -= 1;
  if (url[end - 1] === ")" && !url.slice(0, end).includes("(")) end -= 1;
  return [url.slice(0, end), url.slice(end)];
}

/**
 * @param {string} href
 * @returns {HTMLAnchorElement}
 */
function link(href) {
  return element("a", { text: href, attrs: { href, target: "_blank", rel: "noopener noreferrer" } });
}

/**
 * @param {string} text
 * @returns {(Node | string)[]}
 */
export function inline(text) {
  /** @type {(Node | string)[]} */
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const start = match.index ?? 0;
    if (start > last) nodes.push(text.slice(last, start));
    const [whole, code, bold, italic, url] = match;
    if (code) nodes.push(element("code", { text: code.slice(1, -1) }));
    else if (bold) nodes.push(element("strong", { text: bold.slice(2, -2) }));
    else if (italic) nodes.push(element("em", { text: italic.slice(1, -1) }));
    else if (url) {
      const [href, trailing] = trimUrl(url);
      nodes.push(link(href), trailing);
    } else nodes.push(whole);
    last = start + whole.length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

/**
 * A message body as nodes: paragraphs keep their line breaks (the body is pre-wrap).
 * @param {string} text
 * @returns {(Node | string)[]}
 */
export function richText(text) {
  /** @type {(Node | string)[]} */
  const nodes = [];
  const lines = text.split("\n");
  /** @type {string[]} */
  let plain = [];
  const flush = () => {
    if (plain.length) nodes.push(...inline(plain.join("\n")));
    plain = [];
  };
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index];
    if (line.startsWith("```")) {
      const end = lines.indexOf("```", index + 1);
      if (end !== -1) {
        flush();
        nodes.push(element("pre", {}, [element("code", { text: lines.slice(index + 1, end).join("\n") })]));
        index = end;
        continue;
      }
    }
    if (line.startsWith(">")) {
      flush();
      /** @type {string[]} */
      const quoted = [];
      while (index < lines.length && lines[index].startsWith(">")) {
        quoted.push(lines[index].replace(/^> ?/, ""));
        index += 1;
      }
      index -= 1;
      nodes.push(element("blockquote", {}, inline(quoted.join("\n"))));
      continue;
    }
    // A line break between two plain lines belongs to the text; around blocks it does not.
    plain.push(line);
  }
  flush();
  return nodes;
}
