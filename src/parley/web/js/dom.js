// Small DOM helpers. Text always goes in through textContent: no user text is ever parsed
// as HTML (the page's CSP forbids inline script, and this keeps markup out of the way too).

/**
 * The one element a selector names, of the expected class; a missing one is a bug.
 * @template {Element} T
 * @param {string} selector
 * @param {new (...args: any[]) => T} type
 * @param {ParentNode} [root]
 * @returns {T}
 */
export function one(selector, type, root = document) {
  const found = root.querySelector(selector);
  if (!(found instanceof type)) throw new Error(`missing ${selector}`);
  return found;
}

/**
 * @param {string} selector
 * @returns {HTMLElement}
 */
export const $ = (selector) => one(selector, HTMLElement);

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {{className?: string, text?: string, attrs?: Record<string, string>}} [options]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function element(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/**
 * @param {string} text
 * @param {() => void} onClick
 * @param {{label?: string, className?: string}} [options]
 * @returns {HTMLButtonElement}
 */
export function button(text, onClick, options = {}) {
  const node = element("button", { text, className: options.className, attrs: { type: "button" } });
  if (options.label) node.setAttribute("aria-label", options.label);
  node.addEventListener("click", onClick);
  return node;
}
