// One message: who and when, the text (rich, but never markup from the text itself), the
// attachment, and what its sender (or the room's owner) may do with it.

import { blobUrl } from "../api.js";
import { button, element } from "../dom.js";
import { formatBytes, fullDate, timeOfDay } from "../format.js";
import { richText } from "../rich-text.js";

/** @typedef {import("../types.js").Message} Message */
/** @typedef {import("../types.js").Attachment} Attachment */
/** @typedef {import("../types.js").User} User */

/**
 * @typedef {object} MessageActions
 * @property {(message: Message) => boolean} mayEdit
 * @property {(message: Message) => boolean} mayDelete
 * @property {(message: Message, body: string) => Promise<boolean>} edit
 * @property {(message: Message) => void} remove
 * @property {() => void} editEnded the inline editor closed
 * @property {(error: unknown) => void} failed
 * @property {() => void} imageShown an image took its place: keep the reader's view
 */

const THUMB_WIDTH = 320;
const THUMB_HEIGHT = 240;

// A display name is anyone's choice of text: isolated from what surrounds it (<bdi>), and
// followed by the unique username, so that no one can pass for someone else.
/**
 * @param {User} sender
 * @returns {HTMLSpanElement}
 */
export function senderLabel(sender) {
  const label = document.createElement("span");
  label.className = "sender";
  const name = document.createElement("bdi");
  name.textContent = sender.display_name;
  const handle = document.createElement("span");
  handle.className = "username";
  handle.textContent = `@${sender.username}`;
  label.append(name, " ", handle);
  return label;
}

/**
 * @param {string} iso
 * @returns {HTMLTimeElement}
 */
function timeElement(iso) {
  const when = new Date(iso);
  return element("time", { text: timeOfDay(when), attrs: { datetime: iso, title: fullDate(when) } });
}

/**
 * @param {string} text
 * @returns {string}
 */
function excerpt(text) {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * @param {Message} message
 * @returns {string} what the message is, for labels
 */
function describe(message) {
  if (message.attachment) return message.attachment.filename;
  return excerpt(message.body);
}

/**
 * @param {Attachment} attachment
 * @param {MessageActions} actions
 * @returns {HTMLElement}
 */
function attachmentElement(attachment, actions) {
  const open = element("a", { className: "attachment", attrs: { href: attachment.url } });
  open.addEventListener("click", async (event) => {
    event.preventDefault();
    try {
      window.open(await blobUrl(attachment.url), "_blank", "noopener");
    } catch (error) {
      actions.failed(error);
    }
  });
  if (attachment.thumbnail_url) {
    open.setAttribute("aria-label", `Open the image ${attachment.filename}`);
    const image = element("img", { className: "thumbnail", attrs: { alt: attachment.filename } });
    // Its place is kept before it loads, so what comes after it does not move.
    if (attachment.width && attachment.height) {
      const scale = Math.min(1, THUMB_WIDTH / attachment.width, THUMB_HEIGHT / attachment.height);
      image.width = Math.max(1, Math.round(attachment.width * scale));
      image.height = Math.max(1, Math.round(attachment.height * scale));
    }
    image.addEventListener("load", () => actions.imageShown(), { once: true });
    blobUrl(attachment.thumbnail_url).then((url) => { image.src = url; }, () => { image.alt = `${attachment.filename} (could not be loaded)`; });
    open.append(image);
    return open;
  }
  open.setAttribute("aria-label", `Open ${attachment.filename}`);
  open.classList.add("file-card");
  const kind = attachment.kind === "pdf"
    ? `PDF · ${attachment.pages} page${attachment.pages === 1 ? "" : "s"}`
    : `Text · ${attachment.lines} line${attachment.lines === 1 ? "" : "s"}`;
  const size = attachment.size ? ` · ${formatBytes(attachment.size)}` : "";
  open.append(
    element("strong", { text: attachment.filename }),
    element("span", { text: `${kind}${size}` }),
  );
  if (attachment.text_preview) open.append(element("small", { text: attachment.text_preview.slice(0, 160) }));
  return open;
}

/**
 * @param {HTMLLIElement} item
 * @param {Message} message
 * @param {MessageActions} actions
 */
function startEditing(item, message, actions) {
  const body = item.querySelector(".body");
  const tools = item.querySelector(".actions");
  if (!(body instanceof HTMLElement) || item.querySelector(".editor")) return;
  const editor = element("form", { className: "editor" });
  const label = element("label", { className: "visually-hidden", text: "Edit message" });
  const box = element("textarea", { attrs: { rows: "3" } });
  box.id = `edit-${message.id}`;
  label.htmlFor = box.id;
  box.value = message.body;
  const error = element("p", { className: "form-error", attrs: { role: "alert" } });
  error.hidden = true;
  const done = () => {
    editor.remove();
    body.hidden = false;
    if (tools instanceof HTMLElement) tools.hidden = false;
  };
  const cancel = button("Cancel", () => {
    done();
    actions.editEnded();
  });
  const save = element("button", { text: "Save", attrs: { type: "submit" } });
  editor.append(label, box, error, element("div", { className: "editor-actions" }, [save, cancel]));
  editor.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = box.value.trim();
    if (!text) {
      error.hidden = false;
      error.textContent = "A message cannot be empty; delete it instead.";
      return;
    }
    save.disabled = true;
    if (await actions.edit(message, text)) {
      done();
      actions.editEnded();
    } else save.disabled = false;
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      cancel.click();
    } else if (event.key === "Enter" && !event.shiftKey && !matchMedia("(pointer: coarse)").matches) {
      event.preventDefault();
      editor.requestSubmit();
    }
  });
  body.hidden = true;
  if (tools instanceof HTMLElement) tools.hidden = true;
  body.after(editor);
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

/**
 * @param {Message} message
 * @param {MessageActions} actions
 * @param {string | null} myId
 * @returns {HTMLLIElement}
 */
export function messageElement(message, actions, myId) {
  const item = element("li", { className: `message kind-${message.kind}` });
  item.dataset.messageId = message.id;
  item.dataset.seq = String(message.seq);
  if (message.sender && message.sender.id === myId) item.classList.add("mine");

  const meta = element("span", { className: "meta" });
  if (message.sender) meta.append(senderLabel(message.sender), " · ");
  meta.append(timeElement(message.created_at));
  if (message.edited_at && !message.deleted_at) meta.append(" · edited");

  const body = element("div", { className: "body" });
  if (message.deleted_at) {
    body.textContent = "This message was deleted.";
    item.classList.add("deleted");
  } else if (message.kind === "system") {
    body.textContent = message.body;
  } else if (!message.attachment || message.body !== message.attachment.filename) {
    // A shared file's body is its name, which its card shows already.
    body.append(...richText(message.body));
  }
  item.append(meta, body);
  if (message.attachment && !message.deleted_at && message.kind !== "system") {
    item.append(attachmentElement(message.attachment, actions));
  }

  const tools = element("span", { className: "actions" });
  if (actions.mayEdit(message)) {
    tools.append(button("Edit", () => startEditing(item, message, actions), {
      label: `Edit message: ${describe(message)}`,
    }));
  }
  if (actions.mayDelete(message)) {
    tools.append(button("Delete", () => actions.remove(message), {
      label: `Delete message: ${describe(message)}`,
    }));
  }
  if (tools.childElementCount) item.append(tools);
  return item;
}

/**
 * A message written here and not yet stored.
 * @param {import("../outbox.js").Outgoing} outgoing
 * @param {User | null} me
 * @param {string} status
 * @param {{retry: () => void, discard: () => void}} actions
 * @returns {HTMLLIElement}
 */
export function pendingElement(outgoing, me, status, actions) {
  const item = element("li", { className: "message kind-text mine pending" });
  item.dataset.clientId = outgoing.clientId;
  const meta = element("span", { className: "meta" });
  if (me) meta.append(senderLabel(me), " · ");
  meta.append(element("span", { className: "status", text: status }));
  const body = element("div", { className: "body" }, richText(outgoing.body));
  item.append(meta, body);
  if (outgoing.state === "failed") {
    item.classList.replace("pending", "failed");
    item.append(element("span", { className: "actions" }, [
      button("Try again", actions.retry, { label: `Try sending again: ${excerpt(outgoing.body)}` }),
      button("Discard", actions.discard, { label: `Discard: ${excerpt(outgoing.body)}` }),
    ]));
  }
  return item;
}
