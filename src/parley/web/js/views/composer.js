// Writing a message. Enter sends at a keyboard; on a touch screen Enter makes a new line and
// the Send button sends (phone keyboards have no Shift+Enter). Text over the limit is kept,
// never cut: the count says by how much, and it is not sent until it fits.

import { $, one } from "../dom.js";

export const MAX_LENGTH = 4000;
const WARN_FROM = MAX_LENGTH - 200;
const TYPING_EVERY_MS = 3000;

const input = () => one("#message-input", HTMLTextAreaElement);
const touch = () => matchMedia("(pointer: coarse)").matches;

/**
 * @typedef {object} ComposerActions
 * @property {(body: string) => void} send
 * @property {() => void} typing
 * @property {(files: File[]) => void} share
 */

let lastTyping = 0;

function renderLimit() {
  const length = input().value.length;
  const limit = $("#composer-limit");
  const over = length - MAX_LENGTH;
  limit.hidden = length < WARN_FROM;
  limit.classList.toggle("over", over > 0);
  limit.textContent = over > 0
    ? `${over.toLocaleString()} character${over === 1 ? "" : "s"} too long (${length.toLocaleString()} / ${MAX_LENGTH.toLocaleString()})`
    : `${length.toLocaleString()} / ${MAX_LENGTH.toLocaleString()}`;
  input().setAttribute("aria-invalid", String(over > 0));
}

function renderHint() {
  const hint = touch() ? "Send with the Send button." : "Enter sends; Shift+Enter makes a new line.";
  $("#composer-hint").textContent = hint;
  input().placeholder = touch() ? "Write a message…" : "Write a message… (Enter to send, Shift+Enter for a new line)";
}

/** @param {ComposerActions} actions */
export function wireComposer(actions) {
  const box = input();
  renderHint();
  matchMedia("(pointer: coarse)").addEventListener("change", renderHint);
  one("#composer", HTMLFormElement).addEventListener("submit", (event) => {
    event.preventDefault();
    const body = box.value.trim();
    if (!body) return;
    if (body.length > MAX_LENGTH) {
      renderLimit();
      box.focus();
      return;
    }
    box.value = "";
    renderLimit();
    actions.send(body);
    // The message ends this bout of typing: the first keystroke of the next one says so.
    lastTyping = 0;
    box.focus();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !touch()) {
      event.preventDefault();
      one("#composer", HTMLFormElement).requestSubmit();
    }
  });
  box.addEventListener("input", () => {
    renderLimit();
    const now = Date.now();
    if (box.value && now - lastTyping > TYPING_EVERY_MS) {
      lastTyping = now;
      actions.typing();
    }
  });
  box.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length) {
      event.preventDefault();
      actions.share(files);
    }
  });
  const picker = one("#file-input", HTMLInputElement);
  picker.addEventListener("change", () => {
    actions.share([...(picker.files ?? [])]);
    picker.value = "";
  });
  const room = $("#room");
  room.addEventListener("dragover", (event) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    room.classList.add("dropping");
  });
  room.addEventListener("dragleave", (event) => {
    if (event.target === room) room.classList.remove("dropping");
  });
  room.addEventListener("drop", (event) => {
    room.classList.remove("dropping");
    const files = [...(event.dataTransfer?.files ?? [])];
    if (!files.length) return;
    event.preventDefault();
    actions.share(files);
  });
}

/** Ready to write. On a touch screen that would pop the keyboard up unasked: the room's
 * name takes the focus there instead, so a screen reader starts at the top of the room. */
export function focusComposer() {
  if (touch()) $("#room-name").focus();
  else input().focus();
}

export function clearComposer() {
  input().value = "";
  renderLimit();
  lastTyping = 0;
}
