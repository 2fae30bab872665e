// Applications: list (newest first, paged), search, create. Console only.

import { h, fill, link, route, code, time, card, pageHead, table, loading, empty, errorBox, notify, pager, field } from '../dom.js';
import { ApiError, path } from '../api.js';
import { go } from '../router.js';
import { form, toggled } from './common.js';

export async function renderApps(ctx, view) {
  const body = h('div', null, loading('Loading applications…'));
  const search = h('input', { type: 'search', placeholder: 'Filter by name or uid, or enter an exact id', 'aria-label': 'Search applications', autocomplete: 'off' });
  const searchForm = h('form.search', { onsubmit: (ev) => { ev.preventDefault(); lookup(); } },
    search, h('button.btn', { type: 'submit' }, 'Open'));
  const searchStatus = h('div', { 'aria-live': 'polite' });
  let page = null;
  let iterator = '';

  const create = toggled('New application', (close) => {
    const name = h('input', { type: 'text', required: true, placeholder: 'Acme Inc.', autocomplete: 'off' });
    const uid = h('input', { type: 'text', placeholder: 'acme (optional)', autocomplete: 'off' });
    return form([h('div.form-grid', null, field('Name', name), field('UID', uid, 'Your own identifier, usable instead of the id.'))],
      'Create application', async () => {
        const body = { name: name.value.trim() };
        if (uid.value.trim()) body.uid = uid.value.trim();
        const app = await ctx.api.post('/app', body);
        notify(`Application ${app.name} created.`, 'success');
        go(route('app', app.id));
      }, { cancel: close, testid: 'app-form' });
  }, { testid: 'new-app' });

  search.addEventListener('input', () => { fill(searchStatus); draw(); });

  fill(view.main,
    pageHead({ title: 'Applications', actions: [create.button] }),
    create.slot,
    card(null, null, h('div.toolbar', null, searchForm), searchStatus, body));

  // lookup opens the application whose id or uid is exactly the search text.
  async function lookup() {
    const q = search.value.trim();
    if (!q) return;
    fill(searchStatus, loading(`Looking up ${q}…`));
    try {
      const app = await ctx.api.get(path`/app/${q}`);
      go(route('app', app.id));
    } catch (err) {
      if (!view.alive()) return;
      const text = err instanceof ApiError && err.status === 404
        ? `No application has the id or uid “${q}”. The filter only searches the page shown.`
        : err;
      fill(searchStatus, errorBox(text));
    }
  }

  function draw() {
    if (!page) return;
    const q = search.value.trim().toLowerCase();
    const rows = q
      ? page.data.filter((a) => a.name.toLowerCase().includes(q) || (a.uid || '').toLowerCase().includes(q) || a.id.toLowerCase() === q)
      : page.data;
    if (page.data.length === 0 && !iterator) {
      fill(body, empty('No applications yet. An application holds the endpoints of one of your customers.'));
      return;
    }
    fill(body,
      rows.length
        ? table([
          { label: 'Name', cell: (a) => link(a.name, route('app', a.id)), class: 'grow' },
          { label: 'UID', cell: (a) => (a.uid ? code(a.uid) : h('span.muted', null, '—')) },
          { label: 'ID', cell: (a) => code(a.id), class: 'hide-sm' },
          { label: 'Created', cell: (a) => time(a.createdAt), class: 'hide-sm' },
        ], rows, { rowProps: (a) => ({ dataset: { app: a.id } }) })
        : empty(`No application on this page matches “${search.value.trim()}”. Press Open to look it up by exact id or uid.`),
      pager(page, iterator, load));
  }

  // Only the newest load draws (paging twice quickly).
  let loads = 0;
  async function load(it = iterator) {
    const mine = ++loads;
    iterator = it;
    fill(body, loading('Loading applications…'));
    let got;
    try {
      got = await ctx.api.get('/app', { limit: 25, order: 'descending', iterator });
    } catch (err) {
      if (view.alive() && mine === loads) fill(body, errorBox(err, () => load()));
      return;
    }
    if (!view.alive() || mine !== loads) return;
    page = got;
    draw();
  }
  await load();
}
