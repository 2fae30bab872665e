// DOM helpers shared by the console and the portal.
//
// Everything on screen is built with createElement and text nodes: data
// from the API (payloads, descriptions, response bodies, URLs) is only ever
// assigned as text, never parsed as HTML. No function here accepts markup.

/**
 * h builds an element. tag may carry classes: "div.card.wide".
 * props: class, dataset, on<Event> (functions), value/checked/disabled/...
 * (set as properties), anything else as an attribute. Children are nodes,
 * strings or numbers (as text), arrays (flattened), or null/false (skipped).
 */
export function h(tag, props, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') {
      el.className = [el.className, value].filter(Boolean).join(' ');
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPS.has(key)) {
      el[key] = value;
    } else if (key === 'href' && !String(value).startsWith('#')) {
      // Links only ever lead to the page's own routes.
      throw new Error(`h: href must be a #route, got ${value}`);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

const PROPS = new Set(['value', 'checked', 'disabled', 'required', 'selected', 'textContent', 'type', 'readOnly', 'open']);

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** fill replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** link is an in-page link to a route such as "/app/app_123". */
export function link(text, route, props = {}) {
  return h('a', { ...props, href: '#' + route }, text);
}

/** route builds "/a/b" from segments, each one URI-encoded. */
export function route(...segments) {
  return '/' + segments.map((s) => encodeURIComponent(s)).join('/');
}

// --- Status and time ------------------------------------------------------

const STATUS_TEXT = { 0: 'success', 1: 'pending', 2: 'fail', 3: 'sending', 4: 'canceled' };

/** statusText turns a numeric delivery status into its name. */
export function statusText(status) {
  return STATUS_TEXT[status] ?? 'unknown';
}

const STATUS_LABEL = { success: 'Succeeded', pending: 'Pending', fail: 'Failed', sending: 'Retrying', canceled: 'Cancelled' };

/** badge shows a delivery or attempt status ("success", "fail", ...). */
export function badge(status, title) {
  const text = typeof status === 'number' ? statusText(status) : status;
  return h(`span.badge.status-${text}`, { dataset: { status: text }, title: title || null }, STATUS_LABEL[text] ?? text);
}

/** tag is a small neutral label. */
export function tag(text, kind = '') {
  return h('span.tag' + (kind ? '.' + kind : ''), null, text);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** time shows a timestamp in the reader's time zone; the exact value is its title. */
export function time(iso) {
  if (!iso) return h('span.muted', null, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, iso);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, timeFormat.format(d));
}

/** code shows an identifier in monospace, selectable as a whole. */
export function code(text) {
  return h('code', null, text ?? '');
}

/** pretty formats JSON for reading; anything else comes back as is. */
export function pretty(value) {
  if (typeof value === 'string') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

// --- States -----------------------------------------------------------------

export function loading(text = 'Loading…') {
  return h('div.state.loading', { role: 'status' }, h('span.spinner', { 'aria-hidden': 'true' }), text);
}

export function empty(text, ...more) {
  return h('div.state.empty', null, h('p', null, text), ...more);
}

/** errorBox states an error in words; retry, if given, adds a button. */
export function errorBox(err, retry) {
  return h('div.notice.error', { role: 'alert' },
    h('strong', null, 'Something went wrong. '),
    h('span', null, messageOf(err)),
    retry ? h('button.btn.small', { type: 'button', onclick: retry }, 'Try again') : null);
}

export function messageOf(err) {
  if (err && err.message) return err.message;
  return String(err);
}

// --- Toasts -------------------------------------------------------------------

/** notify shows a short message; errors stay until closed. */
export function notify(text, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.appendChild(box);
  }
  const toast = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' },
    h('span', null, text),
    h('button.close', { type: 'button', 'aria-label': 'Close', onclick: () => toast.remove() }, '×'));
  box.appendChild(toast);
  if (kind !== 'error') setTimeout(() => toast.remove(), 5000);
  return toast;
}

// --- Layout pieces --------------------------------------------------------------

/** card is a titled section; actions go to the right of the title. */
export function card(title, actions, ...body) {
  return h('section.card', null,
    title ? h('div.card-head', null, h('h2', null, title), h('div.actions', null, actions)) : null,
    ...body);
}

/** pageHead is a page's breadcrumbs, title, facts and actions. */
export function pageHead({ crumbs = [], title, facts = [], actions = [] }) {
  return h('div.page-head', null,
    crumbs.length ? h('nav.crumbs', { 'aria-label': 'Breadcrumbs' }, crumbs.map((c, i) => [i ? h('span.sep', null, '/') : null, c])) : null,
    h('div.title-row', null, h('h1', null, title), h('div.actions', null, actions)),
    facts.length ? h('dl.facts', null, facts.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v)))) : null);
}

/**
 * table renders rows under columns [{label, cell(row) -> node|string, class}].
 * It is wrapped so that a wide table scrolls sideways on a phone.
 */
export function table(columns, rows, { rowProps } = {}) {
  return h('div.table-wrap', null,
    h('table.list', null,
      h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.class }, c.label)))),
      h('tbody', null, rows.map((row) =>
        h('tr', rowProps ? rowProps(row) : null, columns.map((c) => h('td', { class: c.class, dataset: { label: c.label } }, c.cell(row))))))));
}

/** field is a labelled form control. */
export function field(label, control, hint) {
  return h('label.field', null, h('span.label', null, label), control, hint ? h('span.hint', null, hint) : null);
}

/**
 * button runs an async action, disabled while it runs; a failure is shown
 * as a toast (and not swallowed).
 */
export function button(label, action, { kind = '', title, small = false, testid } = {}) {
  const cls = ['btn', kind, small ? 'small' : ''].filter(Boolean).join('.');
  const el = h('button.' + cls, { type: 'button', title, dataset: testid ? { testid } : null, onclick: async () => {
    el.disabled = true;
    try {
      await action(el);
    } catch (err) {
      notify(messageOf(err), 'error');
    } finally {
      el.disabled = false;
    }
  } }, label);
  return el;
}

/**
 * confirmButton asks inline before running a destructive action: the
 * button turns into "question [Yes] [Cancel]".
 */
export function confirmButton(label, question, action, { kind = 'danger', small = false } = {}) {
  const wrap = h('span.confirm');
  const idle = () => fill(wrap, h('button.btn' + (kind ? '.' + kind : '') + (small ? '.small' : ''), { type: 'button', onclick: ask }, label));
  function ask() {
    fill(wrap,
      h('span.question', null, question),
      button('Yes', async () => { try { await action(); } finally { if (wrap.isConnected) idle(); } }, { kind, small: true }),
      h('button.btn.small.ghost', { type: 'button', onclick: idle }, 'Cancel'));
  }
  idle();
  return wrap;
}

/**
 * pager shows "Newer" and "Older" for a list page. page is the API's list
 * envelope, requested the iterator it was fetched with; go(iterator) loads
 * another page. Lists are shown newest first, so Older follows iterator.
 */
export function pager(page, requested, go, { newer = 'Newer', older = 'Older' } = {}) {
  const backward = !!requested && requested.startsWith('-');
  if (page.data.length === 0) {
    return requested ? h('div.pager', null, h('button.btn.small', { type: 'button', onclick: () => go('') }, '← Back to the start')) : null;
  }
  const hasOlder = page.iterator && (backward || !page.done) && page.data.length > 0;
  const hasNewer = page.prevIterator && requested && (!backward || !page.done) && page.data.length > 0;
  if (!hasOlder && !hasNewer) return null;
  return h('div.pager', null,
    h('button.btn.small', { type: 'button', disabled: !hasNewer, onclick: () => go(page.prevIterator) }, '← ' + newer),
    h('button.btn.small', { type: 'button', disabled: !hasOlder, onclick: () => go(page.iterator) }, older + ' →'));
}

/** splitList reads "a, b c" as ["a", "b", "c"]. */
export function splitList(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}
