// A message: its payload, and per endpoint the delivery and every attempt.

import {
  h, fill, link, route, code, time, badge, tag, card, pageHead, loading, empty, errorBox,
  notify, button, pretty, statusText,
} from '../dom.js';
import { path } from '../api.js';
import { endpointLink, resend } from './common.js';
import { attemptsTable } from './endpoint.js';
import { poller, dueSoon } from '../poll.js';

// How long the page waits for the attempt of a resend to show up.
const resendWait = 120_000;

export async function renderMessage(ctx, view, params) {
  fill(view.main, loading());
  const [app, msg] = await Promise.all([
    ctx.api.get(path`/app/${params.app}`),
    ctx.api.get(path`/app/${params.app}/msg/${params.msg}`),
  ]);
  if (!view.alive()) return;

  const deliveries = h('div.deliveries', null, loading('Loading deliveries…'));
  const state = { waitingUntil: 0, attemptsBefore: new Map(), last: '' };
  const poll = poller(view, load);

  fill(view.main,
    pageHead({
      crumbs: [ctx.portal ? null : link('Applications', '/apps'), link(app.name, route('app', app.id)), h('span', null, 'Message')].filter(Boolean),
      title: msg.eventType,
      facts: [
        ['ID', code(msg.id)],
        msg.eventId ? ['Event ID', code(msg.eventId)] : null,
        ['Published', time(msg.timestamp)],
        msg.channels && msg.channels.length ? ['Channels', msg.channels.map((c) => tag(c))] : null,
        msg.tags && msg.tags.length ? ['Tags', msg.tags.map((c) => tag(c))] : null,
      ].filter(Boolean),
    }),
    card('Payload', null, h('pre.payload', { dataset: { testid: 'payload' } }, pretty(msg.payload))),
    card('Deliveries', [button('Refresh', () => poll.now(), { small: true, testid: 'refresh-deliveries' }), poll.stamp],
      h('p.hint', null, 'One row per endpoint the message was sent to, with every attempt, newest first.'),
      deliveries));

  // load reads the deliveries and attempts, redraws on change, and says
  // whether something is about to change (a delivery waiting for its first
  // attempt, a retry due within a minute, a resend on its way), or else
  // when the next retry is due.
  async function load() {
    let eps, attempts;
    try {
      [eps, attempts] = await Promise.all([
        ctx.api.get(path`/app/${app.id}/msg/${msg.id}/endpoint`, { limit: 250 }),
        ctx.api.get(path`/app/${app.id}/attempt/msg/${msg.id}`, { limit: 250 }),
      ]);
    } catch (err) {
      if (view.alive()) fill(deliveries, errorBox(err, () => poll.now()));
      throw err;
    }
    if (!view.alive()) return false;
    const byEndpoint = new Map();
    for (const a of attempts.data) {
      if (!byEndpoint.has(a.endpointId)) byEndpoint.set(a.endpointId, []);
      byEndpoint.get(a.endpointId).push(a);
    }
    // Redraw only on change, so open details and scroll positions survive polling.
    const snapshot = JSON.stringify([eps.data.map((e) => [e.id, e.status, e.nextAttempt, e.reason]), attempts.data.map((a) => a.id)]);
    const changed = snapshot !== state.last;
    if (changed) {
      state.last = snapshot;
      draw(eps.data, byEndpoint);
    }
    const soon = eps.data.some((e) => e.status === 1 || (e.status === 3 && dueSoon(e.nextAttempt)));
    const waiting = Date.now() < state.waitingUntil &&
      [...state.attemptsBefore].some(([id, n]) => (byEndpoint.get(id) || []).length <= n);
    // The two lists are read at once, not in one snapshot: an attempt
    // recorded between the reads shows a delivery's new status beside its
    // old attempts (or the reverse). After any change, read once more soon,
    // until two reads agree.
    if (soon || waiting || changed) return true;
    // Else wake up just after the next retry is due, if it is before the back-off would.
    const due = eps.data.filter((e) => e.status === 3 && e.nextAttempt).map((e) => new Date(e.nextAttempt).getTime());
    return due.length ? Math.min(...due) : false;
  }

  function draw(eps, byEndpoint) {
    if (eps.length === 0) {
      fill(deliveries, empty('This message matched no endpoint, so it was not sent anywhere.'));
      return;
    }
    fill(deliveries, eps.map((ep) => {
      const attempts = byEndpoint.get(ep.id) || [];
      return h('div.delivery', { dataset: { endpoint: ep.id, status: statusText(ep.status) } },
        h('div.delivery-head', null,
          h('div.delivery-title', null, badge(ep.status), endpointLink(app.id, ep)),
          h('div.delivery-meta', null,
            ep.status === 3 && ep.nextAttempt ? h('span.muted', null, 'next attempt ', time(ep.nextAttempt)) : null,
            ep.reason ? h('span.reason', { dataset: { testid: 'reason' } }, ep.reason) : null,
            h('span.muted', null, `${attempts.length} attempt${attempts.length === 1 ? '' : 's'}`),
            button('Resend', async () => {
              await resend(ctx, app.id, msg.id, ep.id);
              notify(`Resend to ${ep.url} queued.`, 'success');
              state.attemptsBefore.set(ep.id, attempts.length);
              state.waitingUntil = Date.now() + resendWait;
              poll.now();
            }, { small: true, testid: 'resend' }))),
        attempts.length ? attemptsTable(app.id, attempts) : h('p.muted.no-attempts', null, 'No attempt yet.'));
    }));
  }
}
