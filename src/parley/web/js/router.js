// One address per room, in the fragment (#/rooms/<id>): the server serves the page at `/`
// only, and the fragment never leaves the browser.

const PREFIX = "#/rooms/";

/** @returns {string | null} the room the address names */
export function roomInAddress() {
  return location.hash.startsWith(PREFIX) ? decodeURIComponent(location.hash.slice(PREFIX.length)) : null;
}

/** @param {string} roomId */
export function showRoomInAddress(roomId) {
  if (roomInAddress() !== roomId) history.pushState(null, "", `${PREFIX}${encodeURIComponent(roomId)}`);
}

/** Back to the bare page (signing out; the room left). */
export function clearAddress() {
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

/** @param {(roomId: string | null) => void} listener */
export function onAddressChange(listener) {
  // A fragment navigation fires both; the listener takes the same room twice calmly.
  window.addEventListener("popstate", () => listener(roomInAddress()));
  window.addEventListener("hashchange", () => listener(roomInAddress()));
}
