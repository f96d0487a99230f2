/** A tiny DOM builder: the panel renders plain elements, no framework. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Array<Node | string | null | undefined | false>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) {
      continue;
    }
    node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child);
  }
  return node;
}

export function button(
  label: string,
  onClick: () => void | Promise<void>,
  attrs: Record<string, string | boolean | undefined> = {}
): HTMLButtonElement {
  const node = h('button', { class: 'jp-Button grace-Button', type: 'button', ...attrs }, label);
  node.addEventListener('click', event => {
    event.stopPropagation();
    void onClick();
  });
  return node;
}

export function when(seconds: number | null | undefined): string {
  if (!seconds) {
    return 'never';
  }
  return new Date(seconds * 1000).toLocaleString();
}

export function countdown(expiresAt: number): string {
  const left = Math.round(expiresAt - Date.now() / 1000);
  if (left <= 0) {
    return 'expired';
  }
  const minutes = Math.floor(left / 60);
  const seconds = left % 60;
  return `${minutes}:${seconds.toString().padStart(2, '0')} left`;
}

type Child = Node | string | null | undefined | false;

function present(children: Child[]): Array<Node | string> {
  return children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false);
}

/** Replace a node's children, skipping the absent ones. */
export function fill(node: HTMLElement, ...children: Child[]): void {
  node.replaceChildren(...present(children));
}

/** Append children, skipping the absent ones. */
export function add(node: HTMLElement, ...children: Child[]): void {
  node.append(...present(children));
}
