// The admin console: sign in with an API key, then applications, their
// endpoints and messages, and event types.
//
// The key is kept in sessionStorage: it lasts as long as the tab and is
// never written to disk by the page or sent anywhere but the API's
// Authorization header.

import { h, field, messageOf } from './dom.js';
import { Client, ApiError } from './api.js';
import { mountShell, mountBare } from './shell.js';
import { startRouter } from './router.js';
import { renderApps } from './pages/apps.js';
import { renderApp } from './pages/app.js';
import { renderEndpoint } from './pages/endpoint.js';
import { renderMessage } from './pages/message.js';
import { renderEventTypes } from './pages/eventtypes.js';
import { renderCatalog } from './pages/catalog.js';

const keyName = 'hookd.console.apiKey';
let router = null;

function signOut(reason) {
  sessionStorage.removeItem(keyName);
  if (router) router.stop();
  router = null;
  showSignIn(reason);
}

function start(key) {
  let refused = false;
  const ctx = {
    portal: false,
    api: new Client(key, {
      onUnauthorized: () => {
        if (refused) return;
        refused = true;
        signOut('The API key was refused: it may have been revoked. Sign in again.');
      },
    }),
  };
  const shell = mountShell({
    label: 'Console',
    nav: [
      { label: 'Applications', route: '/apps', active: (p) => p === '/' || p.startsWith('/app') },
      { label: 'Event types', route: '/event-types', active: (p) => p.startsWith('/event-types') },
      { label: 'Catalog', route: '/catalog', active: (p) => p === '/catalog' },
    ],
    signOut: () => signOut('You are signed out.'),
  });
  router = startRouter([
    ['/', (view) => renderApps(ctx, view)],
    ['/apps', (view) => renderApps(ctx, view)],
    ['/event-types', (view) => renderEventTypes(ctx, view)],
    ['/catalog', (view) => renderCatalog(ctx, view)],
    ['/app/:app', (view, p) => renderApp(ctx, view, p)],
    ['/app/:app/endpoint/:endpoint', (view, p) => renderEndpoint(ctx, view, p)],
    ['/app/:app/msg/:msg', (view, p) => renderMessage(ctx, view, p)],
  ], shell.main, { onRoute: shell.setActive });
}

function showSignIn(notice) {
  const key = h('input', { type: 'password', name: 'key', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'API key' });
  const status = h('div.form-status', { 'aria-live': 'polite' });
  const submit = h('button.btn.primary.wide', { type: 'submit' }, 'Sign in');
  const form = h('form.form', { dataset: { testid: 'sign-in' }, onsubmit: async (ev) => {
    ev.preventDefault();
    const token = key.value.trim();
    submit.disabled = true;
    status.replaceChildren();
    try {
      // Any cheap organisation-level call proves the key.
      await new Client(token).get('/app', { limit: 1 });
      sessionStorage.setItem(keyName, token);
      start(token);
    } catch (err) {
      let text = messageOf(err);
      if (err instanceof ApiError && err.status === 401) text = `That API key was refused. ${text}`;
      if (err instanceof ApiError && err.status === 403) text = 'This is an app-portal token: open the portal link it came with instead.';
      status.replaceChildren(h('div.notice.error', { role: 'alert' }, text));
      submit.disabled = false;
    }
  } },
  field('API key', key, 'HOOKD_ADMIN_API_KEY, or a key from “hookd keys create”. It is kept in this tab only and forgotten when the tab closes.'),
  status, submit);
  mountBare('Console',
    h('h1', null, 'Sign in'),
    notice ? h('div.notice.info', { role: 'status' }, notice) : null,
    form);
  key.focus();
}

const saved = sessionStorage.getItem(keyName);
if (saved) start(saved);
else showSignIn();
