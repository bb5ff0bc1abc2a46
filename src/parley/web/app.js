// Parley's web client: plain ES modules, no build step. One file, in sections:
// session (tokens), api (REST), socket (the WebSocket protocol), store, rendering.

const $ = (selector) => document.querySelector(selector);
const PAGE = 50;
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 4000;

const ERRORS = {
  rate_limited: "You are sending too fast. Wait a moment and try again.",
  too_large: "That file is too large to share.",
  unsupported_type: "Only images, PDFs and text files can be shared.",
  unauthorized: "You have been signed out. Please sign in again.",
  invalid_credentials: "Unknown username or wrong password.",
  username_taken: "That username is taken. Try another.",
  not_found: "That room or user does not exist, or you are not a member.",
  forbidden: "You are not allowed to do that here.",
  validation_error: "Please check what you typed.",
  unavailable: "The server is busy. Try again in a moment.",
};

function toast(text) {
  const item = document.createElement("p");
  item.className = "toast";
  item.textContent = text;
  $("#toasts").append(item);
  setTimeout(() => item.remove(), 6000);
}

function explain(error) {
  return ERRORS[error?.error ?? error?.code] ?? error?.detail ?? "Something went wrong.";
}

// --- session: tokens kept across reloads, refreshed before they expire ------------------

const session = {
  access: localStorage.getItem("parley.access"),
  refresh: localStorage.getItem("parley.refresh"),
  user: null,
  timer: null,

  store(tokens) {
    this.access = tokens.access_token;
    this.refresh = tokens.refresh_token;
    localStorage.setItem("parley.access", this.access);
    localStorage.setItem("parley.refresh", this.refresh);
    clearTimeout(this.timer);
    // Refresh a minute early (or halfway, for short lifetimes) so no request meets an expired token.
    const lead = Math.min(60, tokens.expires_in / 2);
    this.timer = setTimeout(() => this.renew(), (tokens.expires_in - lead) * 1000);
  },

  async renew() {
    if (!this.refresh) return false;
    const response = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: this.refresh }),
    });
    if (!response.ok) {
      signOut(ERRORS.unauthorized);
      return false;
    }
    this.store(await response.json());
    socket.reauth();
    return true;
  },

  clear() {
    clearTimeout(this.timer);
    this.access = this.refresh = this.user = null;
    localStorage.removeItem("parley.access");
    localStorage.removeItem("parley.refresh");
  },
};

// --- api: JSON over fetch, one retry after a refresh on 401 -----------------------------

async function api(method, path, body, retried = false) {
  const headers = { Authorization: `Bearer ${session.access}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && !retried && (await session.renew())) {
    return api(method, path, body, true);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw data;
  return data;
}

async function blobUrl(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${session.access}` } });
  if (!response.ok) throw await response.json().catch(() => ({}));
  return URL.createObjectURL(await response.blob());
}

// --- store: rooms and their messages ------------------------------------------------------

const store = {
  rooms: new Map(), // id -> {room, messages: Map(seq -> message), lastSeq, oldest, hasOlder, unread}
  active: null,
  online: new Map(), // user id -> user, for the active room
  typing: new Map(), // username -> timeout
  pending: new Map(), // client_id -> {room_id, body}

  entry(room) {
    let entry = this.rooms.get(room.id);
    if (!entry) {
      entry = { room, messages: new Map(), lastSeq: room.last_seq, oldest: null, hasOlder: true, unread: 0 };
      this.rooms.set(room.id, entry);
    } else {
      entry.room = room;
    }
    return entry;
  },
};

// --- socket: auth, subscriptions resumed with since_seq, reconnection ---------------------

const socket = {
  ws: null,
  attempts: 0,
  lastTyping: 0,

  connect() {
    if (!session.access) return;
    setConnection("connecting", "Connecting…");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: session.access }));
    ws.onmessage = (event) => onFrame(JSON.parse(event.data));
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!session.access) return setConnection("offline", "Offline");
      if (event.code === 4001) {
        session.renew().then((ok) => ok && this.connect());
        return;
      }
      // 1013 (server going away, or we were too slow) and network drops: come back and resume.
      const delay = Math.min(10000, 250 * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
      setConnection("reconnecting", "Reconnecting…");
      setTimeout(() => this.connect(), delay);
    };
  },

  send(frame) {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  },

  reauth() {
    this.send({ type: "auth", token: session.access });
  },

  subscribeAll() {
    // Every room, from the last seq we hold: whatever was missed comes first, exactly once.
    for (const [id, entry] of store.rooms) {
      this.send({ type: "subscribe", room_id: id, since_seq: entry.lastSeq });
    }
  },

  close() {
    const ws = this.ws;
    this.ws = null;
    ws?.close();
  },
};

function setConnection(state, text) {
  const element = $("#connection");
  element.dataset.state = state;
  element.textContent = text;
}

function onFrame(frame) {
  switch (frame.type) {
    case "ready":
      if (socket.attempts || !session.user) {
        socket.attempts = 0;
      }
      setConnection("connected", "Connected");
      socket.subscribeAll();
      break;
    case "message":
      addMessage(frame.message);
      break;
    case "message.edited":
    case "message.deleted":
      updateMessage(frame.message);
      break;
    case "ack":
      confirmSent(frame.client_id, frame.message);
      break;
    case "typing":
      showTyping(frame.room_id, frame.user);
      break;
    case "presence":
      if (frame.room_id === store.active) {
        if (frame.status === "online") store.online.set(frame.user.id, frame.user);
        else store.online.delete(frame.user.id);
        renderOnline();
      }
      break;
    case "upload":
      showUpload(frame.upload);
      break;
    case "unsubscribed":
      if (frame.reason === "left") removeRoom(frame.room_id);
      break;
    case "error":
      if (frame.ref && store.pending.has(frame.ref)) failSent(frame.ref);
      toast(explain(frame));
      break;
    default:
      break;
  }
}

// --- messages -------------------------------------------------------------------------------

function addMessage(message) {
  const entry = store.rooms.get(message.room_id);
  if (!entry) return;
  if (entry.messages.has(message.seq)) return;
  entry.messages.set(message.seq, message);
  const fresh = message.seq > entry.lastSeq;
  entry.lastSeq = Math.max(entry.lastSeq, message.seq);
  if (message.client_id && store.pending.has(message.client_id)) {
    confirmSent(message.client_id, message);
    return;
  }
  if (message.room_id === store.active) {
    renderMessage(message);
    scrollToEnd();
  } else if (fresh && message.sender?.id !== session.user?.id) {
    entry.unread += 1;
    renderRooms();
  }
  if (message.kind === "system") {
    refreshRoom(message.room_id);
    if (message.room_id === store.active) loadOnline(message.room_id);
  }
}

function updateMessage(message) {
  const entry = store.rooms.get(message.room_id);
  if (!entry) return;
  entry.messages.set(message.seq, message);
  const element = document.querySelector(`[data-message-id="${message.id}"]`);
  if (element) element.replaceWith(messageElement(message));
}

function sendMessage(body) {
  const roomId = store.active;
  const clientId = crypto.randomUUID();
  store.pending.set(clientId, { room_id: roomId, body });
  // Shown at once, confirmed by the ack.
  const element = messageElement({
    id: clientId, seq: null, kind: "text", body, sender: session.user,
    created_at: new Date().toISOString(), edited_at: null, deleted_at: null,
  });
  element.classList.add("pending");
  element.dataset.clientId = clientId;
  $("#messages").append(element);
  scrollToEnd();
  const frame = { type: "send", room_id: roomId, body, client_id: clientId };
  if (!socket.send(frame)) {
    // Not connected: the REST endpoint stores it just as well (and client_id keeps it single).
    api("POST", `/api/rooms/${roomId}/messages`, { body, client_id: clientId })
      .then((message) => confirmSent(clientId, message))
      .catch((error) => { failSent(clientId); toast(explain(error)); });
  }
}

function confirmSent(clientId, message) {
  store.pending.delete(clientId);
  const entry = store.rooms.get(message.room_id);
  if (entry && !entry.messages.has(message.seq)) {
    entry.messages.set(message.seq, message);
    entry.lastSeq = Math.max(entry.lastSeq, message.seq);
  }
  const placeholder = document.querySelector(`[data-client-id="${clientId}"]`);
  const existing = document.querySelector(`[data-message-id="${message.id}"]`);
  if (placeholder && existing) placeholder.remove();
  else if (placeholder) placeholder.replaceWith(messageElement(message));
  else if (!existing && message.room_id === store.active) renderMessage(message);
}

function failSent(clientId) {
  store.pending.delete(clientId);
  const placeholder = document.querySelector(`[data-client-id="${clientId}"]`);
  if (placeholder) {
    placeholder.classList.add("failed");
    placeholder.querySelector(".meta").textContent = "not sent";
  }
}

function renderMessage(message) {
  const list = $("#messages");
  const element = messageElement(message);
  // Keep seq order even when a replayed message lands among live ones.
  const later = [...list.children].find((child) => Number(child.dataset.seq) > message.seq);
  if (later) later.before(element);
  else list.append(element);
}

function messageElement(message) {
  const item = document.createElement("li");
  item.className = `message kind-${message.kind}`;
  item.dataset.messageId = message.id;
  if (message.seq !== null) item.dataset.seq = message.seq;
  const mine = message.sender && message.sender.id === session.user?.id;
  if (mine) item.classList.add("mine");

  const meta = document.createElement("span");
  meta.className = "meta";
  const when = new Date(message.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.textContent = message.sender ? `${message.sender.display_name} · ${when}` : when;
  if (message.edited_at && !message.deleted_at) meta.textContent += " · edited";

  const body = document.createElement("p");
  body.className = "body";
  if (message.deleted_at) {
    body.textContent = "This message was deleted.";
    item.classList.add("deleted");
  } else {
    body.textContent = message.body;
  }
  item.append(meta, body);
  if (message.attachment && !message.deleted_at && message.kind !== "system") {
    item.append(attachmentElement(message.attachment));
  }
  if (mine && message.kind === "text" && !message.deleted_at && message.seq !== null) {
    const actions = document.createElement("span");
    actions.className = "actions";
    actions.append(
      button("Edit", `Edit message: ${message.body.slice(0, 40)}`, () => editMessage(message)),
      button("Delete", `Delete message: ${message.body.slice(0, 40)}`, () => deleteMessage(message)),
    );
    item.append(actions);
  }
  return item;
}

function attachmentElement(attachment) {
  const card = document.createElement("a");
  card.className = "attachment";
  card.href = "#";
  card.setAttribute("aria-label", `Open ${attachment.filename}`);
  card.addEventListener("click", async (event) => {
    event.preventDefault();
    try {
      window.open(await blobUrl(attachment.url), "_blank", "noopener");
    } catch (error) {
      toast(explain(error));
    }
  });
  if (attachment.thumbnail_url) {
    const image = document.createElement("img");
    image.alt = attachment.filename;
    image.className = "thumbnail";
    blobUrl(attachment.thumbnail_url).then((url) => { image.src = url; }).catch(() => {});
    card.append(image);
  } else {
    const title = document.createElement("strong");
    title.textContent = attachment.filename;
    const detail = document.createElement("span");
    detail.textContent = attachment.kind === "pdf"
      ? `PDF · ${attachment.pages} page${attachment.pages === 1 ? "" : "s"}`
      : `Text · ${attachment.lines} lines`;
    const preview = document.createElement("small");
    preview.textContent = (attachment.text_preview ?? "").slice(0, 160);
    card.classList.add("file-card");
    card.append(title, detail, preview);
  }
  return card;
}

function button(text, label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.setAttribute("aria-label", label);
  element.addEventListener("click", onClick);
  return element;
}

async function editMessage(message) {
  const body = prompt("Edit your message", message.body);
  if (body === null || body.trim() === "" || body === message.body) return;
  try {
    updateMessage(await api("PATCH", `/api/rooms/${message.room_id}/messages/${message.id}`, { body }));
  } catch (error) {
    toast(explain(error));
  }
}

async function deleteMessage(message) {
  if (!confirm("Delete this message?")) return;
  try {
    await api("DELETE", `/api/rooms/${message.room_id}/messages/${message.id}`);
  } catch (error) {
    toast(explain(error));
  }
}

async function loadOlder() {
  const entry = store.rooms.get(store.active);
  if (!entry || !entry.hasOlder || entry.loading) return;
  entry.loading = true;
  const roomId = store.active;
  try {
    const query = entry.oldest ? `before_seq=${entry.oldest}&limit=${PAGE}` : `limit=${PAGE}`;
    const page = await api("GET", `/api/rooms/${roomId}/messages?${query}`);
    if (store.active !== roomId) return;
    const list = $("#messages");
    const height = list.scrollHeight;
    for (const message of page.items) {
      entry.messages.set(message.seq, message);
      if (!document.querySelector(`[data-message-id="${message.id}"]`)) renderMessage(message);
    }
    if (page.items.length) entry.oldest = page.items[0].seq;
    entry.hasOlder = page.has_more;
    list.scrollTop += list.scrollHeight - height; // keep the reader's place
  } catch (error) {
    toast(explain(error));
  } finally {
    entry.loading = false;
  }
}

function scrollToEnd() {
  const list = $("#messages");
  list.scrollTop = list.scrollHeight;
}

// --- typing and presence ------------------------------------------------------------------

function showTyping(roomId, user) {
  if (roomId !== store.active) return;
  clearTimeout(store.typing.get(user.display_name));
  store.typing.set(user.display_name, setTimeout(() => {
    store.typing.delete(user.display_name);
    renderTyping();
  }, TYPING_SHOWN_MS));
  renderTyping();
}

function renderTyping() {
  const names = [...store.typing.keys()];
  $("#typing").textContent = names.length === 0 ? ""
    : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
}

async function loadOnline(roomId) {
  try {
    const online = await api("GET", `/api/rooms/${roomId}/presence`);
    if (store.active !== roomId) return;
    store.online = new Map(online.map((user) => [user.id, user]));
    renderOnline();
  } catch (error) {
    toast(explain(error));
  }
}

function renderOnline() {
  const names = [...store.online.values()].map((user) => user.display_name).sort();
  $("#online").textContent = names.length ? `Online: ${names.join(", ")}` : "";
}

// --- uploads ----------------------------------------------------------------------------------

function upload(file) {
  const roomId = store.active;
  const card = document.createElement("div");
  card.className = "upload-card";
  const label = document.createElement("span");
  label.textContent = file.name;
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", `Uploading ${file.name}`);
  card.append(label, progress);
  $("#uploads").append(card);

  const request = new XMLHttpRequest();
  request.open("POST", `/api/rooms/${roomId}/uploads`);
  request.setRequestHeader("Authorization", `Bearer ${session.access}`);
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
  };
  request.onload = () => {
    const data = JSON.parse(request.responseText || "{}");
    if (request.status !== 202) {
      card.remove();
      toast(explain(data));
      return;
    }
    card.dataset.uploadId = data.id;
    progress.remove();
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = "processing…";
    card.append(status);
  };
  request.onerror = () => { card.remove(); toast("The upload failed: the connection dropped."); };
  const form = new FormData();
  form.append("file", file);
  request.send(form);
}

function showUpload(upload) {
  const card = document.querySelector(`[data-upload-id="${upload.id}"]`);
  if (!card) return;
  if (upload.status === "done") {
    card.remove(); // the room message with the attachment takes its place
  } else if (upload.status === "failed") {
    card.querySelector(".status").textContent = `could not be processed: ${upload.error}`;
    card.classList.add("failed");
    setTimeout(() => card.remove(), 8000);
  }
}

// --- rooms -------------------------------------------------------------------------------------

async function loadRooms() {
  const rooms = await api("GET", "/api/rooms");
  for (const room of rooms) store.entry(room);
  renderRooms();
}

function renderRooms() {
  const list = $("#room-list");
  list.replaceChildren();
  for (const [id, entry] of store.rooms) {
    const item = document.createElement("li");
    const link = button(entry.room.name, "", () => openRoom(id));
    link.removeAttribute("aria-label");
    if (id === store.active) link.setAttribute("aria-current", "true");
    if (entry.unread) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = entry.unread;
      badge.setAttribute("aria-label", `${entry.unread} unread`);
      link.append(" ", badge);
    }
    item.append(link);
    list.append(item);
  }
}

async function refreshRoom(roomId) {
  try {
    const room = await api("GET", `/api/rooms/${roomId}`);
    store.entry(room);
    if (roomId === store.active) $("#room-name").textContent = room.name;
    renderRooms();
  } catch {
    /* left or removed meanwhile */
  }
}

async function openRoom(roomId) {
  const entry = store.rooms.get(roomId);
  store.active = roomId;
  entry.unread = 0;
  entry.oldest = null;
  entry.hasOlder = true;
  store.typing.clear();
  renderTyping();
  renderRooms();
  $("#no-room").hidden = true;
  $("#room").hidden = false;
  $("#room-name").textContent = entry.room.name;
  $("#add-member-box").hidden = entry.room.kind === "direct";
  $("#messages").replaceChildren();
  $("#uploads").replaceChildren();
  await loadOlder();
  scrollToEnd();
  await loadOnline(roomId);
  $("#message-input").focus();
  if (window.matchMedia("(max-width: 700px)").matches) toggleSidebar(false);
}

function joinedRoom(room) {
  store.entry(room);
  renderRooms();
  socket.send({ type: "subscribe", room_id: room.id, since_seq: room.last_seq });
  return openRoom(room.id);
}

function removeRoom(roomId) {
  store.rooms.delete(roomId);
  if (store.active === roomId) {
    store.active = null;
    $("#room").hidden = true;
    $("#no-room").hidden = false;
  }
  renderRooms();
}

async function loadPublicRooms() {
  const rooms = await api("GET", "/api/rooms/public");
  const list = $("#public-rooms");
  list.replaceChildren();
  for (const room of rooms.filter((r) => !store.rooms.has(r.id))) {
    const item = document.createElement("li");
    item.append(button(`Join ${room.name}`, `Join ${room.name}`, async () => {
      try {
        await joinedRoom(await api("POST", `/api/rooms/${room.id}/join`));
        item.remove();
      } catch (error) {
        toast(explain(error));
      }
    }));
    list.append(item);
  }
  if (!list.children.length) list.innerHTML = "<li>No other public rooms yet.</li>";
}

// --- signing in and out -------------------------------------------------------------------------

async function start() {
  try {
    session.user = await api("GET", "/api/users/me");
  } catch {
    return showAuth();
  }
  await session.renew(); // fresh tokens and a refresh timer
  $("#auth-view").hidden = true;
  $("#chat-view").hidden = false;
  $("#whoami").hidden = false;
  $("#whoami-name").textContent = session.user.display_name;
  await loadRooms();
  socket.connect();
}

function showAuth() {
  $("#auth-view").hidden = false;
  $("#chat-view").hidden = true;
  $("#whoami").hidden = true;
  setConnection("offline", "Offline");
  $("#auth-form [name=username]").focus();
}

function signOut(message) {
  const refresh = session.refresh;
  session.clear();
  socket.close();
  store.rooms.clear();
  store.active = null;
  if (refresh) {
    fetch("/api/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refresh }),
    }).catch(() => {});
  }
  showAuth();
  if (message) toast(message);
}

let registering = false;

function setAuthMode(register) {
  registering = register;
  $("#auth-title").textContent = register ? "Create an account" : "Sign in";
  $("#auth-submit").textContent = register ? "Create account" : "Sign in";
  $("#auth-switch").textContent = register ? "Have an account? Sign in" : "New here? Create an account";
  $("#display-name-field").hidden = !register;
  $("#auth-form [name=password]").autocomplete = register ? "new-password" : "current-password";
}

async function submitAuth(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const credentials = { username: form.get("username"), password: form.get("password") };
  const post = (path, body) => fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (registering) {
    const displayName = form.get("display_name")?.trim();
    const created = await post("/api/auth/register", displayName ? { ...credentials, display_name: displayName } : credentials);
    if (!created.ok) return toast(explain(await created.json()));
  }
  const response = await post("/api/auth/login", credentials);
  const data = await response.json();
  if (!response.ok) return toast(explain(data));
  session.store(data);
  event.target.reset();
  await start();
}

function toggleSidebar(open) {
  const body = $("#sidebar-body");
  const show = open ?? body.hidden;
  body.hidden = !show;
  $("#toggle-sidebar").setAttribute("aria-expanded", String(show));
}

function wire() {
  $("#auth-form").addEventListener("submit", submitAuth);
  $("#auth-switch").addEventListener("click", () => setAuthMode(!registering));
  $("#sign-out").addEventListener("click", () => signOut());
  $("#toggle-sidebar").addEventListener("click", () => toggleSidebar());

  $("#create-room").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await joinedRoom(await api("POST", "/api/rooms", { name: form.get("name"), is_private: form.get("is_private") === "on" }));
      event.target.reset();
    } catch (error) {
      toast(explain(error));
    }
  });
  $("#start-dm").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await joinedRoom(await api("POST", "/api/dm", { username: new FormData(event.target).get("username") }));
      event.target.reset();
    } catch (error) {
      toast(explain(error));
    }
  });
  $("#add-member").addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = new FormData(event.target).get("username");
    try {
      await api("POST", `/api/rooms/${store.active}/members`, { username });
      toast(`${username} was added.`);
      event.target.reset();
    } catch (error) {
      toast(explain(error));
    }
  });
  $("#public-rooms-box").addEventListener("toggle", (event) => {
    if (event.target.open) loadPublicRooms().catch((error) => toast(explain(error)));
  });

  const input = $("#message-input");
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = "";
    sendMessage(body);
    // The message ends this bout of typing: the first keystroke of the next one says so at once.
    socket.lastTyping = 0;
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("#composer").requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value && now - socket.lastTyping > TYPING_EVERY_MS) {
      socket.lastTyping = now;
      socket.send({ type: "typing", room_id: store.active });
    }
  });
  $("#messages").addEventListener("scroll", (event) => {
    if (event.target.scrollTop < 40) loadOlder();
  });
  $("#file-input").addEventListener("change", (event) => {
    for (const file of event.target.files) upload(file);
    event.target.value = "";
  });
  const room = $("#room");
  room.addEventListener("dragover", (event) => { event.preventDefault(); room.classList.add("dropping"); });
  room.addEventListener("dragleave", () => room.classList.remove("dropping"));
  room.addEventListener("drop", (event) => {
    event.preventDefault();
    room.classList.remove("dropping");
    for (const file of event.dataTransfer.files) upload(file);
  });
}

wire();
setAuthMode(false);
if (session.access) start();
else showAuth();
