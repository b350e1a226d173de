// Safe HTML: the `html` tag escapes every value it interpolates (server strings never
// become markup); only fragments built by `html` itself pass through unescaped, and
// setHtml() is the one way markup reaches the DOM.
const SAFE = Symbol("safe-html");

/** Text escaped for an HTML text node or a quoted attribute value. */
export function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function render(v) {
  if (v && v[SAFE] !== undefined) return v[SAFE];
  if (Array.isArray(v)) return v.map(render).join("");
  return esc(v);
}

/** Tagged template: html`<b>${name}</b>` escapes `name`; nested html`` and arrays of them pass. */
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return { [SAFE]: out, toString: () => out };
}

/** Replace an element's content with markup made by `html` (anything else is refused). */
export function setHtml(el, fragment) {
  if (!fragment || fragment[SAFE] === undefined) throw new TypeError("setHtml takes html`` fragments only");
  el.innerHTML = fragment[SAFE];
}
