// A confirmation in a real <dialog>: modal, labelled, keyboard-operable, and the focus goes
// back where it was when it closes. No window.confirm(): it cannot be styled or described.

import { $, one } from "../dom.js";

/**
 * @param {string} title
 * @param {string} text
 * @param {string} [act] the confirming button's word
 * @returns {Promise<boolean>}
 */
export function confirmAction(title, text, act = "Delete") {
  const dialog = one("#confirm-dialog", HTMLDialogElement);
  const before = document.activeElement;
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-dialog button[value=confirm]").textContent = act;
  dialog.returnValue = "";
  dialog.showModal();
  one("#confirm-dialog button[value=cancel]", HTMLButtonElement).focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (before instanceof HTMLElement && before.isConnected) before.focus();
        resolve(dialog.returnValue === "confirm");
      },
      { once: true },
    );
  });
}

export function closeDialogs() {
  const dialog = one("#confirm-dialog", HTMLDialogElement);
  if (dialog.open) dialog.close();
}
