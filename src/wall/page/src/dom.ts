// Small DOM helpers: every text from the server goes in through textContent, never as HTML.

export function $(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/** An element the page itself created, by tag: `el('input')` is an HTMLInputElement. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function button(className: string, text: string, testid: string, onClick: () => void): HTMLButtonElement {
  const node = el('button', className, text);
  node.type = 'button';
  if (testid) node.dataset.testid = testid;
  node.addEventListener('click', onClick);
  return node;
}

/** Reasons as chips; beyond `limit` one "+n" chip whose tooltip lists the rest. */
export function setChips(container: HTMLElement, reasons: string[], limit = Infinity): void {
  const joined = reasons.join('\u0000');
  if (container.dataset.reasons === joined) return;
  container.dataset.reasons = joined;
  const shown = reasons.slice(0, limit).map((reason) => {
    const chip = el('span', 'chip', reason);
    chip.title = reason;
    return chip;
  });
  if (reasons.length > limit) {
    const more = el('span', 'chip more', `+${reasons.length - limit}`);
    more.title = reasons.slice(limit).join('\n');
    shown.push(more);
  }
  container.replaceChildren(...shown);
}

/** A table cell with a name over its reasons (at-risk customers, experience products and segments). */
export function nameCell(nameClass: string, nameTestid: string, whyTestid: string): { cell: HTMLTableCellElement; name: HTMLElement; why: HTMLElement } {
  const cell = el('td');
  const name = el('span', nameClass);
  name.dataset.testid = nameTestid;
  const why = el('div', 'why');
  why.dataset.testid = whyTestid;
  cell.append(name, why);
  return { cell, name, why };
}

/** A numeric cell with a bar before the number (risk, experience index): the bar's fill takes the share as its width. */
export function barCell(valueTestid: string): { cell: HTMLTableCellElement; fill: HTMLElement; value: HTMLElement } {
  const cell = el('td', 'num');
  const inner = el('div', 'riskcell');
  const bar = el('span', 'bar');
  const fill = el('i');
  bar.append(fill);
  const value = el('span', 'pct');
  value.dataset.testid = valueTestid;
  inner.append(bar, value);
  cell.append(inner);
  return { cell, fill, value };
}

/** A node the page built with its parts at hand, so an update does not query for them. */
export type WithParts<E extends HTMLElement, P> = E & { parts: P };

export function withParts<E extends HTMLElement, P>(node: E, parts: P): WithParts<E, P> {
  return Object.assign(node, { parts });
}

/** Keyed update in place: rows keep their identity, so a click or hover survives a re-render. */
export function syncChildren<T, N extends HTMLElement>(
  container: HTMLElement,
  items: readonly T[],
  keyOf: (item: T) => string,
  create: (item: T) => N,
  update: (node: N, item: T) => void,
): void {
  const wanted = new Set(items.map(keyOf));
  for (const child of [...container.children] as HTMLElement[]) if (!wanted.has(child.dataset.key ?? '')) child.remove();
  // Every child left was made by `create` for this container.
  const existing = new Map(([...container.children] as N[]).map((child) => [child.dataset.key, child]));
  items.forEach((item, index) => {
    const key = keyOf(item);
    let node = existing.get(key);
    if (!node) {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    const at = container.children[index];
    if (at !== node) container.insertBefore(node, at ?? null);
  });
}

let toastTimer = 0;
export function toast(message: string, kind = 'error'): void {
  const node = $('toast');
  node.textContent = message;
  node.dataset.kind = kind;
  node.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (node.hidden = true), 6_000);
}

/** The one render loop's trigger, set by main.ts: panels ask for a render without importing the loop. */
let requestRender: () => void = () => {};
export function setRenderRequest(fn: () => void): void {
  requestRender = fn;
}
export function scheduleRender(): void {
  requestRender();
}
