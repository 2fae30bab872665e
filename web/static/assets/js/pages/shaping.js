// An endpoint's payload filter and transformation: edit them, and try them
// on a payload before any message goes through them.

import { h, fill, card, notify, field, tag, splitList, pretty, messageOf } from '../dom.js';
import { form, parseJSONObject } from './common.js';

const filterHelp = 'A CEL expression over payload, eventType, channels and tags, for example ' +
  'eventType == "invoice.paid" && payload.amount > 1000. Empty: every message the event types ' +
  'and channels let through. A message on which it cannot be evaluated (a missing key) is not ' +
  'delivered; its delivery shows why.';

const codeTemplate = `function handler(webhook) {
  // webhook.method, .url, .payload and .headers may be changed;
  // webhook.cancel = true sends nothing.
  return webhook;
}`;

/** filterCard edits the endpoint's payload filter and tests it (draft included) on a message. */
export function filterCard(ctx, base, ep, again) {
  const expr = h('textarea.mono', { name: 'filter', rows: 3, spellcheck: 'false', placeholder: 'payload.amount > 1000', 'aria-label': 'Filter' });
  expr.value = ep.filter || '';
  const save = form([field('Filter', expr, filterHelp)], 'Save filter', async () => {
    const value = expr.value.trim();
    await ctx.api.patch(base, { filter: value || null });
    notify(value ? 'Filter saved: it applies to the next message published.' : 'Filter removed.', 'success');
    again();
  }, { testid: 'filter-form' });

  const eventType = h('input.mono', { type: 'text', name: 'eventType', required: true, value: (ep.filterTypes || [])[0] || '', placeholder: 'invoice.paid' });
  const payload = h('textarea.mono', { name: 'payload', rows: 5, spellcheck: 'false' });
  payload.value = '{\n  "amount": 1500\n}';
  const channels = h('input', { type: 'text', name: 'channels', placeholder: 'e.g. eu, project-1' });
  const tags = h('input', { type: 'text', name: 'tags', placeholder: 'e.g. vip' });
  const result = h('div.shaping-result', { dataset: { testid: 'filter-result' }, 'aria-live': 'polite' });
  const test = form([
    field('Event type', eventType),
    field('Payload', payload),
    h('div.row', null, field('Channels', channels), field('Tags', tags)),
  ], 'Test filter', async () => {
    fill(result);
    const body = {
      filter: expr.value.trim() || null,
      eventType: eventType.value.trim(),
      payload: parseJSONObject(payload.value),
      channels: splitList(channels.value),
      tags: splitList(tags.value),
    };
    fill(result, filterVerdict(await ctx.api.post(base + '/filter/test', body)));
  }, { secondary: true, testid: 'filter-test-form' });

  return card('Payload filter', null, save,
    h('details.shaping-try', { dataset: { testid: 'filter-try' } }, h('summary', null, 'Test it on a message'),
      h('p.hint', null, 'Tests the filter above as typed, before it is saved, with the endpoint’s event types and channels.'),
      test, result));
}

/** filterVerdict shows why a message would or would not be delivered. */
function filterVerdict(res) {
  return [
    h('p.verdict', { dataset: { delivered: String(res.delivered) } },
      res.delivered ? tag('delivered', 'on') : tag('not delivered', 'off'), ' ', res.summary),
    res.terms && res.terms.length ? h('table.terms', null,
      h('thead', null, h('tr', null, h('th', null, 'Part of the filter'), h('th', null, 'Value'))),
      h('tbody', null, res.terms.map((t) => h('tr', { dataset: { value: t.value || '' } },
        h('td', null, h('code', null, t.expr)),
        h('td', null,
          t.error ? h('span.bad', null, t.error) : h('code', null, t.value),
          (t.operands || []).map((o) => h('div.muted', null, h('code', null, o.expr), ' = ', o.error ? o.error : h('code', null, o.value)))))))) : null,
  ];
}

/** transformationCard edits the endpoint's transformation and simulates it on a payload. */
export function transformationCard(ctx, view, base, again) {
  const body = h('div');
  ctx.api.get(base + '/transformation').then((tr) => {
    if (!view.alive()) return;
    const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: tr.enabled });
    const code = h('textarea.mono.code', { name: 'code', rows: 12, spellcheck: 'false', 'aria-label': 'Code' });
    code.value = tr.code || codeTemplate;
    const variables = h('textarea.mono', { name: 'variables', rows: 3, spellcheck: 'false', placeholder: '{"apiKey": "…"}' });
    variables.value = tr.variables ? JSON.stringify(tr.variables, null, 2) : '';
    const save = form([
      field('Code', code, 'JavaScript defining handler(webhook). It runs before every attempt, in a sandbox, for at most the configured time.'),
      field('Variables', variables, 'A JSON object of strings, given to the code as webhook.variables (kept encrypted like secrets).'),
      h('label.check', null, enabled, h('span', null, 'Enabled: run it on every delivery to this endpoint')),
    ], 'Save transformation', async () => {
      let vars = null;
      if (variables.value.trim()) vars = parseJSONObject(variables.value);
      await ctx.api.patch(base + '/transformation', { code: code.value, enabled: enabled.checked, variables: vars });
      notify(enabled.checked ? 'Transformation saved: it runs on the next attempt.' : 'Transformation saved, not enabled.', 'success');
      again();
    }, { testid: 'transformation-form' });

    const eventType = h('input.mono', { type: 'text', name: 'eventType', required: true, value: 'user.signup' });
    const payload = h('textarea.mono', { name: 'payload', rows: 5, spellcheck: 'false' });
    payload.value = '{\n  "id": "u_123"\n}';
    const result = h('div.shaping-result', { dataset: { testid: 'simulate-result' }, 'aria-live': 'polite' });
    const simulate = form([field('Event type', eventType), field('Payload', payload)], 'Simulate', async () => {
      fill(result);
      let vars;
      if (variables.value.trim()) vars = parseJSONObject(variables.value);
      try {
        const out = await ctx.api.post(base + '/transformation/simulate', {
          code: code.value, eventType: eventType.value.trim(), payload: parseJSONObject(payload.value), variables: vars,
        });
        fill(result, simulated(out));
      } catch (err) {
        // What the attempt would record, in words.
        fill(result, h('div.notice.error', { role: 'alert', dataset: { testid: 'simulate-error' } }, messageOf(err)));
      }
    }, { secondary: true, testid: 'simulate-form' });
    fill(body, save,
      h('details.shaping-try', { dataset: { testid: 'simulate-try' } }, h('summary', null, 'Simulate it on a payload'),
        h('p.hint', null, 'Runs the code above as typed, before it is saved, as an attempt to this endpoint would; nothing is sent.'),
        simulate, result));
  }, (err) => fill(body, h('div.notice.error', null, messageOf(err))));
  return card('Transformation', null, body);
}

/** simulated shows the request a transformation would make. */
function simulated(out) {
  if (out.cancel) {
    return h('p.verdict', { dataset: { cancel: 'true' } }, tag('cancelled', 'off'), ' No request would be sent: the delivery would be cancelled by the transformation.');
  }
  return [
    h('p.verdict', { dataset: { cancel: 'false' } }, tag(out.method || 'POST'), ' ', h('code.url', null, out.url)),
    Object.keys(out.headers || {}).length ? h('pre.response', null, Object.entries(out.headers).map(([k, v]) => `${k}: ${v}`).join('\n')) : null,
    h('pre.payload', { dataset: { testid: 'simulated-payload' } }, pretty(out.payload)),
  ];
}
