/** The few DOM helpers the dashboard needs: make elements, and update keyed lists in place. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | null>;

/** `h("td", { class: "count", "data-count": 3 }, "3")`. `false`, null and undefined attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  el.append(...nodes(children));
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  el.append(...nodes(children));
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
}

function nodes(children: Child[]): Array<Node | string> {
  return children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === "number" ? String(c) : c));
}

/** Set an element's text only when it changes (keeps selection and avoids layout work). */
export function text(el: Element, value: string): void {
  if (el.textContent !== value) el.textContent = value;
}

/** Set a data attribute only when it changes. */
export function data(el: HTMLElement | SVGElement, key: string, value: string): void {
  if (el.dataset[key] !== value) el.dataset[key] = value;
}

const rows = new WeakMap<Element, Map<string, Element>>();

/**
 * Make `parent`'s children the items, one element per key, in order: an element already there
 * for a key is kept and updated (inputs keep what the user typed), new ones made, the rest removed.
 */
export function keyed<T, E extends Element>(parent: Element, items: readonly T[], key: (item: T) => string, make: (item: T) => E, update: (el: E, item: T) => void): void {
  const old = rows.get(parent) ?? new Map<string, Element>();
  const next = new Map<string, Element>();
  let at: ChildNode | null = parent.firstChild;
  for (const item of items) {
    const k = key(item);
    let el = old.get(k) as E | undefined;
    if (!el) el = make(item);
    update(el, item);
    next.set(k, el);
    if (at === el) at = el.nextSibling;
    else parent.insertBefore(el, at);
  }
  for (const [k, el] of old) if (!next.has(k)) el.remove();
  rows.set(parent, next);
}
