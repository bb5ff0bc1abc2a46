// Messages not yet acknowledged. Each keeps its `client_id` from the moment it is written,
// so sending it again (after a reconnect, after a rate limit) can never store it twice: the
// server answers a repeated `client_id` with the first message. They go out one at a time,
// in the order they were written, so a message never overtakes an earlier one.

import * as socket from "./socket.js";

/**
 * @typedef {object} Outgoing
 * @property {string} clientId
 * @property {string} roomId
 * @property {string} body
 * @property {string} createdAt
 * @property {"queued" | "sending" | "waiting" | "failed"} state
 * @property {string} [reason] why it failed, in words
 */

const ACK_WITHIN_MS = 15_000;

/** @type {Outgoing[]} */
const queue = [];
let backoff = 0;
/** @type {number | undefined} */
let retryTimer;
/** @type {number | undefined} */
let ackTimer;

/** @type {{changed: () => void}} */
const handlers = { changed: () => {} };

/** @param {Partial<typeof handlers>} given */
export function on(given) {
  Object.assign(handlers, given);
}

/**
 * @param {string} roomId
 * @returns {Outgoing[]} what is still on its way in that room, oldest first
 */
export function unsent(roomId) {
  return queue.filter((item) => item.roomId === roomId);
}

/** @returns {boolean} whether something waits because the server said "too fast" */
export function throttled() {
  return queue.some((item) => item.state === "waiting");
}

/**
 * @param {string} roomId
 * @param {string} body
 */
export function add(roomId, body) {
  queue.push({ clientId: crypto.randomUUID(), roomId, body, createdAt: new Date().toISOString(), state: "queued" });
  pump();
  handlers.changed();
}

/** Send the oldest message that can go, if none is on its way. */
export function pump() {
  if (queue.some((item) => item.state === "sending") || retryTimer !== undefined) return;
  const next = queue.find((item) => item.state === "queued" || item.state === "waiting");
  if (!next || !socket.isReady()) return;
  socket.send({ type: "send", room_id: next.roomId, body: next.body, client_id: next.clientId });
  next.state = "sending";
  clearTimeout(ackTimer);
  ackTimer = window.setTimeout(() => {
    // No answer: the connection is in trouble (the heartbeat will replace it); resend then.
    if (next.state === "sending") next.state = "queued";
    pump();
  }, ACK_WITHIN_MS);
}

/**
 * The server stored it.
 * @param {string} clientId
 * @returns {Outgoing | undefined}
 */
export function acknowledged(clientId) {
  const index = queue.findIndex((item) => item.clientId === clientId);
  if (index === -1) return undefined;
  const [item] = queue.splice(index, 1);
  clearTimeout(ackTimer);
  backoff = 0;
  pump();
  handlers.changed();
  return item;
}

/**
 * The server refused it.
 * @param {string} clientId
 * @param {string} code
 * @param {string} reason
 * @returns {boolean} whether it was one of ours
 */
export function refused(clientId, code, reason) {
  const item = queue.find((candidate) => candidate.clientId === clientId);
  if (!item) return false;
  clearTimeout(ackTimer);
  if (code === "rate_limited" || code === "unavailable") {
    // Not now, but later: wait, then send it again (and what follows, in order).
    item.state = "waiting";
    backoff = Math.min(8000, backoff ? backoff * 2 : 1000);
    retryTimer = window.setTimeout(() => {
      retryTimer = undefined;
      pump();
    }, backoff);
  } else {
    item.state = "failed";
    item.reason = reason;
    pump();
  }
  handlers.changed();
  return true;
}

/** A new connection: whatever was on its way may not have arrived; send it again. */
export function reconnected() {
  for (const item of queue) if (item.state === "sending") item.state = "queued";
  pump();
  handlers.changed();
}

/** @param {string} clientId */
export function retry(clientId) {
  const item = queue.find((candidate) => candidate.clientId === clientId);
  if (item?.state === "failed") {
    item.state = "queued";
    delete item.reason;
    pump();
    handlers.changed();
  }
}

/** @param {string} clientId */
export function discard(clientId) {
  const index = queue.findIndex((item) => item.clientId === clientId);
  if (index !== -1) queue.splice(index, 1);
  handlers.changed();
}

export function clear() {
  queue.length = 0;
  clearTimeout(retryTimer);
  clearTimeout(ackTimer);
  retryTimer = undefined;
  backoff = 0;
}
