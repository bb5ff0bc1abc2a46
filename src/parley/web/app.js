// Parley's web client: native ES modules, no build step, type-checked from JSDoc
// (`npm run typecheck`). This module starts the client and owns its lifecycle: signing in,
// signing out (which leaves nothing of the last person behind), the connection badge.
//
//   js/session.js  tokens, refreshed once for every tab     js/socket.js  the WebSocket
//   js/api.js      REST                                      js/outbox.js  unsent messages
//   js/store.js    rooms, messages, read markers             js/chat.js    what happens
//   js/sharing.js  uploads                                    js/router.js  #/rooms/<id>
//   js/views/*     what is drawn

import { api, forgetBlobs } from "./js/api.js";
import * as chat from "./js/chat.js";
import { $, one } from "./js/dom.js";
import { explain } from "./js/errors.js";
import { clearNotices, notify } from "./js/notices.js";
import * as outbox from "./js/outbox.js";
import { clearAddress, onAddressChange, roomInAddress } from "./js/router.js";
import * as session from "./js/session.js";
import * as socket from "./js/socket.js";
import { forgetUploads } from "./js/sharing.js";
import { loadReadMarkers, reset as resetStore, store } from "./js/store.js";
import { showAuth, wireAuth } from "./js/views/auth.js";
import { clearComposer, wireComposer } from "./js/views/composer.js";
import { hideRoom } from "./js/views/conversation.js";
import { closeDialogs } from "./js/views/dialog.js";
import { narrow, renderRooms, toggleDrawer, wireRooms } from "./js/views/rooms.js";
import { clearUploads } from "./js/views/uploads.js";

/** @typedef {import("./js/types.js").User} User */

const BADGE = {
  offline: "Offline",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
};

let running = false;

/** Show the signed-in client: the user, their rooms, the room in the address, the socket. */
async function start() {
  if (running) return;
  running = true;
  try {
    store.me = /** @type {User} */ (await api("GET", "/api/users/me"));
  } catch (error) {
    running = false;
    if (!session.accessToken()) return showAuth(); // the login has ended
    notify("start", explain(error));
    return;
  }
  session.resume();
  loadReadMarkers();
  $("#auth-view").hidden = true;
  $("#chat-view").hidden = false;
  $("#whoami").hidden = false;
  $("#toggle-rooms").hidden = false;
  $("#whoami-name").replaceChildren(store.me.display_name);
  offerNotifications();
  socket.connect();
  try {
    await chat.loadRooms();
  } catch (error) {
    notify("rooms", explain(error));
  }
  const wanted = roomInAddress();
  if (wanted && store.rooms.has(wanted)) {
    await chat.openRoom(wanted);
  } else {
    if (wanted) clearAddress();
    toggleDrawer(narrow());
    // The focus goes somewhere useful, not back to the page itself.
    const first = document.querySelector("#room-list button") ?? document.querySelector("#create-room-box summary");
    if (first instanceof HTMLElement) first.focus();
  }
}

/**
 * Leave nothing of the last person: not on screen, not in memory, not in storage.
 * @param {string | null} [reason] why, when it was not the person's choice
 */
function stop(reason = null) {
  running = false;
  socket.close();
  outbox.clear();
  resetStore();
  forgetBlobs();
  forgetUploads();
  closeDialogs();
  hideRoom();
  clearUploads();
  clearNotices();
  clearComposer();
  renderRooms(() => {});
  one("#public-rooms", HTMLUListElement).replaceChildren();
  for (const details of document.querySelectorAll("#sidebar details")) details.removeAttribute("open");
  for (const form of document.querySelectorAll("#sidebar form, #room form")) if (form instanceof HTMLFormElement) form.reset();
  $("#whoami-name").replaceChildren();
  clearAddress();
  for (const key of Object.keys(localStorage)) if (key.startsWith("parley.")) localStorage.removeItem(key);
  showAuth();
  if (reason) notify("signed-out", reason, { level: "info", sticky: true });
}

async function signOut() {
  const refresh = session.refreshToken();
  session.end();
  stop();
  if (refresh) {
    fetch("/api/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refresh }),
    }).catch(() => {});
  }
}

function offerNotifications() {
  const offer = one("#notifications", HTMLButtonElement);
  const supported = "Notification" in window;
  const on = supported && Notification.permission === "granted" && localStorage.getItem("parley.notify") === "on";
  offer.hidden = !supported || Notification.permission === "denied";
  offer.setAttribute("aria-pressed", String(on));
}

function wire() {
  wireAuth(async (tokens) => {
    await session.begin(tokens);
    await start();
  });
  chat.wireChat();
  wireComposer(chat.composerActions());
  wireRooms();
  $("#sign-out").addEventListener("click", () => void signOut());
  one("#notifications", HTMLButtonElement).addEventListener("click", async () => {
    if (localStorage.getItem("parley.notify") === "on") {
      localStorage.removeItem("parley.notify");
    } else if ((await Notification.requestPermission()) === "granted") {
      localStorage.setItem("parley.notify", "on");
    }
    offerNotifications();
  });

  socket.on({
    frame: chat.onFrame,
    ready: chat.connected,
    registered: chat.registered,
    state: (state) => {
      const badge = $("#connection");
      badge.dataset.state = state;
      badge.textContent = BADGE[state];
      chat.connectionChanged();
    },
  });
  session.onChange(() => {
    socket.reauthorise();
    if (!running) void start(); // signed in in another tab
  });
  session.onEnded((reason) => stop(reason));
  onAddressChange((roomId) => {
    if (running && roomId && roomId !== store.activeId) void chat.openRoom(roomId, { fromAddress: true });
  });
  window.addEventListener("online", socket.nudge);
}

wire();
if (session.accessToken()) void start();
else showAuth();
