// The frame around every page: top bar, navigation, sign out, content area.

import { h, fill } from './dom.js';

const logoURL = new URL('../logo.svg', import.meta.url).pathname;

function brand(label) {
  return h('a.brand', { href: '#/' },
    h('img', { src: logoURL, alt: '', width: 24, height: 24 }),
    h('span.name', null, 'hookd'),
    h('span.context', null, label));
}

/**
 * mountShell draws the frame into #app and returns the content element.
 * nav is [{label, route, active(path)}]; signOut runs on "Sign out".
 */
export function mountShell({ label, nav = [], who, signOut }) {
  const links = nav.map((item) => ({ item, el: h('a', { href: '#' + item.route }, item.label) }));
  const main = h('main.container', { id: 'main', tabindex: '-1' });
  const header = h('header.topbar', null,
    h('div.topbar-inner', null,
      brand(label),
      h('nav.mainnav', { 'aria-label': 'Main' }, links.map((l) => l.el)),
      h('div.spacer'),
      who ? h('span.who', { title: who }, who) : null,
      h('button.btn.small.ghost.signout', { type: 'button', onclick: signOut, dataset: { testid: 'sign-out' } }, 'Sign out')));
  fill(document.getElementById('app'), header, main);
  return {
    main,
    setActive(path) {
      for (const { item, el } of links) el.classList.toggle('active', item.active(path));
    },
  };
}

/** mountBare draws a centred card without navigation (sign in, expired link). */
export function mountBare(label, ...content) {
  const main = h('main.bare', { id: 'main' },
    h('div.bare-card', null, h('div.bare-brand', null, brand(label)), ...content));
  fill(document.getElementById('app'), main);
  return main;
}
