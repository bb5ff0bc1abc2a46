// The one WebSocket: authenticates, keeps a heartbeat, and comes back after any loss.
//
// A connection can die without a word (a stalled network, a frozen server): nothing closes,
// nothing arrives. So the client listens: after HEARD_WITHIN_MS without a frame it sends a
// `ping`, and a connection silent for DEAD_AFTER_MS is dropped and replaced. A new
// connection that is not `ready` within HANDSHAKE_MS is dropped too. The figures weigh
// noticing soon against the server's load: every idle socket pings once per HEARD_WITHIN_MS,
// so 20,000 idle sockets on an instance cost it 2,000 pongs a second (4 s cost 5,000).
//
// Right after `ready` the client pings once: the `pong` proves the server has registered the
// socket for the user's events (`room.added`, …), so a list of rooms read after it misses
// nothing (docs/protocol.md, "Events for the user").

import * as session from "./session.js";

/** @typedef {import("./types.js").ServerFrame} ServerFrame */
/** @typedef {"offline" | "connecting" | "connected" | "reconnecting"} ConnectionState */

const HEARD_WITHIN_MS = 10_000;
const DEAD_AFTER_MS = 15_000;
const HANDSHAKE_MS = 10_000;
const TICK_MS = 1000;

/** @type {WebSocket | null} */
let ws = null;
let ready = false;
let registered = false;
let attempts = 0;
let lastHeard = 0;
let lastPing = 0;
/** @type {number | undefined} */
let reconnectTimer;
/** @type {number | undefined} */
let ticker;
/** @type {ConnectionState} */
let state = "offline";

/**
 * `ready`: authenticated, frames may be sent. `registered`: the user's events reach this
 * connection from now on (once per connection, after `ready`).
 * @type {{frame: (frame: ServerFrame) => void, ready: () => void, registered: () => void, state: (state: ConnectionState) => void}}
 */
const handlers = { frame: () => {}, ready: () => {}, registered: () => {}, state: () => {} };

/** @param {Partial<typeof handlers>} given */
export function on(given) {
  Object.assign(handlers, given);
}

/** @param {ConnectionState} next */
function setState(next) {
  state = next;
  handlers.state(next);
}

/** @returns {ConnectionState} */
export function connectionState() {
  return state;
}

/** @returns {boolean} authenticated and open: frames sent now are read by the server */
export function isReady() {
  return ready && ws?.readyState === WebSocket.OPEN;
}

export function connect() {
  if (!session.accessToken() || ws) return;
  clearTimeout(reconnectTimer);
  setState(attempts ? "reconnecting" : "connecting");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  ws = socket;
  ready = false;
  registered = false;
  lastHeard = Date.now();
  socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: session.accessToken() }));
  socket.onmessage = (event) => {
    lastHeard = Date.now();
    /** @type {ServerFrame} */
    const frame = JSON.parse(event.data);
    if (frame.type === "pong") {
      if (ready && !registered) {
        registered = true;
        handlers.registered();
      }
      return;
    }
    if (frame.type === "ready") {
      const first = !ready;
      ready = true;
      attempts = 0;
      setState("connected");
      if (first) {
        handlers.ready();
        lastPing = Date.now();
        send({ type: "ping" });
      }
      return;
    }
    handlers.frame(frame);
  };
  socket.onclose = (event) => {
    if (ws !== socket) return;
    detach();
    if (!session.accessToken()) return setState("offline");
    if (event.code === 4001) {
      // The token expired or was refused: refresh (once for all tabs), then come back.
      setState("reconnecting");
      void session.renew(true).then((ok) => ok && connect());
      return;
    }
    retry();
  };
  ticker ??= window.setInterval(tick, TICK_MS);
}

function tick() {
  if (!ws) return;
  const silent = Date.now() - lastHeard;
  if (!ready ? silent > HANDSHAKE_MS : silent > DEAD_AFTER_MS) {
    drop();
  } else if (ready && silent > HEARD_WITHIN_MS && Date.now() - lastPing > HEARD_WITHIN_MS) {
    lastPing = Date.now();
    send({ type: "ping" });
  }
}

/** Forget the current socket; its late events are ignored. */
function detach() {
  const socket = ws;
  ws = null;
  ready = false;
  registered = false;
  if (socket) {
    socket.onopen = socket.onmessage = socket.onclose = null;
    if (socket.readyState <= WebSocket.OPEN) socket.close();
  }
}

/** Give up on a connection that stopped answering, and make another. */
function drop() {
  detach();
  retry();
}

function retry() {
  setState("reconnecting");
  // Quick first, then backing off (with jitter, so that a restarted server is not stormed).
  const delay = Math.min(10_000, 250 * 2 ** attempts) * (0.5 + Math.random() / 2);
  attempts += 1;
  clearTimeout(reconnectTimer);
  reconnectTimer = window.setTimeout(connect, delay);
}

/**
 * @param {Record<string, unknown>} frame
 * @returns {boolean} whether it was handed to an authenticated connection
 */
export function send(frame) {
  if (!isReady() || !ws) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

/** New tokens: tell the server before the old access token expires. */
export function reauthorise() {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "auth", token: session.accessToken() }));
  else if (!ws && session.accessToken() && state !== "offline") connect();
}

/** The browser says the network is back: try now rather than at the next backoff. */
export function nudge() {
  if (!ws && session.accessToken()) {
    attempts = 0;
    connect();
  }
}

export function close() {
  clearTimeout(reconnectTimer);
  clearInterval(ticker);
  ticker = undefined;
  attempts = 0;
  detach();
  setState("offline");
}
