// An application: its endpoints and their health, what is failing now, and
// its messages, filtered by the filters in the page's URL.

import {
  h, fill, link, code, time, badge, tag, card, pageHead, table, loading, empty, errorBox,
  notify, button, confirmButton, pager, field,
} from '../dom.js';
import { path } from '../api.js';
import { go } from '../router.js';
import {
  endpointFields, form, toggled, endpointLink, messageLink, resend, parseJSONObject, allEventTypes,
} from './common.js';
import { poller, dueSoon } from '../poll.js';
import { healthDot, failingSince, rate } from './health.js';

export async function renderApp(ctx, view, { app: appId }) {
  fill(view.main, loading());
  const app = await ctx.api.get(path`/app/${appId}`);
  if (!view.alive()) return;

  const endpoints = endpointsCard(ctx, view, app);
  const failing = failingCard(ctx, view, app);
  const messages = messagesCard(ctx, view, app);
  // One poller refreshes the page: often while a delivery is about to
  // change, less and less often otherwise.
  const poll = poller(view, async () => {
    const eps = await endpoints.load();
    const [a, b] = await Promise.all([failing.load(eps), messages.load()]);
    return a === true || b === true || a;
  });
  endpoints.changed = () => poll.now();
  failing.changed = () => poll.now();
  messages.changed = () => poll.now();

  const actions = [];
  const portalSlot = h('div');
  if (!ctx.portal) {
    actions.push(button('Portal link', async () => {
      const access = await ctx.api.post(path`/auth/app-portal-access/${app.id}`);
      fill(portalSlot, portalLinkBox(access.url, () => fill(portalSlot)));
    }, { title: "Create a link to this application's customer portal" }));
    actions.push(confirmButton('Delete', 'Delete this application, its endpoints and messages?', async () => {
      await ctx.api.delete(path`/app/${app.id}`);
      notify(`Application ${app.name} deleted.`, 'success');
      go('/apps');
    }));
  }
  actions.push(button('Refresh', () => poll.now(), { small: true, testid: 'refresh-app' }), poll.stamp);

  fill(view.main,
    pageHead({
      crumbs: ctx.portal ? [] : [link('Applications', '/apps'), h('span', null, app.name)],
      title: app.name,
      facts: [['ID', code(app.id)], app.uid ? ['UID', code(app.uid)] : null, ['Created', time(app.createdAt)]].filter(Boolean),
      actions,
    }),
    portalSlot,
    endpoints.el,
    failing.el,
    messages.el);
}

// endpointsCard lists the endpoints with their health. load() redraws it
// when something changed and returns the endpoints.
function endpointsCard(ctx, view, app) {
  const slot = h('div', null, loading('Loading endpoints…'));
  const card_ = { el: null, changed: () => {}, load };
  const addEndpoint = toggled('Add endpoint', (close) => {
    const fields = endpointFields(ctx);
    return form(fields.nodes, 'Create endpoint', async () => {
      const v = fields.value();
      const body = { url: v.url, description: v.description };
      if (v.filterTypes.length) body.filterTypes = v.filterTypes;
      if (v.channels.length) body.channels = v.channels;
      const ep = await ctx.api.post(path`/app/${app.id}/endpoint`, body);
      notify(`Endpoint ${ep.url} created.`, 'success');
      close();
      card_.changed();
    }, { cancel: close, testid: 'endpoint-form' });
  }, { testid: 'add-endpoint' });
  card_.el = card('Endpoints', addEndpoint.button, addEndpoint.slot, slot);
  let last = '';
  async function load() {
    let page, health;
    try {
      [page, health] = await Promise.all([
        ctx.api.get(path`/app/${app.id}/endpoint`, { limit: 250 }),
        ctx.api.get(path`/app/${app.id}/endpoint-health`).catch(() => ({ data: [] })),
      ]);
    } catch (err) {
      if (view.alive()) fill(slot, errorBox(err, () => card_.changed()));
      last = '';
      throw err;
    }
    const eps = page.data;
    const byId = new Map(health.data.map((x) => [x.endpointId, x]));
    const snapshot = JSON.stringify([eps, health.data]);
    if (!view.alive() || snapshot === last) return eps;
    last = snapshot;
    if (eps.length === 0) {
      fill(slot, empty('No endpoints yet. Add one to start receiving messages.'));
      return eps;
    }
    fill(slot, table([
      { label: 'Health', cell: (ep) => healthDot(byId.get(ep.id) || { health: ep.disabled ? 'disabled' : 'healthy' }) },
      { label: 'URL', cell: (ep) => endpointLink(app.id, ep), class: 'grow' },
      { label: 'Description', cell: (ep) => ep.description || h('span.muted', null, '—'), class: 'hide-sm' },
      { label: 'Event types', cell: (ep) => (ep.filterTypes && ep.filterTypes.length ? ep.filterTypes.map((t) => tag(t)) : h('span.muted', null, 'all')), class: 'hide-sm' },
      { label: 'Last 24 h', cell: (ep) => last24h(byId.get(ep.id)), class: 'hide-sm' },
      { label: 'Failing since', cell: (ep) => failingSince(byId.get(ep.id)) },
    ], eps, { rowProps: (ep) => ({ dataset: { endpoint: ep.id, health: (byId.get(ep.id) || {}).health || '' } }) }),
    page.done ? null : h('p.hint', null, `Showing the newest ${eps.length} endpoints.`));
    return eps;
  }
  return card_;
}

function last24h(hl) {
  if (!hl || !hl.attempts24h) return h('span.muted', null, 'no attempts');
  return h('span', { title: `${hl.failures24h} of ${hl.attempts24h} attempts failed` }, `${rate(hl.attempts24h, hl.failures24h)} of ${hl.attempts24h}`);
}

// failingCard shows the deliveries that are failing now, retrying or out of
// retries (GET /app/{app}/failing, one request), grouped by endpoint, with
// Resend per row and Recover and bulk replay (a dry run first) per
// endpoint. load(eps) returns whether an attempt is due within a minute.
function failingCard(ctx, view, app) {
  const slot = h('div', { dataset: { testid: 'failing' } }, loading('Looking for failing deliveries…'));
  const card_ = {
    el: card('Failing now', null,
      h('p.hint', null, 'Deliveries that are retrying or ran out of retries, by endpoint. Resend one, or recover or replay an endpoint’s failures once it works again.'),
      slot),
    changed: () => {},
    load,
  };
  let last = '';
  async function load(eps) {
    let page;
    try {
      page = await ctx.api.get(path`/app/${app.id}/failing`, { limit: 50 });
    } catch (err) {
      if (view.alive()) fill(slot, errorBox(err, () => card_.changed()));
      last = '';
      return false;
    }
    const byId = new Map(eps.map((ep) => [ep.id, ep]));
    const groups = new Map();
    for (const m of page.data) {
      if (!groups.has(m.endpointId)) groups.set(m.endpointId, { ep: byId.get(m.endpointId) || { id: m.endpointId }, rows: [], more: !page.done });
      groups.get(m.endpointId).rows.push(m);
    }
    const retries = page.data.filter((m) => m.status === 3 && m.nextAttempt);
    // True when a retry is due within a minute, else when the next one is due.
    const soon = retries.some((m) => dueSoon(m.nextAttempt)) ||
      (retries.length ? Math.min(...retries.map((m) => new Date(m.nextAttempt).getTime())) : false);
    const snapshot = JSON.stringify([page, eps.map((ep) => [ep.id, ep.url])]);
    if (!view.alive() || snapshot === last) return soon;
    last = snapshot;
    if (groups.size === 0) {
      fill(slot, empty('Nothing is failing.'));
      return soon;
    }
    fill(slot, [...groups.values()].map((g) => failingGroup(ctx, app, g, () => card_.changed())));
    return soon;
  }
  return card_;
}

function failingGroup(ctx, app, { ep, rows, more }, changed) {
  const base = path`/app/${app.id}/endpoint/${ep.id}`;
  const oldest = rows.reduce((t, m) => (m.timestamp < t ? m.timestamp : t), rows[0].timestamp);
  // Replays and recoveries start a little before the oldest failure shown.
  const since = new Date(new Date(oldest).getTime() - 1000).toISOString();
  const replaySlot = h('span.replay');
  const idleReplay = () => fill(replaySlot, button('Bulk replay…', async () => {
    const p = await ctx.api.post(base + '/bulk-replay', { since, status: 2 }, { dryRun: true });
    if (!p.count) {
      fill(replaySlot, h('span.muted', { dataset: { testid: 'replay-count' } }, 'Nothing to replay.'), h('button.btn.small.ghost', { type: 'button', onclick: idleReplay }, 'OK'));
      return;
    }
    fill(replaySlot,
      h('span.question', { dataset: { testid: 'replay-count' } }, `Send ${p.count} failed message${p.count === 1 ? '' : 's'} again?`),
      button(`Replay ${p.count}`, async () => {
        await ctx.api.post(base + '/bulk-replay', { since, status: 2 });
        notify(`Replaying ${p.count} messages to ${ep.url}.`, 'success');
        idleReplay();
        changed();
      }, { small: true, kind: 'primary', testid: 'replay-confirm' }),
      h('button.btn.small.ghost', { type: 'button', onclick: idleReplay }, 'Cancel'));
  }, { small: true, testid: 'replay-dry-run', title: 'Count what would be sent again, before sending anything' }));
  idleReplay();
  const failed = rows.filter((m) => m.status === 2).length;
  return h('div.failing-group', { dataset: { endpoint: ep.id } },
    h('div.failing-head', null,
      h('div.delivery-title', null, endpointLink(app.id, ep),
        h('span.muted', null, `${rows.length - failed} retrying, ${failed} out of retries${more ? ' (the newest shown)' : ''}`)),
      h('div.actions', null,
        button('Recover', async () => {
          await ctx.api.post(base + '/recover', { since });
          notify(`Recovery started: ${ep.url}’s failed messages since ${new Date(since).toLocaleString()} are being retried.`, 'success');
          changed();
        }, { small: true, testid: 'recover', title: 'Retry every failed message since the oldest one shown' }),
        replaySlot)),
    table([
      { label: 'Published', cell: (m) => time(m.timestamp) },
      { label: 'Event type', cell: (m) => m.eventType },
      { label: 'Message', cell: (m) => messageLink(app.id, m.id), class: 'grow' },
      { label: 'Status', cell: (m) => badge(m.status) },
      { label: 'Next attempt', cell: (m) => (m.status === 3 && m.nextAttempt ? time(m.nextAttempt) : h('span.muted', null, '—')), class: 'hide-sm' },
      { label: '', cell: (m) => button('Resend', async () => {
        await resend(ctx, app.id, m.id, ep.id);
        notify('Resend queued. Open the message to follow the attempt.', 'success');
        changed();
      }, { small: true }) },
    ], rows, { rowProps: (m) => ({ dataset: { msg: m.id, endpoint: ep.id, status: String(m.status) } }) }));
}

function portalLinkBox(url, close) {
  const input = h('input.mono', { type: 'text', readOnly: true, value: url, 'aria-label': 'Portal link' });
  return h('div.notice.info.portal-link', null,
    h('p', null, "Send this link to the application's owner. It opens the customer portal for this application only, until it expires (7 days by default) or its holder signs out. Anyone with the link has access, so share it privately."),
    h('div.row', null, input,
      button('Copy', async () => {
        input.select();
        await navigator.clipboard.writeText(url);
        notify('Link copied.', 'success');
      }, { small: true }),
      h('button.btn.small.ghost', { type: 'button', onclick: close }, 'Close')));
}

// The message filters, as named in the page's URL and in the API's query.
const filterNames = ['status', 'event_types', 'event_id', 'channel', 'tag', 'after', 'before'];

/** readFilters reads the message filters from the page's URL (#/app/x?status=2). */
function readFilters() {
  const q = location.hash.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : location.hash.slice(q + 1));
  const f = {};
  for (const n of filterNames) if (params.get(n)) f[n] = params.get(n);
  return f;
}

/** writeFilters puts the filters in the page's URL, without reloading it. */
function writeFilters(f) {
  const base = location.hash.split('?')[0] || '#/';
  const params = new URLSearchParams();
  for (const n of filterNames) if (f[n]) params.set(n, f[n]);
  const qs = params.toString();
  history.replaceState(null, '', location.pathname + location.search + base + (qs ? '?' + qs : ''));
}

function messagesCard(ctx, view, app) {
  const body = h('div', { dataset: { testid: 'messages' } }, loading('Loading messages…'));
  const card_ = { el: null, changed: () => {}, load };
  let iterator = '';
  let last = '';
  let filters = readFilters();
  const filterForm = messageFilters(ctx, filters, (f) => {
    filters = f;
    writeFilters(f);
    iterator = '';
    last = '';
    fill(body, loading('Loading messages…'));
    card_.changed();
  });
  async function load() {
    let page;
    try {
      page = await ctx.api.get(path`/app/${app.id}/msg`, { limit: 20, iterator, with_content: false, ...filters });
    } catch (err) {
      if (view.alive()) fill(body, errorBox(err, () => card_.changed()));
      last = '';
      return false;
    }
    const soon = page.data.some((m) => m.status === 1);
    const snapshot = JSON.stringify(page);
    if (!view.alive() || snapshot === last) return soon;
    last = snapshot;
    const filtered = Object.keys(filters).length > 0;
    if (page.data.length === 0 && !iterator) {
      fill(body, filtered
        ? empty('No message matches these filters.')
        : empty('No messages yet.', ctx.portal ? null : h('p.hint', null, 'Publish one with POST /api/v1/app/{app_id}/msg, or with the test form above.')));
      return soon;
    }
    fill(body, table([
      { label: 'Published', cell: (m) => time(m.timestamp) },
      { label: 'Status', cell: (m) => (m.status === null || m.status === undefined ? h('span.muted', { title: 'It matched no endpoint' }, 'not sent') : badge(m.status, countsText(m.statusCounts))) },
      { label: 'Event type', cell: (m) => m.eventType },
      { label: 'Message', cell: (m) => messageLink(app.id, m.id), class: 'grow' },
      { label: 'Event ID', cell: (m) => (m.eventId ? code(m.eventId) : h('span.muted', null, '—')), class: 'hide-sm' },
      { label: 'Channels', cell: (m) => (m.channels && m.channels.length ? m.channels.map((c) => tag(c)) : h('span.muted', null, '—')), class: 'hide-sm' },
    ], page.data, { rowProps: (m) => ({ dataset: { msg: m.id, status: m.status === null ? '' : String(m.status) } }) }),
    pager(page, iterator, (it) => {
      iterator = it;
      last = '';
      card_.changed();
    }));
    return soon;
  }
  const actions = [button('Refresh', () => card_.changed(), { small: true, testid: 'refresh-messages' })];
  let publish = null;
  if (!ctx.portal) {
    publish = toggled('Publish test message', (close) => publishForm(ctx, app, () => { close(); iterator = ''; card_.changed(); }, close));
    actions.unshift(publish.button);
    publish.button.className = 'btn small';
  }
  card_.el = card('Messages', actions, publish ? publish.slot : null, filterForm, body);
  return card_;
}

// countsText says how a message's deliveries stand, for a status's title.
function countsText(c) {
  if (!c) return null;
  const parts = [['success', 'succeeded'], ['pending', 'pending'], ['sending', 'retrying'], ['fail', 'failed'], ['canceled', 'cancelled']]
    .filter(([k]) => c[k] > 0).map(([k, label]) => `${c[k]} ${label}`);
  return parts.length ? `Deliveries: ${parts.join(', ')}` : null;
}

// messageFilters is the form that filters the message list; apply(f) gets
// the filters set, by their API names.
function messageFilters(ctx, f, apply) {
  const status = h('select', { name: 'status', 'aria-label': 'Status' },
    h('option', { value: '' }, 'Any status'),
    [['0', 'Succeeded'], ['1', 'Pending'], ['3', 'Retrying'], ['2', 'Failed'], ['4', 'Cancelled']].map(([v, label]) =>
      h('option', { value: v, selected: f.status === v }, label)));
  const list = h('datalist', { id: 'filter-event-types' });
  allEventTypes(ctx).then((names) => fill(list, names.map((n) => h('option', { value: n }))), () => {});
  const eventType = h('input.mono', { type: 'text', name: 'event_types', list: 'filter-event-types', placeholder: 'invoice.paid', value: f.event_types || '' });
  const eventId = h('input.mono', { type: 'text', name: 'event_id', placeholder: 'order-1234', value: f.event_id || '' });
  const channel = h('input', { type: 'text', name: 'channel', placeholder: 'eu', value: f.channel || '' });
  const tagIn = h('input', { type: 'text', name: 'tag', placeholder: 'vip', value: f.tag || '' });
  const after = h('input', { type: 'datetime-local', name: 'after', value: f.after ? localInputValue(new Date(f.after)) : '' });
  const before = h('input', { type: 'datetime-local', name: 'before', value: f.before ? localInputValue(new Date(f.before)) : '' });
  const iso = (input) => {
    if (!input.value) return '';
    const d = new Date(input.value);
    return Number.isNaN(d.getTime()) ? '' : d.toISOString();
  };
  const read = () => {
    const out = {
      status: status.value, event_types: eventType.value.trim(), event_id: eventId.value.trim(),
      channel: channel.value.trim(), tag: tagIn.value.trim(), after: iso(after), before: iso(before),
    };
    for (const k of Object.keys(out)) if (!out[k]) delete out[k];
    return out;
  };
  const el = h('form.filters', { dataset: { testid: 'message-filters' }, onsubmit: (ev) => {
    ev.preventDefault();
    apply(read());
  } },
  field('Status', status),
  field('Event type', eventType), list,
  field('Event ID starts with', eventId),
  field('Channel', channel),
  field('Tag', tagIn),
  field('Published after', after),
  field('Published before', before),
  h('div.filter-actions', null,
    h('button.btn.small.primary', { type: 'submit' }, 'Filter'),
    h('button.btn.small.ghost', { type: 'button', onclick: () => {
      for (const i of [eventType, eventId, channel, tagIn, after, before]) i.value = '';
      status.value = '';
      apply({});
    } }, 'Clear')));
  status.addEventListener('change', () => apply(read()));
  return el;
}

/** localInputValue formats d for a datetime-local input, in local time. */
function localInputValue(d) {
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function publishForm(ctx, app, done, cancel) {
  const list = h('datalist', { id: 'event-type-names' });
  allEventTypes(ctx).then((names) => fill(list, names.map((n) => h('option', { value: n }))), () => {});
  const eventType = h('input', { type: 'text', required: true, list: 'event-type-names', placeholder: 'user.signup', value: 'test.event' });
  const payload = h('textarea.mono', { rows: 6, spellcheck: 'false' });
  payload.value = JSON.stringify({ hello: 'world', sentAt: new Date().toISOString() }, null, 2);
  return form([
    h('div.form-grid', null, field('Event type', eventType), list),
    field('Payload (JSON object)', payload),
  ], 'Publish', async () => {
    const body = { eventType: eventType.value.trim(), payload: parseJSONObject(payload.value) };
    const msg = await ctx.api.post(path`/app/${app.id}/msg`, body);
    notify(`Message ${msg.id} published.`, 'success');
    done();
  }, { cancel });
}
