// Building DOM without innerHTML: every value from the API lands as text, never as markup.
/* global Node, FormData */

/** h('td', { class: 'num', title: 'x' }, child, 'text', …) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A <select> of options [value, label]; the current value selected. */
export function select(name, options, value) {
  return h(
    'select',
    { name },
    options.map(([v, label]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, label)),
  );
}

export function field(label, control) {
  return h('label', { class: 'field' }, h('span', {}, label), control);
}

/** Form values as an object, without empty strings. */
export function formValues(form) {
  const values = {};
  for (const [key, value] of new FormData(form)) if (String(value).trim() !== '') values[key] = String(value).trim();
  return values;
}
