// Hash routing: "#/app/app_1/endpoint/ep_2" renders the endpoint page. The
// part after "#" never reaches the server.

import { h, fill, link, errorBox } from './dom.js';

/** currentPath is the route of the page, e.g. "/app/app_1" ("/" when none). */
export function currentPath() {
  const hash = location.hash.replace(/^#/, '');
  return hash.startsWith('/') ? hash.split('?')[0] : '/';
}

/** go navigates to a route. */
export function go(path) {
  location.hash = '#' + path;
}

function match(pattern, path) {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) {
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== got[i]) {
      return null;
    }
  }
  return params;
}

/**
 * startRouter renders the page of the current route into outlet and again
 * on every change. routes is a list of [pattern, render]; render(view,
 * params) may be async. view.alive() turns false once the reader has moved
 * on, so pages stop polling; view.main is the element to fill.
 */
export function startRouter(routes, outlet, { onRoute } = {}) {
  let current = { live: false };
  async function render() {
    const path = currentPath();
    const gen = { live: true };
    current.live = false;
    current = gen;
    const view = { main: outlet, alive: () => gen.live };
    if (onRoute) onRoute(path);
    for (const [pattern, page] of routes) {
      const params = match(pattern, path);
      if (!params) continue;
      try {
        await page(view, params);
      } catch (err) {
        // A page that failed outright still says why.
        if (view.alive()) fill(outlet, errorBox(err, render));
      }
      return;
    }
    fill(outlet, h('div.card', null, h('h1', null, 'Page not found'),
      h('p', null, 'There is nothing at this address. '), link('Go to the start page', '/')));
  }
  window.addEventListener('hashchange', render);
  render();
  return {
    refresh: render,
    // stop ends routing, e.g. on sign out; the current page stops polling.
    stop() {
      window.removeEventListener('hashchange', render);
      current.live = false;
    },
  };
}
