// What the client knows: the signed-in user, their rooms, the messages loaded per room, and
// where they have read up to (kept per user in localStorage, so a reload keeps the unread
// counts; a server that keeps read markers sends `unread_count`, which wins).

/** @typedef {import("./types.js").Room} Room */
/** @typedef {import("./types.js").Message} Message */
/** @typedef {import("./types.js").User} User */

/**
 * @typedef {object} RoomEntry
 * @property {Room} room
 * @property {Map<number, Message>} messages by seq
 * @property {number} lastSeq the highest seq held: the socket resumes after it
 * @property {boolean} loaded whether the newest page has been read
 * @property {boolean} hasOlder
 * @property {boolean} loading
 * @property {number} unread
 * @property {User | null} peer the other person, in a direct room
 */

export const store = {
  /** @type {User | null} */
  me: null,
  /** @type {Map<string, RoomEntry>} */
  rooms: new Map(),
  /** @type {string | null} */
  activeId: null,
  /** @type {Map<string, number>} */
  read: new Map(),
};

const readKey = () => `parley.read.${store.me?.id}`;

export function loadReadMarkers() {
  try {
    store.read = new Map(Object.entries(JSON.parse(localStorage.getItem(readKey()) ?? "{}")));
  } catch {
    store.read = new Map();
  }
}

function saveReadMarkers() {
  if (store.me) localStorage.setItem(readKey(), JSON.stringify(Object.fromEntries(store.read)));
}

/**
 * @param {string} roomId
 * @param {number} seq
 */
export function markRead(roomId, seq) {
  if ((store.read.get(roomId) ?? -1) >= seq) return;
  store.read.set(roomId, seq);
  saveReadMarkers();
}

/**
 * Add a room, or take its newer state. Of two states of a room, the one with the higher
 * `last_seq` is the newer (every change to a room records a message in it), so a late,
 * older one changes nothing.
 * @param {Room} room
 * @returns {RoomEntry}
 */
export function upsertRoom(room) {
  const known = store.rooms.get(room.id);
  if (known) {
    if (room.last_seq >= known.room.last_seq) known.room = room;
    return known;
  }
  /** @type {RoomEntry} */
  const entry = {
    room,
    messages: new Map(),
    lastSeq: room.last_seq,
    loaded: false,
    hasOlder: true,
    loading: false,
    unread: room.unread_count ?? 0,
    peer: null,
  };
  store.rooms.set(room.id, entry);
  return entry;
}

/**
 * @param {string} createdAt an ISO 8601 time, perhaps with microseconds
 * @returns {[number, number]} milliseconds since the epoch, and the microseconds beyond them
 */
function instant(createdAt) {
  const fraction = /\.(\d+)/.exec(createdAt)?.[1] ?? "";
  return [Date.parse(createdAt), Number(fraction.padEnd(6, "0").slice(3, 6))];
}

/**
 * The rooms in the order GET /api/rooms lists them (by creation, then id), so a room that
 * arrives live takes the place a reload would give it.
 * @returns {RoomEntry[]}
 */
export function roomsInOrder() {
  const keyed = [...store.rooms.values()].map((entry) => ({ entry, at: instant(entry.room.created_at) }));
  keyed.sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1] || (a.entry.room.id < b.entry.room.id ? -1 : a.entry.room.id > b.entry.room.id ? 1 : 0));
  return keyed.map((item) => item.entry);
}

/**
 * @param {Message} message
 * @returns {boolean} whether it counts as unread for me
 */
export function countsAsUnread(message) {
  return message.kind !== "system" && message.sender?.id !== store.me?.id && !message.deleted_at;
}

/**
 * @param {RoomEntry} entry
 * @returns {Message[]} in seq order
 */
export function ordered(entry) {
  return [...entry.messages.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * The name people know a room by: for a direct room, the other person.
 * @param {RoomEntry} entry
 * @returns {{name: string, handle: string | null}}
 */
export function roomTitle(entry) {
  if (entry.room.kind !== "direct") return { name: entry.room.name, handle: null };
  if (!entry.peer) return { name: "Direct message", handle: null };
  return { name: entry.peer.display_name, handle: `@${entry.peer.username}` };
}

export function reset() {
  store.me = null;
  store.rooms.clear();
  store.activeId = null;
  store.read.clear();
}
