// Signing in and creating an account. Errors are shown in the form, beside the fields.

import { post } from "../api.js";
import { $, one } from "../dom.js";
import { ApiError, explain } from "../errors.js";

/** @typedef {import("../types.js").TokenPair} TokenPair */

let registering = false;

const form = () => one("#auth-form", HTMLFormElement);
/** @param {string} name */
const field = (name) => one(`#auth-form [name=${name}]`, HTMLInputElement);

/** @param {boolean} register */
function setMode(register) {
  registering = register;
  $("#auth-title").textContent = register ? "Create an account" : "Sign in";
  $("#auth-submit").textContent = register ? "Create account" : "Sign in";
  $("#auth-switch").textContent = register ? "Have an account? Sign in" : "New here? Create an account";
  $("#display-name-field").hidden = !register;
  field("password").autocomplete = register ? "new-password" : "current-password";
  showError(null);
}

/**
 * @param {string | null} text
 * @param {string[]} [fields] the fields it is about
 */
function showError(text, fields = []) {
  const error = $("#auth-error");
  error.hidden = !text;
  error.textContent = text ?? "";
  for (const name of ["username", "password", "display_name"]) {
    const input = field(name);
    if (fields.includes(name)) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

/**
 * What the browser's own checks found, in the form's words (the form is `novalidate`, so
 * the message appears in the page, where it can be read and announced, not in a bubble).
 * @returns {boolean}
 */
function checkFields() {
  for (const name of registering ? ["username", "password", "display_name"] : ["username", "password"]) {
    const input = field(name);
    if (!input.checkValidity()) {
      const label = input.closest("label")?.firstChild?.textContent?.trim() ?? name;
      const hint = name === "username" && input.validity.patternMismatch
        ? "use letters, digits, _ . or -" : input.validationMessage;
      showError(`${label}: ${hint}`, [name]);
      input.focus();
      return false;
    }
  }
  return true;
}

/**
 * @param {(tokens: TokenPair) => Promise<void>} signedIn
 */
export function wireAuth(signedIn) {
  $("#auth-switch").addEventListener("click", () => setMode(!registering));
  form().addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkFields()) return;
    const submit = one("#auth-submit", HTMLButtonElement);
    const data = new FormData(form());
    const credentials = { username: String(data.get("username")), password: String(data.get("password")) };
    submit.disabled = true;
    try {
      if (registering) {
        const displayName = String(data.get("display_name") ?? "").trim();
        await post("/api/auth/register", displayName ? { ...credentials, display_name: displayName } : credentials);
      }
      /** @type {TokenPair} */
      const tokens = await post("/api/auth/login", credentials);
      showError(null);
      form().reset();
      setMode(false);
      await signedIn(tokens);
    } catch (error) {
      const code = error instanceof ApiError ? error.body.error : undefined;
      const fields = code === "invalid_credentials" ? ["username", "password"]
        : code === "username_taken" ? ["username"] : [];
      showError(explain(error), fields);
      (fields[fields.length - 1] ? field(fields[fields.length - 1]) : field("username")).focus();
    } finally {
      submit.disabled = false;
    }
  });
  setMode(false);
}

export function showAuth() {
  $("#auth-view").hidden = false;
  $("#chat-view").hidden = true;
  $("#whoami").hidden = true;
  $("#toggle-rooms").hidden = true;
  field("username").focus();
}
