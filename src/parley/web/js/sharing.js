// Sharing files: each upload gets a card with progress and Cancel; the server's `upload`
// frames move it on (processing, then done: the message with the file replaces it, or failed:
// the reason stays until dismissed). The size limit is stated as soon as the server says it.

import { upload as startUpload } from "./api.js";
import { explain, statedLimit } from "./errors.js";
import { formatBytes } from "./format.js";
import { store } from "./store.js";
import { uploadCard } from "./views/uploads.js";

/** @type {Map<string, import("./views/uploads.js").UploadCard>} by upload id */
const uploadCards = new Map();
/** @type {Set<import("./api.js").UploadRequest>} uploads still sending their bytes */
const sending = new Set();
/** The upload limit, once the server has said it. */
let uploadLimit = /** @type {number | null} */ (null);

/** @param {File[]} files */
export function share(files) {
  const roomId = store.activeId;
  if (!roomId) return;
  for (const file of files) {
    /** @type {import("./api.js").UploadRequest | null} */
    let request = null;
    const card = uploadCard(file.name, () => request?.cancel());
    if (uploadLimit !== null && file.size > uploadLimit) {
      card.failed(`“${file.name}” is ${formatBytes(file.size)}; files may be at most ${formatBytes(uploadLimit)}.`);
      continue;
    }
    const started = startUpload(roomId, file, card.progress);
    request = started;
    sending.add(started);
    started.done.finally(() => sending.delete(started)).catch(() => {});
    started.done.then(
      (accepted) => {
        uploadCards.set(accepted.id, card);
        card.accepted(accepted.id);
      },
      (error) => {
        if (error?.body?.error === "cancelled") return card.done();
        const limit = statedLimit(error);
        if (limit !== null) {
          uploadLimit = limit;
          card.failed(`“${file.name}” is ${formatBytes(file.size)}; files may be at most ${formatBytes(limit)}.`);
        } else {
          card.failed(`“${file.name}” was not shared: ${explain(error)}`);
        }
      },
    );
  }
}

/** @param {import("./types.js").Upload} upload */
export function uploadChanged(upload) {
  const card = uploadCards.get(upload.id);
  if (!card) return;
  if (upload.status === "done") {
    card.done(); // the message with the file takes its place
    uploadCards.delete(upload.id);
  } else if (upload.status === "failed") {
    card.failed(`“${upload.filename}” could not be shared: ${upload.error ?? "the file could not be read"}.`);
    uploadCards.delete(upload.id);
  }
}

/** Signing out: stop sending files, forget those being processed. */
export function forgetUploads() {
  for (const request of sending) request.cancel();
  sending.clear();
  uploadCards.clear();
}
