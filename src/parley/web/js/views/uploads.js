// Files on their way: a card each, with progress and a Cancel button, then "processing…",
// then gone when the message with the file appears. A failure stays, in words and in full,
// until dismissed.

import { button, element, $ } from "../dom.js";

/**
 * @typedef {object} UploadCard
 * @property {(fraction: number) => void} progress
 * @property {(uploadId: string) => void} accepted
 * @property {(reason: string) => void} failed
 * @property {() => void} done
 */

/**
 * @param {string} filename
 * @param {() => void} cancel
 * @returns {UploadCard}
 */
export function uploadCard(filename, cancel) {
  const card = element("div", { className: "upload-card" });
  const name = element("bdi", { className: "upload-name", text: filename });
  const bar = element("progress", { attrs: { max: "1", "aria-label": `Uploading ${filename}` } });
  bar.value = 0;
  const status = element("span", { className: "status", text: "uploading…" });
  const stop = button("Cancel", cancel, { label: `Cancel the upload of ${filename}` });
  card.append(name, bar, status, stop);
  $("#uploads").append(card);
  return {
    progress: (fraction) => {
      bar.value = fraction;
    },
    accepted: (uploadId) => {
      card.dataset.uploadId = uploadId;
      bar.removeAttribute("value"); // indeterminate: the server is working on it
      bar.setAttribute("aria-label", `Processing ${filename}`);
      status.textContent = "processing…";
      stop.remove();
    },
    failed: (reason) => {
      card.className = "upload-card failed";
      card.setAttribute("role", "alert");
      bar.remove();
      stop.remove();
      status.textContent = reason;
      card.append(button("Dismiss", () => card.remove(), { label: `Dismiss: ${filename}` }));
    },
    done: () => card.remove(),
  };
}

export function clearUploads() {
  $("#uploads").replaceChildren();
}
