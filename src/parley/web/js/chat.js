// The chat itself: rooms, their messages, what the socket brings, what the person does.
// Views draw; this decides.

import { api } from "./api.js";
import { one } from "./dom.js";
import { explain } from "./errors.js";
import { dismiss, notify } from "./notices.js";
import * as outbox from "./outbox.js";
import { clearAddress, showRoomInAddress } from "./router.js";
import * as socket from "./socket.js";
import { countsAsUnread, markRead, roomTitle, store, upsertRoom } from "./store.js";
import * as conversation from "./views/conversation.js";
import { confirmAction } from "./views/dialog.js";
import { focusComposer } from "./views/composer.js";
import { narrow, renderRooms, toggleDrawer } from "./views/rooms.js";
import { share, uploadChanged } from "./sharing.js";

/** @typedef {import("./types.js").Room} Room */
/** @typedef {import("./types.js").Message} Message */
/** @typedef {import("./types.js").MessagePage} MessagePage */
/** @typedef {import("./types.js").ServerFrame} ServerFrame */
/** @typedef {import("./types.js").User} User */
/** @typedef {import("./store.js").RoomEntry} RoomEntry */

const PAGE = 50;
const UNREAD_PAGE = 100;


/** @param {unknown} error */
function failed(error) {
  notify("action", explain(error));
}

const drawRooms = () => renderRooms((roomId) => void openRoom(roomId));

// --- rooms ---------------------------------------------------------------------------------

/**
 * Where the reader left each room, and how much is new since (when the server does not say).
 * @param {RoomEntry} entry
 */
async function countUnread(entry) {
  if (entry.room.unread_count !== undefined) return;
  const read = store.read.get(entry.room.id);
  if (read === undefined) {
    markRead(entry.room.id, entry.room.last_seq); // first sight: what was there is not news
    return;
  }
  if (entry.room.last_seq <= read) return;
  /** @type {MessagePage} */
  const page = await api("GET", `/api/rooms/${entry.room.id}/messages?after_seq=${read}&limit=${UNREAD_PAGE}`);
  entry.unread = page.items.filter(countsAsUnread).length;
}

/** @param {RoomEntry} entry */
async function learnPeer(entry) {
  if (entry.room.kind !== "direct" || entry.peer) return;
  /** @type {Room} */
  const detail = await api("GET", `/api/rooms/${entry.room.id}`);
  entry.peer = detail.members?.find((member) => member.id !== store.me?.id) ?? null;
}

// The list of rooms: GET /api/rooms is the truth, read at start and on every (re)connection;
// between readings the user's events (`room.added`, `room.updated`, `room.removed`) keep it
// current. A frame may come twice, or cross a reading in flight: each is applied by room id,
// and a reading does not undo a change that reached this tab after the reading began.

/** Counts the changes to the list made by frames and by this tab's own actions. */
let changes = 0;
/** @type {Map<string, number>} the count at each room's latest such change */
const changedAt = new Map();

/** @param {string} roomId */
function noteChange(roomId) {
  changes += 1;
  changedAt.set(roomId, changes);
}

/** @type {Promise<void> | null} */
let reading = null;
let readAgain = false;

/**
 * Read the list of rooms and make the client's agree with it. A call while a reading is in
 * flight reads once more after it (the first may predate what the caller knows).
 * @returns {Promise<void>}
 */
export function loadRooms() {
  if (reading) {
    readAgain = true;
    return reading;
  }
  reading = (async () => {
    try {
      do {
        readAgain = false;
        await readRooms();
      } while (readAgain && store.me);
    } finally {
      reading = null;
    }
  })();
  return reading;
}

async function readRooms() {
  const since = changes;
  earlyUpdates.clear(); // the reading has the newest state of every room
  /** @type {Room[]} */
  const rooms = await api("GET", "/api/rooms");
  if (!store.me) return; // signed out meanwhile
  const listed = new Set(rooms.map((room) => room.id));
  const newer = (/** @type {string} */ roomId) => (changedAt.get(roomId) ?? 0) > since;
  /** @type {RoomEntry[]} */
  const fresh = [];
  for (const room of rooms) {
    if (newer(room.id)) continue;
    if (store.rooms.has(room.id)) {
      upsertRoom(room);
    } else {
      // New to this tab: the connection resumed the others; this one starts now.
      const entry = upsertRoom(room);
      subscribe(entry);
      fresh.push(entry);
    }
  }
  for (const roomId of [...store.rooms.keys()]) {
    if (!listed.has(roomId) && !newer(roomId)) removeRoom(roomId);
  }
  const open = store.activeId ? store.rooms.get(store.activeId) : undefined;
  if (open) roomChanged(open);
  await Promise.all(fresh.map(async (entry) => {
    try {
      await Promise.all([countUnread(entry), learnPeer(entry)]);
    } catch {
      /* a count or a name can wait; the room is listed anyway */
    }
  }));
  drawRooms();
}

/**
 * A room became the user's (created, joined, added to, a direct room opened), here or
 * elsewhere. Listed at once; what was in it before is not news; what comes next is.
 * @param {Room} room
 * @returns {Promise<RoomEntry | undefined>}
 */
async function roomAdded(room) {
  noteChange(room.id);
  const early = earlyUpdates.get(room.id);
  earlyUpdates.delete(room.id);
  if (early && early.last_seq > room.last_seq) room = early;
  if (store.rooms.has(room.id)) {
    const entry = upsertRoom(room);
    // Its first sight may still be learning who a direct room is with: a room opened now
    // would be titled "Direct message" (the frame and this tab's own answer cross).
    await learnPeer(entry).catch(() => {});
    roomChanged(entry);
    return entry;
  }
  const entry = upsertRoom(room);
  markRead(room.id, room.last_seq);
  subscribe(entry);
  await learnPeer(entry).catch(() => {}); // a direct room is named after the other person
  if (store.rooms.get(room.id) !== entry) return undefined; // gone meanwhile
  drawRooms();
  return entry;
}

/**
 * Updates that came before their room's `room.added`: changes made at the same moment by
 * different people may arrive crossed. Kept until the room is added (or the next reading).
 * @type {Map<string, Room>}
 */
const earlyUpdates = new Map();

/**
 * A room of the user's changed: its name, its owner.
 * @param {Room} room
 */
function roomUpdated(room) {
  if (!store.rooms.has(room.id)) {
    // Not listed (yet, or any more): not a reason to list it; its `room.added` may follow.
    const held = earlyUpdates.get(room.id);
    if (!held || room.last_seq > held.last_seq) earlyUpdates.set(room.id, room);
    return;
  }
  noteChange(room.id);
  roomChanged(upsertRoom(room));
}

/**
 * Show a room's current state wherever it is drawn.
 * @param {RoomEntry} entry
 */
function roomChanged(entry) {
  drawRooms();
  if (entry.room.id === store.activeId) {
    conversation.setTitle(roomTitle(entry));
    conversation.render(); // who may delete follows the owner
  }
}

/** @param {RoomEntry} entry */
function subscribe(entry) {
  // Without a connection, the next one subscribes to every room (`connected`).
  socket.send({ type: "subscribe", room_id: entry.room.id, since_seq: entry.lastSeq });
}

/** Every room, from the last seq held: what was missed comes first, exactly once. */
export function subscribeAll() {
  for (const entry of store.rooms.values()) subscribe(entry);
}

/**
 * @param {Room} room
 * @returns {Promise<void>}
 */
export async function joined(room) {
  // Its `room.added` may have come first, or may come next: either way, listed once.
  if (await roomAdded(room)) await openRoom(room.id);
}

/**
 * @param {string} roomId
 * @param {{fromAddress?: boolean}} [options]
 */
export async function openRoom(roomId, options = {}) {
  const entry = store.rooms.get(roomId);
  if (!entry) {
    if (options.fromAddress) clearAddress();
    return;
  }
  toggleDrawer(false); // on a wide screen the drawer is the sidebar, and this changes nothing
  if (store.activeId === roomId) {
    focusComposer();
    return;
  }
  store.activeId = roomId;
  online = new Map();
  showRoomInAddress(roomId);
  conversation.showRoom(entry, roomTitle(entry));
  entry.unread = 0;
  drawRooms();
  if (!entry.loaded) await loadPage(entry, null);
  if (store.activeId !== roomId) return;
  conversation.render();
  conversation.showFirstUnread();
  focusComposer();
  loadOnline(roomId);
}

/**
 * @param {RoomEntry} entry
 * @param {number | null} beforeSeq
 */
async function loadPage(entry, beforeSeq) {
  if (entry.loading) return;
  entry.loading = true;
  try {
    const query = beforeSeq === null ? `limit=${PAGE}` : `before_seq=${beforeSeq}&limit=${PAGE}`;
    /** @type {MessagePage} */
    const page = await api("GET", `/api/rooms/${entry.room.id}/messages?${query}`);
    for (const message of page.items) {
      entry.messages.set(message.seq, message);
      entry.lastSeq = Math.max(entry.lastSeq, message.seq);
    }
    entry.hasOlder = page.has_more;
    entry.loaded = true;
  } catch (error) {
    failed(error);
  } finally {
    entry.loading = false;
  }
}

async function loadOlder() {
  const entry = store.activeId ? store.rooms.get(store.activeId) : undefined;
  if (!entry || !entry.loaded || !entry.hasOlder || entry.loading) return;
  const oldest = Math.min(...entry.messages.keys());
  await loadPage(entry, oldest);
  if (store.activeId === entry.room.id) conversation.render();
}

/** Who is online in the open room, kept current by `presence` frames. */
let online = /** @type {Map<string, User>} */ (new Map());

/** @param {string} roomId */
async function loadOnline(roomId) {
  try {
    /** @type {User[]} */
    const users = await api("GET", `/api/rooms/${roomId}/presence`);
    if (store.activeId !== roomId) return;
    online = new Map(users.map((user) => [user.id, user]));
    conversation.showOnline([...online.values()]);
  } catch {
    /* presence is a nicety */
  }
}

/** @param {ServerFrame} frame */
function presenceChanged(frame) {
  if (frame.room_id !== store.activeId || !frame.user) return;
  if (frame.status === "online") online.set(frame.user.id, frame.user);
  else online.delete(frame.user.id);
  conversation.showOnline([...online.values()]);
}

/**
 * The user is no longer in a room (left here, in another tab, or while away). If it was
 * open, the view closes and says why, and the focus goes to the list of rooms.
 * @param {string} roomId
 * @param {{quiet?: boolean}} [options] quiet: the person just left it here, and knows
 */
function removeRoom(roomId, options = {}) {
  const entry = store.rooms.get(roomId);
  if (!entry) return;
  store.rooms.delete(roomId);
  if (store.activeId === roomId) {
    store.activeId = null;
    conversation.hideRoom();
    clearAddress();
    if (!options.quiet) notify(`left:${roomId}`, `You left ${roomTitle(entry).name}.`, { level: "info" });
    drawRooms();
    toggleDrawer(narrow());
    const first = document.querySelector("#room-list button") ?? document.querySelector("#create-room-box summary");
    if (first instanceof HTMLElement) first.focus();
    return;
  }
  drawRooms();
}

async function leaveRoom() {
  const entry = store.activeId ? store.rooms.get(store.activeId) : undefined;
  if (!entry) return;
  const name = roomTitle(entry).name;
  const what = entry.room.kind === "direct" ? "You will no longer get its messages, until one of you opens it again."
    : "You will no longer get its messages; to come back, someone has to add you (or join it again if it is public).";
  if (!(await confirmAction(`Leave ${name}?`, what, "Leave"))) return;
  try {
    await api("DELETE", `/api/rooms/${entry.room.id}/members/me`);
  } catch (error) {
    failed(error);
    return;
  }
  noteChange(entry.room.id);
  removeRoom(entry.room.id, { quiet: true });
}

// --- messages -------------------------------------------------------------------------------

/** @param {Message} message */
function receive(message) {
  const entry = store.rooms.get(message.room_id);
  if (!entry || entry.messages.has(message.seq)) return;
  const fresh = message.seq > entry.lastSeq;
  entry.messages.set(message.seq, message);
  entry.lastSeq = Math.max(entry.lastSeq, message.seq);
  // Ours, arriving before (or instead of) its ack: it is stored, so it is sent.
  if (message.client_id && message.sender?.id === store.me?.id) outbox.acknowledged(message.client_id);
  if (message.sender) {
    if (message.room_id === store.activeId) conversation.endTyping(message.sender.id);
  }
  if (message.room_id === store.activeId) {
    conversation.render();
    if (fresh && countsAsUnread(message) && message.sender) {
      conversation.announce(`${message.sender.display_name}: ${message.body.slice(0, 140)}`);
      if (document.visibilityState === "hidden") {
        entry.unread += 1; // unseen until the tab is back: the title counts it
        drawRooms();
      }
    }
  } else if (fresh && countsAsUnread(message)) {
    entry.unread += 1;
    drawRooms();
  }
  if (fresh && countsAsUnread(message) && document.visibilityState === "hidden") notifyDesktop(entry, message);
  // Someone else came or went: who is here changed. (A change to the room itself comes as
  // `room.updated`; and after our own `left`, the room is not ours to ask about.)
  const event = message.kind === "system" ? message.attachment?.event : undefined;
  if ((event === "joined" || event === "left") && message.attachment?.user?.id !== store.me?.id
    && message.room_id === store.activeId) loadOnline(message.room_id);
}

/** @param {Message} message */
function replace(message) {
  const entry = store.rooms.get(message.room_id);
  if (!entry) return;
  entry.messages.set(message.seq, message);
  if (message.room_id === store.activeId) conversation.render();
}

/**
 * @param {RoomEntry} entry
 * @param {Message} message
 */
function notifyDesktop(entry, message) {
  if (!("Notification" in window) || Notification.permission !== "granted" || localStorage.getItem("parley.notify") !== "on") return;
  const title = `${message.sender?.display_name ?? "Parley"} in ${roomTitle(entry).name}`;
  const body = message.attachment ? `shared ${message.attachment.filename}` : message.body.slice(0, 200);
  const note = new Notification(title, { body, tag: entry.room.id });
  note.onclick = () => {
    window.focus();
    void openRoom(entry.room.id);
  };
}

/** @param {string} body */
function send(body) {
  if (!store.activeId) return;
  outbox.add(store.activeId, body);
  conversation.render({ stick: true });
}

/**
 * @param {Message} message
 * @param {string} body
 * @returns {Promise<boolean>}
 */
async function edit(message, body) {
  if (body === message.body) return true;
  try {
    replace(await api("PATCH", `/api/rooms/${message.room_id}/messages/${message.id}`, { body }));
    return true;
  } catch (error) {
    failed(error);
    return false;
  }
}

/** @param {Message} message */
async function remove(message) {
  const what = message.attachment ? `“${message.attachment.filename}” will be removed for everyone in the room.`
    : "It will be removed for everyone in the room.";
  if (!(await confirmAction("Delete this message?", what))) return;
  try {
    await api("DELETE", `/api/rooms/${message.room_id}/messages/${message.id}`);
  } catch (error) {
    failed(error);
  }
}

/** The server's rules (docs/protocol.md): the sender edits text; the sender or owner deletes. */
const rules = {
  /** @param {Message} message */
  mayEdit: (message) => message.kind === "text" && !message.deleted_at && message.sender?.id === store.me?.id,
  /** @param {Message} message */
  mayDelete: (message) => {
    if (message.deleted_at || message.kind === "system") return false;
    const owner = store.activeId ? store.rooms.get(store.activeId)?.room.owner_id : null;
    return message.sender?.id === store.me?.id || (owner !== null && owner === store.me?.id);
  },
};

/** @param {string} state */
function pendingStatus(state) {
  if (state === "waiting") return "Waiting to send: the server asked to slow down…";
  if (!socket.isReady()) return "Waiting for the connection…";
  return "Sending…";
}

function outboxChanged() {
  if (outbox.throttled()) {
    notify("too-fast", "You are sending too fast for the server: your messages will go out in a moment, in order.", { level: "info", sticky: true });
  } else {
    dismiss("too-fast");
  }
  if (store.activeId) conversation.render();
}

// --- the socket's frames ---------------------------------------------------------------------

/** @param {ServerFrame} frame */
export function onFrame(frame) {
  switch (frame.type) {
    case "message":
      if (frame.message) receive(frame.message);
      break;
    case "message.edited":
    case "message.deleted":
      if (frame.message) replace(frame.message);
      break;
    case "ack":
      if (frame.message) receive(frame.message);
      if (frame.client_id) outbox.acknowledged(frame.client_id);
      break;
    case "typing":
      if (frame.room_id === store.activeId && frame.user) conversation.showTyping(frame.user);
      break;
    case "presence":
      presenceChanged(frame);
      break;
    case "upload":
      if (frame.upload) uploadChanged(frame.upload);
      break;
    case "unsubscribed":
      if (frame.reason === "left" && frame.room_id) {
        noteChange(frame.room_id);
        removeRoom(frame.room_id);
      }
      break;
    case "room.added":
      if (frame.room) void roomAdded(frame.room);
      break;
    case "room.updated":
      if (frame.room) roomUpdated(frame.room);
      break;
    case "room.removed":
      if (frame.room_id) {
        noteChange(frame.room_id);
        removeRoom(frame.room_id);
      }
      break;
    case "error":
      if (frame.ref && outbox.refused(frame.ref, frame.code ?? "", explain(frame))) break;
      notify(`error:${frame.code}`, explain(frame));
      break;
    default:
      break;
  }
}

export function wireChat() {
  conversation.wireConversation({
    ...rules,
    edit,
    remove,
    editEnded: focusComposer,
    failed,
    imageShown: conversation.keepFollowing,
    pendingStatus,
    retry: outbox.retry,
    discard: outbox.discard,
    loadOlder: () => void loadOlder(),
  });
  outbox.on({ changed: outboxChanged });
  document.addEventListener("visibilitychange", () => {
    const entry = store.activeId ? store.rooms.get(store.activeId) : undefined;
    if (document.visibilityState === "visible" && entry?.unread) {
      entry.unread = 0;
      drawRooms();
    }
  });
  wireForms();
}

/** @returns {{send: (body: string) => void, typing: () => void, share: (files: File[]) => void}} */
export function composerActions() {
  return {
    send,
    typing: () => store.activeId && socket.send({ type: "typing", room_id: store.activeId }),
    share,
  };
}

/**
 * @param {string} selector
 * @param {(form: HTMLFormElement, data: FormData) => Promise<void>} handle
 */
function onSubmit(selector, handle) {
  const form = one(selector, HTMLFormElement);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await handle(form, new FormData(form));
    } catch (error) {
      failed(error);
    }
  });
}

/**
 * Done with a form: empty it and fold it away, so the next use starts from a known state.
 * @param {HTMLFormElement} form
 */
function fold(form) {
  form.reset();
  form.closest("details")?.removeAttribute("open");
}

function wireForms() {
  onSubmit("#create-room", async (form, data) => {
    const room = await api("POST", "/api/rooms", { name: data.get("name"), is_private: data.get("is_private") === "on" });
    fold(form);
    await joined(/** @type {Room} */ (room));
  });
  onSubmit("#start-dm", async (form, data) => {
    const room = await api("POST", "/api/dm", { username: data.get("username") });
    fold(form);
    await joined(/** @type {Room} */ (room));
  });
  onSubmit("#add-member", async (form, data) => {
    const username = String(data.get("username"));
    await api("POST", `/api/rooms/${store.activeId}/members`, { username });
    fold(form);
    notify("added", `${username} was added.`, { level: "info" });
  });
  one("#leave-room", HTMLButtonElement).addEventListener("click", () => void leaveRoom());
  one("#public-rooms-box", HTMLDetailsElement).addEventListener("toggle", (event) => {
    if (event.target instanceof HTMLDetailsElement && event.target.open) loadPublicRooms().catch(failed);
  });
}

async function loadPublicRooms() {
  /** @type {Room[]} */
  const rooms = await api("GET", "/api/rooms/public");
  const list = one("#public-rooms", HTMLUListElement);
  const others = rooms.filter((room) => !store.rooms.has(room.id));
  list.replaceChildren(...others.map((room) => {
    const item = document.createElement("li");
    const join = document.createElement("button");
    join.type = "button";
    join.textContent = `Join ${room.name}`;
    join.addEventListener("click", async () => {
      try {
        await joined(await api("POST", `/api/rooms/${room.id}/join`));
        item.remove();
      } catch (error) {
        failed(error);
      }
    });
    item.append(join);
    return item;
  }));
  if (!others.length) {
    const none = document.createElement("li");
    none.textContent = "No other public rooms yet.";
    list.append(none);
  }
}

/** The server sends this connection the user's events now: read what changed before. */
export function registered() {
  loadRooms().catch(() => {}); // the next connection reads it again
}

/** The connection came (back): resume every room and send what waits. */
export function connected() {
  subscribeAll();
  outbox.reconnected();
  if (store.activeId) {
    loadOnline(store.activeId);
    conversation.render();
  }
}

export function connectionChanged() {
  if (store.activeId) conversation.render();
}
