// Small DOM helpers: element creation, a polite status toast and a confirmation dialog.

/** h('button', {class: 'x', onclick}, 'text', child…): attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let toastTimer = null;

/** A short message at the bottom of the screen, read out by screen readers. */
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 7000 : 4000);
}

/**
 * A modal dialog with a message, optional text input and two buttons; resolves to the input's
 * value (or true) when confirmed, null when cancelled.
 */
export function ask({ title, message, input, confirm, cancel, danger = false }) {
  return new Promise((resolve) => {
    const field = input ? h('input', { type: 'text', value: input.value ?? '', 'aria-label': input.label, required: true, maxlength: 120 }) : null;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dialog-title' }, title),
        message ? h('p', {}, message) : null,
        field ? h('label', { class: 'field' }, h('span', {}, input.label), field) : null,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn ghost', onclick: () => dialog.close('cancel') }, cancel),
          h('button', { type: 'submit', value: 'ok', class: danger ? 'btn danger' : 'btn primary' }, confirm))));
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      dialog.remove();
      resolve(ok ? (field ? field.value.trim() : true) : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (field ?? dialog.querySelector('button[type=submit]')).focus();
  });
}
