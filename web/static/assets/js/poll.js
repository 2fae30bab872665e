// Polling that fits what is on screen: often while something is about to
// change, less and less often otherwise, never in a hidden tab.

import { h } from './dom.js';

// How soon a page reloads while something is about to change (an attempt
// in flight or due within a minute), and how far it backs off otherwise.
export const fastInterval = 1000;
export const slowStart = 5000;
export const slowMax = 60_000;

/**
 * poller runs load() now and again after each run, while view is alive.
 * load returns true when something is about to change: the next run is
 * then fastInterval away; otherwise the delay doubles from slowStart up to
 * slowMax. load may instead return the time (epoch ms) at which something
 * is due to change, e.g. a retry's next attempt: the next run is then no
 * later than just after it. A hidden tab does not poll; it loads at once
 * when shown again.
 * A failed load counts as quiet. The returned stamp element says "updated
 * N s ago"; now() runs load at once (after a user action) and resets the
 * back-off.
 */
export function poller(view, load) {
  const stamp = h('span.updated.muted', { 'aria-live': 'off', dataset: { testid: 'updated' } });
  let timer = 0;
  let ticker = 0;
  let quietDelay = slowStart;
  let last = 0;
  let running = false;
  let again = false;

  function tick() {
    if (!view.alive()) return stop();
    if (!last) return;
    const s = Math.max(0, Math.round((Date.now() - last) / 1000));
    stamp.textContent = s < 2 ? 'updated just now' : `updated ${s} s ago`;
  }

  function stop() {
    clearTimeout(timer);
    clearInterval(ticker);
    document.removeEventListener('visibilitychange', onVisibility);
  }

  function schedule(soon) {
    clearTimeout(timer);
    if (!view.alive()) return stop();
    let delay;
    if (soon === true) {
      delay = fastInterval;
      quietDelay = slowStart;
    } else {
      delay = quietDelay;
      quietDelay = Math.min(quietDelay * 2, slowMax);
      if (typeof soon === 'number' && soon > 0) {
        delay = Math.min(delay, Math.max(fastInterval, soon - Date.now() + 500));
      }
    }
    stamp.dataset.next = String(delay);
    if (document.hidden) pause();
    else timer = setTimeout(run, delay);
  }

  // pause stops polling until the tab is shown again.
  function pause() {
    clearTimeout(timer);
    stamp.dataset.paused = 'true';
  }

  async function run() {
    if (!view.alive()) return stop();
    if (running) {
      again = true;
      return;
    }
    running = true;
    let soon = false;
    try {
      soon = await load();
      last = Date.now();
      tick();
    } catch {
      // load shows its own errors; a failure is not a reason to hurry.
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      return run();
    }
    schedule(soon);
  }

  function onVisibility() {
    if (!view.alive()) return stop();
    if (document.hidden) {
      pause();
      return;
    }
    delete stamp.dataset.paused;
    run();
  }

  document.addEventListener('visibilitychange', onVisibility);
  ticker = setInterval(tick, 1000);
  run();
  return {
    stamp,
    now() {
      quietDelay = slowStart;
      return run();
    },
  };
}

/** dueSoon reports whether an ISO time is in the past or within a minute. */
export function dueSoon(iso) {
  if (!iso) return false;
  const t = new Date(iso).getTime();
  return !Number.isNaN(t) && t - Date.now() < 60_000;
}
