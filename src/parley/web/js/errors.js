// What went wrong, in words a person can act on. Every failure the client shows passes here.

import { formatBytes } from "./format.js";

/** @typedef {import("./types.js").ErrorBody} ErrorBody */

/** A failed request: the HTTP status (0 when the server could not be reached) and its body. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {ErrorBody} body
   */
  constructor(status, body) {
    super(body.detail ?? body.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** @type {Record<string, string>} */
const REASONS = {
  offline: "The server cannot be reached. Check your connection; Parley keeps trying.",
  rate_limited: "You are going too fast for the server. Wait a moment and try again.",
  unsupported_type: "Only images (JPEG, PNG, GIF, WebP), PDFs and text files can be shared.",
  unauthorized: "You have been signed out. Please sign in again.",
  invalid_credentials: "Unknown username or wrong password.",
  username_taken: "That username is taken. Try another.",
  not_found: "That room or user does not exist, or you are not a member.",
  forbidden: "You are not allowed to do that here.",
  unavailable: "The server is busy. Try again in a moment.",
  bad_request: "The server could not accept that.",
};

/**
 * The upload limit, when the server's answer states it ("Files may be at most N bytes.").
 * @param {unknown} error
 * @returns {number | null}
 */
export function statedLimit(error) {
  const detail = error instanceof ApiError ? error.body.detail : undefined;
  const match = /at most (\d+) bytes/.exec(detail ?? "");
  return match ? Number(match[1]) : null;
}

/**
 * @param {unknown} error an ApiError, an error frame ({code, detail}), or anything thrown
 * @returns {string}
 */
export function explain(error) {
  /** @type {ErrorBody} */
  const body = error instanceof ApiError ? error.body
    : typeof error === "object" && error !== null ? /** @type {ErrorBody} */ (error) : {};
  const code = body.error ?? body.code ?? "";
  if (code === "validation_error" && body.fields?.length) {
    return body.fields.map((field) => `${String(field.loc.at(-1))}: ${field.msg}`).join("; ");
  }
  if (code === "too_large") {
    const limit = statedLimit(error);
    return limit ? `Too large: files may be at most ${formatBytes(limit)}.` : "That is too large.";
  }
  if (REASONS[code]) return REASONS[code];
  if (body.detail) return body.detail;
  if (error instanceof ApiError) return `The server answered with an error (HTTP ${error.status}).`;
  return error instanceof Error ? error.message : "Unexpected error.";
}
