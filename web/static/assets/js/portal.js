// The customer portal: one application's endpoints, messages, attempts and
// failures, and the event catalog, opened from the URL that app-portal-access returns:
//
//	/portal/#token=<token>&app=<app id>
//
// The fragment never reaches a server. The page moves the token into
// sessionStorage and removes it from the address bar at once, so it does not
// linger in history, bookmarks or screenshots.

import { h, fill, notify, messageOf } from './dom.js';
import { Client, ApiError, path } from './api.js';
import { mountShell, mountBare } from './shell.js';
import { startRouter } from './router.js';
import { renderApp } from './pages/app.js';
import { renderEndpoint } from './pages/endpoint.js';
import { renderMessage } from './pages/message.js';
import { renderCatalog } from './pages/catalog.js';

const tokenName = 'hookd.portal.token';
const appName = 'hookd.portal.app';
let router = null;

/** takeFragment stores the token and app of a portal link and clears the fragment. */
function takeFragment() {
  const hash = location.hash.replace(/^#/, '');
  if (!hash || hash.startsWith('/')) return;
  const params = new URLSearchParams(hash);
  const token = params.get('token');
  if (token) {
    sessionStorage.setItem(tokenName, token);
    sessionStorage.setItem(appName, params.get('app') || '');
  }
  history.replaceState(null, '', location.pathname + location.search + '#/');
}

function forget() {
  sessionStorage.removeItem(tokenName);
  sessionStorage.removeItem(appName);
  if (router) router.stop();
  router = null;
}

function showEnded(title, text) {
  mountBare('Portal', h('h1', null, title), h('p', null, text));
}

function start(token, appId) {
  let ended = false;
  const ctx = {
    portal: true,
    appId,
    api: new Client(token, {
      onUnauthorized: () => {
        if (ended) return;
        ended = true;
        forget();
        showEnded('This portal link has expired',
          'Your session ended: the link expired or was revoked. Ask for a new link to continue.');
      },
    }),
  };
  const appLabel = h('span');
  const shell = mountShell({
    label: 'Portal',
    nav: [
      { label: 'Overview', route: '/', active: (p) => p === '/' || p === `/app/${encodeURIComponent(appId)}` },
      { label: 'Event catalog', route: '/event-types', active: (p) => p === '/event-types' },
    ],
    who: appLabel,
    signOut: async () => {
      try {
        await ctx.api.post('/auth/logout');
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 401)) {
          notify(`Signing out failed: ${messageOf(err)} The link stays valid until it expires.`, 'error');
          return;
        }
      }
      ended = true;
      forget();
      showEnded('You are signed out', 'This portal link no longer works. Ask for a new link to come back.');
    },
  });
  ctx.api.get(path`/app/${appId}`).then((app) => fill(appLabel, app.name), () => {});
  router = startRouter([
    ['/', (view) => renderApp(ctx, view, { app: appId })],
    ['/app/:app', (view, p) => renderApp(ctx, view, p)],
    ['/app/:app/endpoint/:endpoint', (view, p) => renderEndpoint(ctx, view, p)],
    ['/app/:app/msg/:msg', (view, p) => renderMessage(ctx, view, p)],
    ['/event-types', (view) => renderCatalog(ctx, view)],
  ], shell.main, { onRoute: shell.setActive });
}

takeFragment();
const token = sessionStorage.getItem(tokenName);
const appId = sessionStorage.getItem(appName);
if (token && appId) {
  start(token, appId);
} else {
  showEnded('Open your portal link',
    'This page needs the link you were given, which carries your access. Ask the service that sent you here for a new one.');
}
