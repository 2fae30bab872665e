// An endpoint: settings, secret, custom headers, recovery and attempts.

import {
  h, fill, link, route, code, time, badge, tag, card, pageHead, table, loading, empty, errorBox,
  notify, button, confirmButton, pager, field,
} from '../dom.js';
import { path } from '../api.js';
import { go } from '../router.js';
import {
  endpointFields, form, messageLink, duration, httpStatus, responseBody, allEventTypes,
} from './common.js';
import { filterCard, transformationCard } from './shaping.js';
import { poller } from '../poll.js';
import { healthDot, barChart, rate } from './health.js';

export async function renderEndpoint(ctx, view, params) {
  fill(view.main, loading());
  const [app, ep] = await Promise.all([
    ctx.api.get(path`/app/${params.app}`),
    ctx.api.get(path`/app/${params.app}/endpoint/${params.endpoint}`),
  ]);
  if (!view.alive()) return;
  const base = path`/app/${app.id}/endpoint/${ep.id}`;
  const again = () => renderEndpoint(ctx, view, params);

  const toggle = button(ep.disabled ? 'Enable' : 'Disable', async () => {
    await ctx.api.patch(base, { disabled: !ep.disabled });
    notify(ep.disabled ? 'Endpoint enabled.' : 'Endpoint disabled: it receives no new messages.', 'success');
    again();
  }, { testid: 'toggle-endpoint' });
  const remove = confirmButton('Delete', 'Delete this endpoint and its delivery history?', async () => {
    await ctx.api.delete(base);
    notify('Endpoint deleted.', 'success');
    go(route('app', app.id));
  });

  fill(view.main,
    pageHead({
      crumbs: [ctx.portal ? null : link('Applications', '/apps'), link(app.name, route('app', app.id)), h('span', null, 'Endpoint')].filter(Boolean),
      title: ep.url,
      facts: [
        ['ID', code(ep.id)],
        ep.uid ? ['UID', code(ep.uid)] : null,
        ['State', ep.disabled ? tag('disabled', 'off') : tag('enabled', 'on')],
        ep.verification ? ['Ownership', verificationTag(ep.verification)] : null,
        ['Signature', tag(ep.signatureType === 'ed25519' ? 'Ed25519 (v1a)' : 'HMAC (v1)')],
        ['Created', time(ep.createdAt)],
      ].filter(Boolean),
      actions: [verifyButton(ctx, base, ep, again), toggle, remove].filter(Boolean),
    }),
    healthCard(ctx, view, base),
    h('div.grid-2', null,
      h('div.stack', null,
        settingsCard(ctx, base, ep, again),
        filterCard(ctx, base, ep, again)),
      h('div.stack', null,
        secretCard(ctx, base, ep),
        headersCard(ctx, view, base),
        recoverCard(ctx, base),
        exampleCard(ctx, base, app))),
    transformationCard(ctx, view, base, again),
    attemptsCard(ctx, view, app, ep));
}

// verificationTag shows whether the endpoint proved it controls its URL.
function verificationTag(v) {
  return v.status === 'verified' ? tag('verified', 'on') : tag('pending verification', 'warn');
}

// verifyButton sends a pending endpoint its challenge again.
function verifyButton(ctx, base, ep, again) {
  if (ep.verification?.status !== 'pendingVerification' || ep.disabled) return null;
  return button('Send challenge', async () => {
    await ctx.api.post(base + '/verify', {});
    notify('Challenge sent: the endpoint receives messages once its receiver answers it.', 'success');
    again();
  }, { testid: 'verify-endpoint' });
}

// healthCard shows the endpoint's health (its dot, success rates, failing
// since), a bar chart of its attempts per hour (24 h) or per day (30 days),
// and its deliveries of the last 28 days by status. It polls: fast while a
// delivery waits for its first attempt, backing off otherwise.
function healthCard(ctx, view, base) {
  const body = h('div', null, loading('Loading health…'));
  let daily = false;
  let stats = null;
  const span = h('select', { 'aria-label': 'Chart period', dataset: { testid: 'chart-period' }, onchange: () => {
    daily = span.value === 'daily';
    if (stats) draw(stats);
  } }, h('option', { value: 'hourly' }, 'Last 24 hours'), h('option', { value: 'daily' }, 'Last 30 days'));
  let last = '';
  const poll = poller(view, async () => {
    let s;
    try {
      s = await ctx.api.get(base + '/stats');
    } catch (err) {
      if (view.alive()) fill(body, errorBox(err, () => poll.now()));
      last = '';
      throw err;
    }
    const snapshot = JSON.stringify(s);
    if (view.alive() && snapshot !== last) {
      last = snapshot;
      stats = s;
      draw(s);
    }
    return s.pending > 0;
  });
  function draw(s) {
    const sum = (bs) => bs.reduce((a, b) => [a[0] + b.attempts, a[1] + b.failures], [0, 0]);
    const [a30, f30] = sum(s.daily || []);
    const figure = (value, label, testid) => h('div.figure', { dataset: { testid } },
      h('span.figure-value', null, value ?? '—'), h('span.figure-label', null, label));
    fill(body,
      h('div.health-figures', null,
        h('div.figure', null, h('span.figure-value', null, healthDot(s)), h('span.figure-label', null, 'Health')),
        figure(rate(s.attempts24h, s.failures24h), `succeeded, last 24 h (${s.attempts24h} attempts)`, 'rate-24h'),
        figure(rate(a30, f30), `succeeded, last 30 days (${a30} attempts)`, 'rate-30d'),
        h('div.figure', null, h('span.figure-value.small', null, s.failingSince ? time(s.failingSince) : '—'), h('span.figure-label', null, 'Failing since'))),
      h('div.chart-wrap', { dataset: { testid: 'health-chart' } }, barChart(daily ? s.daily : s.hourly, { daily })),
      h('div.legend', null, h('span.key.ok', null, 'succeeded'), h('span.key.fail', null, 'failed')),
      h('div.stats', null, ['success', 'pending', 'sending', 'fail', 'canceled'].map((k) =>
        h(`div.stat.stat-${k}`, null, h('span.stat-value', null, String(s[k] ?? 0)), h('span.stat-label', null, badge(k)))),
      h('p.hint.stats-hint', null, 'Deliveries over the last 28 days.')));
  }
  return card('Health', [span, button('Refresh', () => poll.now(), { small: true, testid: 'refresh-health' }), poll.stamp], body);
}

function settingsCard(ctx, base, ep, again) {
  const fields = endpointFields(ctx, ep);
  const enabled = h('input', { type: 'checkbox', checked: !ep.disabled });
  return card('Settings', null, form([
    ...fields.nodes,
    h('label.check', null, enabled, h('span', null, 'Enabled: deliver new messages to this endpoint')),
  ], 'Save settings', async () => {
    const v = fields.value();
    await ctx.api.patch(base, {
      url: v.url,
      description: v.description,
      filterTypes: v.filterTypes.length ? v.filterTypes : null,
      channels: v.channels.length ? v.channels : null,
      disabled: !enabled.checked,
    });
    notify('Settings saved.', 'success');
    again();
  }, { testid: 'settings-form' }));
}

function secretCard(ctx, base, ep) {
  const ed25519 = ep.signatureType === 'ed25519';
  const hidden = (ed25519 ? 'whsk_' : 'whsec_') + '••••••••••••••••';
  const shown = h('code.secret', { dataset: { testid: 'secret' } }, hidden);
  let revealed = false;
  const reveal = button('Reveal', async (btn) => {
    if (revealed) {
      fill(shown, hidden);
      btn.textContent = 'Reveal';
      revealed = false;
      return;
    }
    const s = await ctx.api.get(base + '/secret');
    fill(shown, s.key);
    btn.textContent = 'Hide';
    revealed = true;
  }, { small: true, testid: 'reveal-secret' });
  const rotate = confirmButton('Rotate', 'Make a new secret? The current one keeps signing for 24 hours.', async () => {
    await ctx.api.post(base + '/secret/rotate', {});
    notify('Secret rotated. Receivers accept both secrets for the next 24 hours: update them now.', 'success');
    if (revealed) fill(shown, (await ctx.api.get(base + '/secret')).key);
  }, { kind: '', small: true });
  const publicKey = h('code.secret', { dataset: { testid: 'public-key' } });
  if (ed25519) {
    ctx.api.get(base + '/public-key').then((k) => fill(publicKey, k.key), () => fill(publicKey, '—'));
  }
  return card('Signing secret', null,
    h('p.hint', null, ed25519
      ? 'An Ed25519 key: receivers verify each request’s webhook-signature header with its public key, which is not secret.'
      : 'Receivers verify each request’s webhook-signature header with this secret.'),
    h('div.row.secret-row', null, shown, reveal, rotate),
    ed25519 ? h('div.row.secret-row', null, publicKey) : null);
}

function headersCard(ctx, view, base) {
  const body = h('div', null, loading('Loading headers…'));
  async function load() {
    let data;
    try {
      data = await ctx.api.get(base + '/headers');
    } catch (err) {
      fill(body, errorBox(err, load));
      return;
    }
    if (!view.alive()) return;
    const original = [...Object.keys(data.headers), ...data.sensitive];
    const rows = h('div.header-rows');
    const addRow = (name = '', value = '', sensitive = false) => {
      const n = h('input.mono', { type: 'text', value: name, placeholder: 'X-Header-Name', 'aria-label': 'Header name' });
      const v = h('input.mono', { type: 'text', value, placeholder: sensitive ? 'hidden; type to replace' : 'value', 'aria-label': 'Header value' });
      const row = h('div.header-row', { dataset: { sensitive: sensitive ? 'true' : 'false', original: name } }, n, v,
        h('button.btn.small.ghost', { type: 'button', 'aria-label': 'Remove header', onclick: () => row.remove() }, '×'));
      row.read = () => ({ name: n.value.trim(), value: v.value, sensitive, originalName: name });
      rows.appendChild(row);
    };
    for (const [k, v] of Object.entries(data.headers)) addRow(k, v);
    for (const k of data.sensitive) addRow(k, '', true);
    fill(body,
      h('p.hint', null, 'Sent with every delivery. Values of Authorization, Cookie and X-Api-Key are never shown again once saved.'),
      rows.children.length ? null : h('p.muted.none-yet', null, 'No custom headers.'),
      rows,
      form([], 'Save headers', async () => {
        const current = [...rows.children].map((r) => r.read());
        const patch = {};
        for (const r of current) {
          if (!r.name) {
            if (r.value) throw new Error('Every header needs a name.');
            continue;
          }
          if (r.sensitive && r.value === '' && r.name === r.originalName) continue; // kept as is
          patch[r.name] = r.value;
        }
        const kept = new Set(current.filter((r) => r.name).map((r) => r.name.toLowerCase()));
        for (const name of original) {
          if (!kept.has(name.toLowerCase())) patch[name] = null;
        }
        await ctx.api.patch(base + '/headers', { headers: patch });
        notify('Headers saved.', 'success');
        load();
      }, { secondary: true, testid: 'headers-form' }));
    body.querySelector('.form-actions').prepend(h('button.btn', { type: 'button', dataset: { testid: 'add-header' }, onclick: () => {
      body.querySelector('.none-yet')?.remove();
      addRow();
    } }, 'Add header'));
  }
  load();
  return card('Custom headers', null, body);
}

function recoverCard(ctx, base) {
  const since = h('input', { type: 'datetime-local', required: true, value: localInputValue(new Date(Date.now() - 24 * 3600 * 1000)) });
  return card('Recover failed messages', null,
    h('p.hint', null, 'Retry every message that failed to reach this endpoint since a time, for example after fixing an outage.'),
    form([field('Failed since', since)], 'Recover', async () => {
      const when = new Date(since.value);
      if (Number.isNaN(when.getTime())) throw new Error('Pick the date and time to recover from.');
      await ctx.api.post(base + '/recover', { since: when.toISOString() });
      notify(`Recovery started: failed messages since ${when.toLocaleString()} are being retried.`, 'success');
    }, { testid: 'recover-form', secondary: true }));
}

function exampleCard(ctx, base, app) {
  const slot = h('div');
  allEventTypes(ctx).then((names) => {
    if (names.length === 0) return;
    const select = h('select', null, names.map((n) => h('option', { value: n }, n)));
    fill(slot, card('Send an example', null,
      h('p.hint', null, 'Deliver an example message of an event type to this endpoint only.'),
      form([field('Event type', select)], 'Send example', async () => {
        const msg = await ctx.api.post(base + '/send-example', { eventType: select.value });
        notify(`Example message ${msg.id} sent.`, 'success');
        go(route('app', app.id, 'msg', msg.id));
      }, { secondary: true })));
  }, (err) => fill(slot, errorBox(err)));
  return slot;
}

function attemptsCard(ctx, view, app, ep) {
  const body = h('div', null, loading('Loading attempts…'));
  const filter = h('select', { 'aria-label': 'Show attempts', onchange: () => load('') },
    h('option', { value: '' }, 'All attempts'),
    h('option', { value: '0' }, 'Succeeded'),
    h('option', { value: '2' }, 'Failed'),
    h('option', { value: '4' }, 'Cancelled'));
  let iterator = '';
  const attemptsPath = path`/app/${app.id}/attempt/endpoint/${ep.id}`;
  // Only the newest load draws (the filter changed while one was on its way).
  let loads = 0;
  async function load(it = iterator) {
    const mine = ++loads;
    iterator = it;
    fill(body, loading('Loading attempts…'));
    let page;
    try {
      page = await ctx.api.get(attemptsPath, { limit: 25, iterator, status: filter.value });
    } catch (err) {
      if (mine === loads) fill(body, errorBox(err, () => load()));
      return;
    }
    if (!view.alive() || mine !== loads) return;
    if (page.data.length === 0 && !iterator) {
      fill(body, empty(filter.value ? 'No attempts match.' : 'No delivery attempts yet.'));
      return;
    }
    fill(body, attemptsTable(app.id, page.data, { withMessage: true }), pager(page, iterator, load));
  }
  load();
  return card('Attempts', [filter, button('Refresh', () => load(''), { small: true })], body);
}

/** attemptsTable lists attempts: time, status, code, duration, response. */
export function attemptsTable(appId, attempts, { withMessage = false } = {}) {
  return table([
    { label: 'Time', cell: (a) => time(a.timestamp) },
    { label: 'Status', cell: (a) => badge(a.status) },
    { label: 'HTTP', cell: (a) => httpStatus(a.responseStatusCode) },
    { label: 'Duration', cell: (a) => duration(a.responseDurationMs) },
    { label: 'Trigger', cell: (a) => (a.triggerType === 1 ? tag('manual') : tag('scheduled')), class: 'hide-sm' },
    withMessage ? { label: 'Message', cell: (a) => messageLink(appId, a.msgId) } : null,
    { label: 'Response', cell: (a) => responseBody(a.response), class: 'grow' },
  ].filter(Boolean), attempts, { rowProps: (a) => ({ dataset: { attempt: a.id, status: String(a.status) } }) });
}

/** localInputValue formats d for a datetime-local input, in local time. */
function localInputValue(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
