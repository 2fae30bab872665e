// An application: its endpoints, failed deliveries and recent messages.

import {
  h, fill, link, code, time, badge, tag, card, pageHead, table, loading, empty, errorBox,
  notify, button, confirmButton, pager, field,
} from '../dom.js';
import { path } from '../api.js';
import { go } from '../router.js';
import {
  endpointFields, form, toggled, endpointLink, messageLink, resend, parseJSONObject, allEventTypes,
} from './common.js';

export async function renderApp(ctx, view, { app: appId }) {
  fill(view.main, loading());
  const app = await ctx.api.get(path`/app/${appId}`);
  if (!view.alive()) return;

  const endpointsSlot = h('div', null, loading('Loading endpoints…'));
  const failuresSlot = h('div', null, loading('Looking for failed deliveries…'));
  const messages = messagesCard(ctx, view, app);
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
      loadEndpoints();
    }, { cancel: close, testid: 'endpoint-form' });
  }, { testid: 'add-endpoint' });

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

  fill(view.main,
    pageHead({
      crumbs: ctx.portal ? [] : [link('Applications', '/apps'), h('span', null, app.name)],
      title: app.name,
      facts: [['ID', code(app.id)], app.uid ? ['UID', code(app.uid)] : null, ['Created', time(app.createdAt)]].filter(Boolean),
      actions,
    }),
    portalSlot,
    card('Endpoints', addEndpoint.button, addEndpoint.slot, endpointsSlot),
    card('Failed deliveries', button('Refresh', () => loadEndpoints(), { small: true }),
      h('p.hint', null, 'Messages that ran out of retries. Resend one here, or recover an endpoint to retry all of them.'),
      failuresSlot),
    messages.el);

  async function loadEndpoints() {
    fill(endpointsSlot, loading('Loading endpoints…'));
    let page;
    try {
      page = await ctx.api.get(path`/app/${app.id}/endpoint`, { limit: 250 });
    } catch (err) {
      fill(endpointsSlot, errorBox(err, loadEndpoints));
      fill(failuresSlot, errorBox(err, loadEndpoints));
      return;
    }
    if (!view.alive()) return;
    const eps = page.data;
    if (eps.length === 0) {
      fill(endpointsSlot, empty('No endpoints yet. Add one to start receiving messages.'));
    } else {
      fill(endpointsSlot, table([
        { label: 'URL', cell: (ep) => endpointLink(app.id, ep), class: 'grow' },
        { label: 'Description', cell: (ep) => ep.description || h('span.muted', null, '—'), class: 'hide-sm' },
        { label: 'Event types', cell: (ep) => (ep.filterTypes && ep.filterTypes.length ? ep.filterTypes.map((t) => tag(t)) : h('span.muted', null, 'all')), class: 'hide-sm' },
        { label: 'State', cell: (ep) => (ep.disabled ? tag('disabled', 'off') : tag('enabled', 'on')) },
      ], eps, { rowProps: (ep) => ({ dataset: { endpoint: ep.id } }) }),
      page.done ? null : h('p.hint', null, `Showing the newest ${eps.length} endpoints; failed deliveries are looked up for these only.`));
    }
    loadFailures(eps);
  }

  async function loadFailures(eps) {
    fill(failuresSlot, loading('Looking for failed deliveries…'));
    let rows;
    try {
      const pages = await Promise.all(eps.map((ep) =>
        ctx.api.get(path`/app/${app.id}/endpoint/${ep.id}/msg`, { status: 2, limit: 20, with_content: false })
          .then((p) => p.data.map((m) => ({ msg: m, ep })))));
      rows = pages.flat().sort((a, b) => b.msg.timestamp.localeCompare(a.msg.timestamp));
    } catch (err) {
      fill(failuresSlot, errorBox(err, () => loadFailures(eps)));
      return;
    }
    if (!view.alive()) return;
    if (rows.length === 0) {
      fill(failuresSlot, empty('No failed deliveries.'));
      return;
    }
    fill(failuresSlot, table([
      { label: 'Published', cell: (r) => time(r.msg.timestamp) },
      { label: 'Event type', cell: (r) => r.msg.eventType },
      { label: 'Message', cell: (r) => messageLink(app.id, r.msg.id) },
      { label: 'Endpoint', cell: (r) => endpointLink(app.id, r.ep), class: 'grow' },
      { label: 'Status', cell: (r) => badge(r.msg.status) },
      { label: '', cell: (r) => button('Resend', async () => {
        await resend(ctx, app.id, r.msg.id, r.ep.id);
        notify('Resend queued. Open the message to follow the attempt.', 'success');
      }, { small: true }) },
    ], rows, { rowProps: (r) => ({ dataset: { msg: r.msg.id, endpoint: r.ep.id } }) }));
  }

  loadEndpoints();
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

function messagesCard(ctx, view, app) {
  const body = h('div', null, loading('Loading messages…'));
  let iterator = '';
  async function load(it = iterator) {
    iterator = it;
    fill(body, loading('Loading messages…'));
    let page;
    try {
      page = await ctx.api.get(path`/app/${app.id}/msg`, { limit: 20, iterator, with_content: false });
    } catch (err) {
      fill(body, errorBox(err, () => load()));
      return;
    }
    if (!view.alive()) return;
    if (page.data.length === 0 && !iterator) {
      fill(body, empty('No messages yet.', ctx.portal ? null : h('p.hint', null, 'Publish one with POST /api/v1/app/{app_id}/msg, or with the test form above.')));
      return;
    }
    fill(body, table([
      { label: 'Published', cell: (m) => time(m.timestamp) },
      { label: 'Event type', cell: (m) => m.eventType },
      { label: 'Message', cell: (m) => messageLink(app.id, m.id), class: 'grow' },
      { label: 'Event ID', cell: (m) => (m.eventId ? code(m.eventId) : h('span.muted', null, '—')), class: 'hide-sm' },
      { label: 'Channels', cell: (m) => (m.channels && m.channels.length ? m.channels.map((c) => tag(c)) : h('span.muted', null, '—')), class: 'hide-sm' },
    ], page.data, { rowProps: (m) => ({ dataset: { msg: m.id } }) }),
    pager(page, iterator, load));
  }
  const actions = [button('Refresh', () => load(''), { small: true, testid: 'refresh-messages' })];
  let publish = null;
  if (!ctx.portal) {
    publish = toggled('Publish test message', (close) => publishForm(ctx, app, () => { close(); load(''); }, close));
    actions.unshift(publish.button);
    publish.button.className = 'btn small';
  }
  load();
  return { el: card('Recent messages', actions, publish ? publish.slot : null, body) };
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
