// The REST API: JSON over fetch with the access token, one retry after a refresh on 401.

import { ApiError } from "./errors.js";
import * as session from "./session.js";

/**
 * @param {Response} response
 * @returns {Promise<import("./types.js").ErrorBody>}
 */
async function errorBody(response) {
  try {
    return await response.json();
  } catch {
    return {};
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<Response>}
 */
async function send(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = {};
  const token = session.accessToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: "offline" });
  }
}

/**
 * @template T
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<T>}
 */
export async function api(method, path, body) {
  let response = await send(method, path, body);
  if (response.status === 401 && session.accessToken() && (await session.renew(true))) {
    response = await send(method, path, body);
  }
  if (!response.ok) throw new ApiError(response.status, await errorBody(response));
  return response.status === 204 ? /** @type {T} */ (null) : response.json();
}

/**
 * Without a token, for signing in and up.
 * @template T
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<T>}
 */
export async function post(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: "offline" });
  }
  if (!response.ok) throw new ApiError(response.status, await errorBody(response));
  return response.json();
}

/** @type {Map<string, Promise<string>>} */
const blobs = new Map();

/**
 * A file the server serves only with the token, as an object URL (kept for the session).
 * @param {string} path
 * @returns {Promise<string>}
 */
export function blobUrl(path) {
  let url = blobs.get(path);
  if (!url) {
    url = (async () => {
      const response = await fetch(path, { headers: { Authorization: `Bearer ${session.accessToken()}` } });
      if (!response.ok) throw new ApiError(response.status, await errorBody(response));
      return URL.createObjectURL(await response.blob());
    })();
    url.catch(() => blobs.delete(path));
    blobs.set(path, url);
  }
  return url;
}

/** Let go of every object URL (on sign-out: nothing of the last user stays in memory). */
export function forgetBlobs() {
  for (const url of blobs.values()) url.then((href) => URL.revokeObjectURL(href), () => {});
  blobs.clear();
}

/**
 * @typedef {object} UploadRequest
 * @property {Promise<import("./types.js").Upload>} done
 * @property {() => void} cancel
 */

/**
 * An upload with progress (fetch cannot report it) that can be cancelled.
 * @param {string} roomId
 * @param {File} file
 * @param {(fraction: number) => void} onProgress
 * @returns {UploadRequest}
 */
export function upload(roomId, file, onProgress) {
  const request = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    request.open("POST", `/api/rooms/${roomId}/uploads`);
    request.setRequestHeader("Authorization", `Bearer ${session.accessToken()}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      let body = {};
      try {
        body = JSON.parse(request.responseText || "{}");
      } catch {
        /* not JSON: a proxy's page */
      }
      if (request.status === 202) resolve(body);
      else reject(new ApiError(request.status, body));
    };
    request.onerror = () => reject(new ApiError(0, { error: "offline" }));
    request.onabort = () => reject(new ApiError(0, { error: "cancelled", detail: "Cancelled." }));
    const form = new FormData();
    form.append("file", file);
    request.send(form);
  });
  return { done: /** @type {Promise<import("./types.js").Upload>} */ (done), cancel: () => request.abort() };
}
