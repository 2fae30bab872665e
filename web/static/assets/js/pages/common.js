// Pieces used by several pages.

import { h, fill, loading, errorBox, messageOf, splitList, field, link, route, code } from '../dom.js';
import { path } from '../api.js';

/**
 * eventTypeList returns the organisation's event types (at most 1000, not
 * archived, without schemas), cached per context for a minute.
 */
export function eventTypeList(ctx) {
  const now = Date.now();
  if (!ctx.eventTypeCache || now - ctx.eventTypeCache.at > 60_000) {
    const load = async () => {
      const all = [];
      let iterator = '';
      for (let i = 0; i < 4; i++) {
        const page = await ctx.api.get('/event-type', { limit: 250, iterator });
        all.push(...page.data);
        if (page.done || !page.iterator) break;
        iterator = page.iterator;
      }
      return all;
    };
    ctx.eventTypeCache = { at: now, promise: load() };
    ctx.eventTypeCache.promise.catch(() => { ctx.eventTypeCache = null; });
  }
  return ctx.eventTypeCache.promise;
}

/** allEventTypes returns the names of the organisation's event types (eventTypeList). */
export async function allEventTypes(ctx) {
  return (await eventTypeList(ctx)).map((et) => et.name);
}

/**
 * eventTypePicker is a set of checkboxes, one per event type of the
 * catalog, each with its description; selected ones that no longer exist
 * (archived) stay listed. value() is the selected names; none selected
 * means "every event type".
 */
export function eventTypePicker(ctx, selected = []) {
  const box = h('div.checks', null, loading('Loading event types…'));
  const chosen = new Set(selected);
  let inputs = [];
  eventTypeList(ctx).then((types) => {
    const described = new Map(types.map((et) => [et.name, et.description]));
    const all = [...new Set([...described.keys(), ...selected])].sort();
    if (all.length === 0) {
      fill(box, h('p.hint', null, 'No event types are defined, so the endpoint receives every message.'));
      return;
    }
    inputs = all.map((name) => h('input', { type: 'checkbox', value: name, checked: chosen.has(name) }));
    fill(box, all.map((name, i) => h('label.check.event-type-choice', { title: described.get(name) || null }, inputs[i],
      h('span', null, h('span.name', null, name), described.get(name) ? h('span.description', null, described.get(name)) : null))),
    h('p.hint.catalog-link', null, 'What each event carries: ', link('the event catalog', ctx.portal ? '/event-types' : '/catalog'), '.'));
  }, (err) => fill(box, errorBox(err)));
  return {
    el: box,
    value: () => (inputs.length ? inputs.filter((i) => i.checked).map((i) => i.value) : [...chosen]),
  };
}

/** endpointFields are the inputs of an endpoint's settings, shared by create and edit. */
export function endpointFields(ctx, ep = {}) {
  const url = h('input', { type: 'url', name: 'url', required: true, placeholder: 'https://example.com/webhooks', value: ep.url || '', autocomplete: 'off' });
  const description = h('input', { type: 'text', name: 'description', placeholder: 'What receives these webhooks', value: ep.description || '' });
  const types = eventTypePicker(ctx, ep.filterTypes || []);
  const channels = h('input', { type: 'text', name: 'channels', placeholder: 'e.g. project-1, eu', value: (ep.channels || []).join(', ') });
  return {
    nodes: [
      field('URL', url),
      field('Description', description),
      h('div.field', null, h('span.label', null, 'Event types'), types.el, h('span.hint', null, 'None selected: every event type is delivered.')),
      field('Channels', channels, 'Comma-separated. Empty: messages of every channel are delivered.'),
    ],
    value() {
      return {
        url: url.value.trim(),
        description: description.value,
        filterTypes: types.value(),
        channels: splitList(channels.value),
      };
    },
  };
}

/**
 * form builds a <form> whose submit runs onSubmit(); a failure is shown
 * inside the form, above the buttons, in words. secondary makes the submit
 * button a plain one, for forms beside the page's main one.
 */
export function form(nodes, submitLabel, onSubmit, { cancel, testid, secondary = false } = {}) {
  const status = h('div.form-status', { 'aria-live': 'polite' });
  const submit = h(secondary ? 'button.btn' : 'button.btn.primary', { type: 'submit' }, submitLabel);
  const el = h('form.form', { dataset: testid ? { testid } : null, onsubmit: async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    fill(status);
    try {
      await onSubmit();
    } catch (err) {
      fill(status, h('div.notice.error', { role: 'alert' }, messageOf(err)));
    } finally {
      submit.disabled = false;
    }
  } }, nodes, status, h('div.form-actions', null, submit,
    cancel ? h('button.btn.ghost', { type: 'button', onclick: cancel }, 'Cancel') : null));
  return el;
}

/** toggled shows a form under a button that opens and closes it. */
export function toggled(label, makeForm, { testid } = {}) {
  const slot = h('div.toggle-slot');
  const btn = h('button.btn.primary', { type: 'button', dataset: testid ? { testid } : null, onclick: () => {
    if (slot.firstChild) fill(slot);
    else fill(slot, makeForm(() => fill(slot)));
  } }, label);
  return { button: btn, slot };
}

/** endpointLink shows an endpoint by its URL, linking to its page. */
export function endpointLink(appId, ep) {
  return link(ep.url || ep.id, route('app', appId, 'endpoint', ep.id), { class: 'url' });
}

/** messageLink links to a message page by its id. */
export function messageLink(appId, msgId) {
  return link(code(msgId), route('app', appId, 'msg', msgId));
}

/** resend queues one manual attempt of msg to an endpoint. */
export function resend(ctx, appId, msgId, epId) {
  return ctx.api.post(path`/app/${appId}/msg/${msgId}/endpoint/${epId}/resend`, {});
}

/** parseJSONObject reads a payload typed by a person, or explains why not. */
export function parseJSONObject(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`The payload is not valid JSON: ${err.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('The payload must be a JSON object, like {"key": "value"}.');
  }
  return value;
}

/** duration shows milliseconds readably. */
export function duration(ms) {
  if (ms === undefined || ms === null) return '—';
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** httpStatus shows an attempt's status code; 0 means no answer. */
export function httpStatus(n) {
  if (!n) return h('span.http.none', { title: 'No HTTP answer: connection or timeout error' }, 'no answer');
  const cls = n >= 200 && n < 300 ? 'ok' : n >= 500 ? 'err' : 'warn';
  return h('span.http.' + cls, null, String(n));
}

/** responseBody shows an attempt's response body as text. */
export function responseBody(text) {
  if (!text) return h('span.muted', null, 'empty');
  return h('pre.response', null, text);
}
