// The open room's timeline: messages in seq order with day dividers, the "new messages"
// line, what you wrote that is still on its way, and a reader's place that is kept.
//
// Rendering reconciles the list with what should be there (one node per key, reused), so
// a message that arrives late (a replay after a reconnect) lands in its place by seq, and
// the reader's view stays where it was: at the bottom it follows new messages; scrolled up,
// it stays put and a "New messages ↓" button appears instead.

import { $, element, one } from "../dom.js";
import { dayKey, dayLabel } from "../format.js";
import { countsAsUnread, markRead, ordered, store } from "../store.js";
import { unsent } from "../outbox.js";
import { messageElement, pendingElement } from "./message.js";

/** @typedef {import("../store.js").RoomEntry} RoomEntry */
/** @typedef {import("./message.js").MessageActions} MessageActions */
/** @typedef {import("../types.js").User} User */

const AT_BOTTOM_PX = 40;
const LOAD_OLDER_PX = 200;

/** @type {Map<string, {node: HTMLLIElement, version: string}>} */
let nodes = new Map();
/** The read marker when the room was opened: the "new messages" line goes after it. */
let newAfter = /** @type {number | null} */ (null);
/** @type {Map<string, {name: string, timer: number}>} */
const typing = new Map();
/** Whether the reader is at the latest message (and so follows what arrives). */
let following = true;
/** @type {MessageActions & {pendingStatus: (state: string) => string, retry: (id: string) => void, discard: (id: string) => void, loadOlder: () => void}} */
let actions;

const list = () => one("#messages", HTMLOListElement);

/** @param {HTMLElement} scroller */
function atBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < AT_BOTTOM_PX;
}

/** @returns {RoomEntry | undefined} */
function activeEntry() {
  return store.activeId ? store.rooms.get(store.activeId) : undefined;
}

/**
 * @param {string} key
 * @param {string} version
 * @param {() => HTMLLIElement} make
 * @returns {HTMLLIElement}
 */
function node(key, version, make) {
  const known = nodes.get(key);
  if (known && known.version === version) return known.node;
  const made = make();
  nodes.set(key, { node: made, version });
  return made;
}

/** @param {string} text */
function divider(text, className = "day-divider") {
  return element("li", { className }, [element("span", { text })]);
}

/**
 * @param {RoomEntry} entry
 * @returns {HTMLLIElement[]}
 */
function wanted(entry) {
  /** @type {HTMLLIElement[]} */
  const items = [];
  let day = "";
  let lineDrawn = false;
  const myId = store.me?.id ?? null;
  for (const message of ordered(entry)) {
    const when = new Date(message.created_at);
    if (dayKey(when) !== day) {
      day = dayKey(when);
      const label = dayLabel(when);
      items.push(node(`d:${day}`, label, () => divider(label)));
    }
    if (!lineDrawn && newAfter !== null && message.seq > newAfter && countsAsUnread(message)) {
      lineDrawn = true;
      items.push(node("new-line", "", () => divider("New messages", "new-divider")));
    }
    const version = [message.edited_at, message.deleted_at, actions.mayEdit(message), actions.mayDelete(message)].join("|");
    items.push(node(`m:${message.id}`, version, () => messageElement(message, actions, myId)));
  }
  for (const outgoing of unsent(entry.room.id)) {
    const status = outgoing.state === "failed" ? `Not sent: ${outgoing.reason}` : actions.pendingStatus(outgoing.state);
    items.push(node(`p:${outgoing.clientId}`, `${outgoing.state}|${status}`, () => pendingElement(outgoing, store.me, status, {
      retry: () => actions.retry(outgoing.clientId),
      discard: () => actions.discard(outgoing.clientId),
    })));
  }
  return items;
}

/**
 * Make the list hold exactly these nodes, in this order, touching only what differs.
 * @param {HTMLElement} parent
 * @param {HTMLElement[]} items
 */
function patch(parent, items) {
  let cursor = parent.firstElementChild;
  for (const item of items) {
    if (item === cursor) {
      cursor = cursor.nextElementSibling;
      continue;
    }
    parent.insertBefore(item, cursor);
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
  const kept = new Set(items);
  for (const [key, known] of nodes) if (!kept.has(known.node)) nodes.delete(key);
}

/**
 * The first item the reader sees, and how far from the top: to put it back after a change.
 * @param {HTMLElement} scroller
 * @returns {{item: HTMLElement, offset: number} | null}
 */
function anchorOf(scroller) {
  for (const child of scroller.children) {
    if (child instanceof HTMLElement && child.offsetTop + child.offsetHeight > scroller.scrollTop) {
      return { item: child, offset: child.offsetTop - scroller.scrollTop };
    }
  }
  return null;
}

function unseen() {
  const entry = activeEntry();
  if (!entry) return 0;
  const read = store.read.get(entry.room.id) ?? 0;
  return ordered(entry).filter((message) => message.seq > read && countsAsUnread(message)).length;
}

/** Read up to the newest message, if the reader can see it. */
function noteSeen() {
  const entry = activeEntry();
  if (entry && atBottom(list()) && document.visibilityState === "visible") markRead(entry.room.id, entry.lastSeq);
}

function updateJump() {
  const jump = $("#jump-latest");
  const scroller = list();
  const fresh = unseen();
  jump.hidden = atBottom(scroller);
  jump.replaceChildren(fresh ? `New messages (${fresh}) ` : "Latest ", element("span", { text: "↓", attrs: { "aria-hidden": "true" } }));
}

export function scrollToLatest() {
  const scroller = list();
  following = true;
  scroller.scrollTop = scroller.scrollHeight;
  noteSeen();
  updateJump();
}

/**
 * @param {{stick?: boolean}} [options] stick: show the latest whatever the reader's place
 */
export function render(options = {}) {
  const entry = activeEntry();
  if (!entry) return;
  const scroller = list();
  const follow = options.stick || atBottom(scroller);
  const anchor = follow ? null : anchorOf(scroller);
  patch(scroller, wanted(entry));
  if (follow) {
    following = true;
    scroller.scrollTop = scroller.scrollHeight;
    noteSeen();
  } else if (anchor?.item.isConnected) {
    scroller.scrollTop = anchor.item.offsetTop - anchor.offset;
  }
  updateJump();
}

/**
 * A room was opened: a fresh timeline.
 * @param {RoomEntry} entry
 * @param {{name: string, handle: string | null}} title
 */
export function showRoom(entry, title) {
  nodes = new Map();
  list().replaceChildren();
  const read = store.read.get(entry.room.id);
  newAfter = entry.unread > 0 && read !== undefined ? read : null;
  clearTyping();
  $("#no-room").hidden = true;
  $("#room").hidden = false;
  setTitle(title);
  $("#add-member-box").hidden = entry.room.kind === "direct";
  $("#online").textContent = "";
}

/** @param {{name: string, handle: string | null}} title */
export function setTitle(title) {
  const heading = $("#room-name");
  heading.replaceChildren(element("bdi", { text: title.name }));
  if (title.handle) heading.append(" ", element("span", { className: "username", text: title.handle }));
}

/** Scroll to the "new messages" line if there is one, else to the latest. */
export function showFirstUnread() {
  const line = list().querySelector(".new-divider");
  if (line instanceof HTMLElement) {
    list().scrollTop = Math.max(0, line.offsetTop - 8);
    noteSeen();
    updateJump();
  } else {
    scrollToLatest();
  }
}

export function hideRoom() {
  nodes = new Map();
  list().replaceChildren();
  clearTyping();
  $("#room").hidden = true;
  $("#no-room").hidden = false;
  $("#online").textContent = "";
  $("#room-name").replaceChildren();
  $("#jump-latest").hidden = true;
}

// --- typing and presence -------------------------------------------------------------------

const TYPING_SHOWN_MS = 4000;

function renderTyping() {
  const names = [...typing.values()].map((who) => who.name);
  $("#typing").textContent = names.length === 0 ? ""
    : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
}

/** @param {User} user */
export function showTyping(user) {
  clearTimeout(typing.get(user.id)?.timer);
  const timer = window.setTimeout(() => endTyping(user.id), TYPING_SHOWN_MS);
  typing.set(user.id, { name: user.display_name, timer });
  renderTyping();
}

/** Their message arrived: they have stopped typing it. @param {string} userId */
export function endTyping(userId) {
  if (!typing.has(userId)) return;
  clearTimeout(typing.get(userId)?.timer);
  typing.delete(userId);
  renderTyping();
}

function clearTyping() {
  for (const who of typing.values()) clearTimeout(who.timer);
  typing.clear();
  renderTyping();
}

/** @param {User[]} users */
export function showOnline(users) {
  const names = users.map((user) => user.display_name).sort((a, b) => a.localeCompare(b));
  $("#online").textContent = names.length ? `Online: ${names.join(", ")}` : "";
}

/** A short spoken note of a new message, without reading the whole timeline again. @param {string} text */
export function announce(text) {
  $("#new-messages-status").textContent = text;
}

/** @param {typeof actions} given */
export function wireConversation(given) {
  actions = given;
  const scroller = list();
  scroller.addEventListener("scroll", () => {
    following = atBottom(scroller);
    if (scroller.scrollTop < LOAD_OLDER_PX) actions.loadOlder();
    noteSeen();
    updateJump();
  }, { passive: true });
  $("#jump-latest").addEventListener("click", () => {
    scrollToLatest();
    one("#message-input", HTMLTextAreaElement).focus();
  });
  document.addEventListener("visibilitychange", noteSeen);
}

/** An image took its place: a reader following the latest still sees the latest. */
export function keepFollowing() {
  if (following) scrollToLatest();
}
