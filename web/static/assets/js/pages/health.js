// Endpoint health: the dot of an endpoint list, the success rate and the
// bar chart of an endpoint page. The chart is inline SVG built here, with
// attributes and classes only (no style attributes: the CSP forbids them).

import { h, time } from '../dom.js';

const svgNS = 'http://www.w3.org/2000/svg';

/** s builds an SVG element with attributes and children. */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const HEALTH_LABEL = {
  healthy: 'Healthy',
  degraded: 'Degraded',
  failing: 'Failing',
  disabled: 'Disabled',
};

const HEALTH_HELP = {
  healthy: 'Its last attempt succeeded, and fewer than 10 % of the last 24 hours’ attempts failed.',
  degraded: 'Its last attempt succeeded, but 10 % or more of the last 24 hours’ attempts failed.',
  failing: 'Its last attempt failed.',
  disabled: 'Disabled: it receives no messages.',
};

/** healthDot is a coloured dot and the health's name; the title explains it. */
export function healthDot(hl) {
  const level = (hl && hl.health) || 'healthy';
  const title = [HEALTH_HELP[level], rateText(hl)].filter(Boolean).join(' ');
  return h(`span.health.health-${level}`, { dataset: { health: level }, title },
    h('span.dot', { 'aria-hidden': 'true' }), HEALTH_LABEL[level] ?? level);
}

/** failingSince shows since when the endpoint fails, or a dash. */
export function failingSince(hl) {
  if (!hl || !hl.failingSince) return h('span.muted', null, '—');
  return h('span.failing-since', null, time(hl.failingSince));
}

/** rate is the share of successful attempts, as "97.5 %", or null without attempts. */
export function rate(attempts, failures) {
  if (!attempts) return null;
  const r = (100 * (attempts - failures)) / attempts;
  return (r === 100 || r === 0 ? r.toFixed(0) : r.toFixed(1)) + ' %';
}

function rateText(hl) {
  if (!hl || !hl.attempts24h) return 'No attempts in the last 24 hours.';
  return `${rate(hl.attempts24h, hl.failures24h)} of ${hl.attempts24h} attempts succeeded in the last 24 hours.`;
}

const hourFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/**
 * barChart draws buckets [{start, attempts, failures}] as bars: the
 * successful part and the failed part stacked, with a label under the
 * first, middle and last bar. daily picks the labels' format.
 */
export function barChart(buckets, { daily = false } = {}) {
  const width = 720;
  const height = 160;
  const top = 8;
  const bottom = 22;
  const n = buckets.length || 1;
  const slot = width / n;
  const bar = Math.max(2, slot * 0.72);
  const max = Math.max(1, ...buckets.map((b) => b.attempts));
  const plot = height - top - bottom;
  const fmt = daily ? dayFormat : hourFormat;
  const bars = buckets.map((b, i) => {
    const x = i * slot + (slot - bar) / 2;
    const ok = b.attempts - b.failures;
    const hOk = (ok / max) * plot;
    const hFail = (b.failures / max) * plot;
    const when = new Date(b.start);
    const label = `${daily ? dayFormat.format(when) : hourFormat.format(when)}: ${b.attempts} attempts, ${b.failures} failed`;
    return s('g', { class: 'bar', 'data-attempts': b.attempts, 'data-failures': b.failures },
      s('title', null, label),
      s('rect', { class: 'hit', x: i * slot, y: top, width: slot, height: plot }),
      hOk > 0 ? s('rect', { class: 'ok', x, y: top + plot - hOk - hFail, width: bar, height: hOk, rx: 1.5 }) : null,
      hFail > 0 ? s('rect', { class: 'fail', x, y: top + plot - hFail, width: bar, height: hFail, rx: 1.5 }) : null);
  });
  const labels = [0, Math.floor((n - 1) / 2), n - 1].filter((v, i, a) => a.indexOf(v) === i && buckets[v]).map((i) =>
    s('text', { x: i * slot + slot / 2, y: height - 6, 'text-anchor': i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle' },
      fmt.format(new Date(buckets[i].start))));
  const total = buckets.reduce((a, b) => a + b.attempts, 0);
  return s('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', preserveAspectRatio: 'none',
    'aria-label': `${total} attempts, ${daily ? 'per day over 30 days' : 'per hour over 24 hours'}`,
  },
  s('line', { class: 'axis', x1: 0, x2: width, y1: top + plot + 0.5, y2: top + plot + 0.5 }),
  s('text', { class: 'max', x: 2, y: top + 10 }, String(max)),
  bars, labels);
}
