// Notices at the top of the conversation, clear of the composer: one per subject (a newer
// one replaces it rather than stacking), wrapped to the screen, and staying until dismissed
// or resolved, except plain news, which fades after a while.

import { $, button, element } from "./dom.js";

const NEWS_MS = 6000;

/**
 * @param {string} key what it is about: a second notice with the same key replaces the first
 * @param {string} text
 * @param {{level?: "error" | "info", sticky?: boolean}} [options]
 */
export function notify(key, text, options = {}) {
  const level = options.level ?? "error";
  dismiss(key);
  const item = element("div", { className: `notice ${level}`, attrs: { "data-key": key } });
  const words = element("p", { text });
  // Errors are announced at once; news waits for a pause in what the reader hears.
  item.setAttribute("role", level === "error" ? "alert" : "status");
  item.append(words, button("Dismiss", () => item.remove(), { label: `Dismiss: ${text}` }));
  $("#notices").append(item);
  if (level === "info" && !options.sticky) setTimeout(() => item.remove(), NEWS_MS);
}

/** @param {string} key */
export function dismiss(key) {
  for (const item of $("#notices").querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) item.remove();
}

export function clearNotices() {
  $("#notices").replaceChildren();
}
