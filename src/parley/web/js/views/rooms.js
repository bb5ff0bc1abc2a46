// The list of rooms with their unread counts, and, on a narrow screen, the drawer it lives in.

import { $, button, element } from "../dom.js";
import { roomsInOrder, roomTitle, store } from "../store.js";

const NARROW = "(max-width: 700px)";

/** @param {(roomId: string) => void} open */
export function renderRooms(open) {
  const list = $("#room-list");
  const items = roomsInOrder().map((entry) => {
    const title = roomTitle(entry);
    const link = button("", () => open(entry.room.id));
    link.append(element("bdi", { text: title.name }));
    if (title.handle) link.append(" ", element("span", { className: "username", text: title.handle }));
    if (entry.room.id === store.activeId) link.setAttribute("aria-current", "page");
    if (entry.unread) {
      const count = entry.unread > 99 ? "99+" : String(entry.unread);
      link.append(" ", element("span", { className: "badge", text: count, attrs: { "aria-hidden": "true" } }));
      link.append(element("span", { className: "visually-hidden", text: `, ${entry.unread} unread` }));
    }
    return element("li", { attrs: { "data-room-id": entry.room.id } }, [link]);
  });
  // Keep the focus on the same room's button across a re-render (rooms come and go).
  const focused = list.contains(document.activeElement) ? document.activeElement?.closest("li")?.getAttribute("data-room-id") : null;
  list.replaceChildren(...items);
  const again = focused ? list.querySelector(`li[data-room-id="${CSS.escape(focused)}"] button`) : null;
  if (again instanceof HTMLElement) again.focus();
  const total = [...store.rooms.values()].reduce((sum, entry) => sum + entry.unread, 0);
  document.title = total ? `(${total}) Parley` : "Parley";
}

/** @returns {boolean} */
export function narrow() {
  return matchMedia(NARROW).matches;
}

/**
 * Open or close the drawer (on a wide screen the rooms are always shown).
 * @param {boolean} [open]
 */
export function toggleDrawer(open) {
  const sidebar = $("#sidebar");
  const show = open ?? !sidebar.classList.contains("open");
  sidebar.classList.toggle("open", show);
  $("#toggle-rooms").setAttribute("aria-expanded", String(show));
  if (show && narrow()) {
    const first = sidebar.querySelector("#room-list button, summary");
    if (first instanceof HTMLElement) first.focus();
  }
}

export function wireRooms() {
  $("#toggle-rooms").addEventListener("click", () => toggleDrawer());
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && narrow() && $("#sidebar").classList.contains("open") && !$("#room").hidden) {
      toggleDrawer(false);
      $("#toggle-rooms").focus();
    }
  });
}
