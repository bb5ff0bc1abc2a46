// The login's tokens, shared by every tab of the browser and refreshed before they expire.
//
// A refresh token is good for one use (the server revokes the whole login when one is
// presented twice), so the tabs must not each refresh: a refresh runs under a Web Lock held by
// one tab at a time, and the tab holding it reads the tokens from IndexedDB first: if another
// tab has refreshed meanwhile, it adopts those instead of spending its own. IndexedDB, not
// localStorage, is the record inside the lock: a localStorage write reaches other tabs'
// processes asynchronously, so a tab could read a token another tab had already spent (which
// the tests saw happen), whereas an IndexedDB read sees every committed write. localStorage
// keeps a copy for the synchronous read at start-up, and its `storage` event tells the other
// tabs at once, so they re-authorise their sockets (or sign out with this one).

/** @typedef {import("./types.js").TokenPair} TokenPair */

/**
 * @typedef {object} Tokens
 * @property {string} access
 * @property {string} refresh
 * @property {number} expiresAt milliseconds since the epoch
 * @property {number} lifetime milliseconds the access token was issued for
 */

const KEY = "parley.session";
const LOCK = "parley.session.refresh";
const RETRY_MS = 5000;

/** @type {Tokens | null} */
let tokens = read();
/** @type {number | undefined} */
let timer;
/** @type {Promise<boolean> | null} */
let renewing = null;
/** @type {Set<() => void>} */
const changed = new Set();
/** @type {Set<(reason: string | null) => void>} */
const ended = new Set();

/** @type {Promise<IDBDatabase | null> | null} */
let database = null;

/** @returns {Promise<IDBDatabase | null>} null where IndexedDB cannot be used */
function openDatabase() {
  database ??= new Promise((resolve) => {
    try {
      const request = indexedDB.open("parley", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("session");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
  return database;
}

/**
 * The tokens as every tab last committed them.
 * @returns {Promise<Tokens | null>}
 */
async function readShared() {
  const db = await openDatabase();
  if (!db) return read();
  return new Promise((resolve) => {
    const request = db.transaction("session", "readonly").objectStore("session").get("tokens");
    request.onsuccess = () => resolve(request.result ?? read()); // written before IndexedDB was
    request.onerror = () => resolve(read());
  });
}

/**
 * @param {Tokens | null} value
 * @returns {Promise<void>} once committed: a tab reading after this sees it
 */
async function writeShared(value) {
  if (value) localStorage.setItem(KEY, JSON.stringify(value));
  else localStorage.removeItem(KEY);
  const db = await openDatabase();
  if (!db) return;
  await new Promise((resolve) => {
    const transaction = db.transaction("session", "readwrite");
    const store = transaction.objectStore("session");
    if (value) store.put(value, "tokens");
    else store.delete("tokens");
    transaction.oncomplete = transaction.onerror = transaction.onabort = () => resolve(null);
  });
}

/** @returns {Tokens | null} */
function read() {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) ?? "null");
    return stored && typeof stored.refresh === "string" ? stored : null;
  } catch {
    return null;
  }
}

/** @param {Tokens} next */
function adopt(next) {
  const user = tokens && userOf(tokens.access);
  tokens = next;
  schedule();
  // Another tab may have signed in as someone else meanwhile: that is a sign-out here.
  if (user && userOf(next.access) !== user) {
    finish("You were signed in as someone else in another tab.");
    return;
  }
  for (const listener of changed) listener();
}

/** @param {Tokens} next */
async function adoptAndStore(next) {
  await writeShared(next);
  adopt(next);
}

/**
 * The user a token belongs to (its `sub`), to tell one login from another.
 * @param {string} access
 * @returns {string | null}
 */
function userOf(access) {
  try {
    return JSON.parse(atob(access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub ?? null;
  } catch {
    return null;
  }
}

/** Renew a minute before expiry, or halfway through for short lifetimes. */
function lead() {
  return tokens ? Math.min(60_000, tokens.lifetime / 2) : 0;
}

function schedule() {
  clearTimeout(timer);
  if (!tokens) return;
  const due = tokens.expiresAt - lead() - Date.now();
  timer = window.setTimeout(() => void renew(false), Math.max(0, due));
}

/** @param {string | null} reason */
function finish(reason) {
  clearTimeout(timer);
  tokens = null;
  for (const listener of ended) listener(reason);
}

/**
 * Run under the lock every tab of this origin shares (where Web Locks exist: in secure
 * contexts, which includes http://localhost; elsewhere the tab just goes ahead).
 * @template T
 * @param {() => Promise<T>} task
 * @returns {Promise<T>}
 */
async function locked(task) {
  return navigator.locks ? await navigator.locks.request(LOCK, task) : task();
}

/**
 * @param {boolean} force refresh even if the stored tokens are not due (the server refused them)
 * @returns {Promise<boolean>} whether usable tokens are held afterwards
 */
async function refreshUnderLock(force) {
  const stored = await readShared();
  if (!stored) {
    if (tokens) finish(null);
    return false;
  }
  const due = stored.expiresAt - lead() - Date.now() <= 1000;
  if (stored.refresh !== tokens?.refresh || (!due && !force)) {
    adopt(stored); // another tab refreshed: its tokens are ours too
    return true;
  }
  let response;
  try {
    response = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: stored.refresh }),
    });
  } catch {
    timer = window.setTimeout(() => void renew(false), RETRY_MS); // offline: try again soon
    return false;
  }
  if (response.status === 401) {
    await writeShared(null);
    finish("Your session has ended. Please sign in again.");
    return false;
  }
  if (!response.ok) {
    timer = window.setTimeout(() => void renew(false), RETRY_MS);
    return false;
  }
  await adoptAndStore(fromPair(await response.json()));
  return true;
}

/**
 * @param {TokenPair} pair
 * @returns {Tokens}
 */
function fromPair(pair) {
  return {
    access: pair.access_token,
    refresh: pair.refresh_token,
    expiresAt: Date.now() + pair.expires_in * 1000,
    lifetime: pair.expires_in * 1000,
  };
}

/** @returns {string | null} */
export function accessToken() {
  return tokens?.access ?? null;
}

/** @returns {string | null} */
export function refreshToken() {
  return tokens?.refresh ?? null;
}

/**
 * A fresh login's tokens, recorded under the lock like a refresh.
 * @param {TokenPair} pair
 * @returns {Promise<void>}
 */
export function begin(pair) {
  return locked(() => adoptAndStore(fromPair(pair)));
}

/** Keep the tokens fresh (after a reload, the stored ones may already be due). */
export function resume() {
  if (tokens) schedule();
}

/**
 * Refresh once for all tabs; concurrent callers in this tab share one attempt.
 * @param {boolean} [force]
 * @returns {Promise<boolean>}
 */
export function renew(force = false) {
  renewing ??= locked(() => refreshUnderLock(force)).finally(() => {
    renewing = null;
  });
  return renewing;
}

/** Forget the tokens here and in every tab (the storage event tells them). */
export function end() {
  clearTimeout(timer);
  tokens = null;
  void locked(() => writeShared(null));
}

/** @param {() => void} listener called when new tokens are in use (re-authorise the socket) */
export function onChange(listener) {
  changed.add(listener);
}

/** @param {(reason: string | null) => void} listener called when the login ends without us */
export function onEnded(listener) {
  ended.add(listener);
}

window.addEventListener("storage", (event) => {
  if (event.key !== KEY && event.key !== null) return;
  const next = read();
  if (next && next.refresh !== tokens?.refresh) adopt(next);
  else if (!next && tokens) finish(null); // signed out in another tab
});
