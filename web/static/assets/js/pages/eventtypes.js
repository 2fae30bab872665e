// Event types: list, create, archive and unarchive. Console only.

import { h, fill, code, time, tag, card, pageHead, table, loading, empty, errorBox, notify, pager, field, button, confirmButton } from '../dom.js';
import { path } from '../api.js';
import { form, toggled } from './common.js';

export async function renderEventTypes(ctx, view) {
  const body = h('div', null, loading('Loading event types…'));
  const archived = h('input', { type: 'checkbox', onchange: () => load('') });
  let iterator = '';

  const create = toggled('New event type', (close) => {
    const name = h('input.mono', { type: 'text', required: true, placeholder: 'invoice.paid', autocomplete: 'off' });
    const description = h('input', { type: 'text', required: true, placeholder: 'An invoice was paid' });
    return form([h('div.form-grid', null, field('Name', name, 'Letters, digits, ".", "-" and "_".'), field('Description', description))],
      'Create event type', async () => {
        const et = await ctx.api.post('/event-type', { name: name.value.trim(), description: description.value });
        notify(`Event type ${et.name} created.`, 'success');
        ctx.eventTypeCache = null;
        close();
        load('');
      }, { cancel: close, testid: 'event-type-form' });
  }, { testid: 'new-event-type' });

  fill(view.main,
    pageHead({ title: 'Event types', actions: [create.button] }),
    h('p.lead', null, 'The kinds of messages you publish. Endpoints can subscribe to some of them; archived ones are hidden from new subscriptions but still delivered.'),
    create.slot,
    card(null, null, h('div.toolbar', null, h('label.check', null, archived, h('span', null, 'Show archived'))), body));

  // Only the newest load draws: an older one answering late (a reload after
  // archiving, then "Show archived") must not overwrite it.
  let loads = 0;
  async function load(it = iterator) {
    const mine = ++loads;
    iterator = it;
    fill(body, loading('Loading event types…'));
    let page;
    try {
      page = await ctx.api.get('/event-type', { limit: 50, iterator, include_archived: archived.checked || '' });
    } catch (err) {
      if (view.alive() && mine === loads) fill(body, errorBox(err, () => load()));
      return;
    }
    if (!view.alive() || mine !== loads) return;
    if (page.data.length === 0 && !iterator) {
      fill(body, empty('No event types yet. Without any, endpoints receive every message.'));
      return;
    }
    const change = (et, archive) => async () => {
      if (archive) await ctx.api.delete(path`/event-type/${et.name}`);
      else await ctx.api.patch(path`/event-type/${et.name}`, { archived: false });
      ctx.eventTypeCache = null;
      notify(`Event type ${et.name} ${archive ? 'archived' : 'restored'}.`, 'success');
      load();
    };
    fill(body, table([
      { label: 'Name', cell: (et) => code(et.name) },
      { label: 'Description', cell: (et) => et.description || h('span.muted', null, '—'), class: 'grow' },
      { label: 'State', cell: (et) => (et.archived ? tag('archived', 'off') : et.deprecated ? tag('deprecated', 'warn') : tag('active', 'on')) },
      { label: 'Created', cell: (et) => time(et.createdAt), class: 'hide-sm' },
      { label: '', cell: (et) => (et.archived
        ? button('Unarchive', change(et, false), { small: true })
        : confirmButton('Archive', 'Archive?', change(et, true), { small: true, kind: '' })) },
    ], page.data, { rowProps: (et) => ({ dataset: { eventType: et.name } }) }),
    pager(page, iterator, load, { newer: 'Previous', older: 'Next' }));
  }
  await load();
}
