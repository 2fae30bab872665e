// The client of hookd's JSON API, shared by the console and the portal.
//
// The token travels only in the Authorization header: never in a URL, so
// it never reaches access logs, history or Referer headers.

// The site's root, from this module's own URL (assets/js/api.js), so the
// pages also work when hookd is served under a path prefix.
const root = new URL('../../', import.meta.url);

/** ApiError is a failed request, with a message meant for people. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * describe turns an error answer into words: the 422 body lists the fields
 * that were refused ({"detail": [{"loc", "msg"}]}), every other error
 * carries {"code", "detail"}.
 */
export function describe(status, statusText, body) {
  if (body && Array.isArray(body.detail)) {
    const parts = body.detail.map((d) => {
      const loc = (d.loc || []).filter((p, i) => !(i === 0 && ['body', 'query', 'path'].includes(p)));
      return loc.length ? `${loc.join('.')}: ${d.msg}` : d.msg;
    });
    return `Please check the input. ${parts.join('; ')}.`;
  }
  if (body && typeof body.detail === 'string' && body.detail) {
    const detail = body.detail.charAt(0).toUpperCase() + body.detail.slice(1);
    return `${detail} (${status}${body.code ? ' ' + body.code : ''}).`;
  }
  if (status >= 500) return `hookd failed to answer (${status} ${statusText}). Try again in a moment.`;
  return `The request failed (${status} ${statusText}).`;
}

/** encodePath builds an API path whose interpolated values are URI-encoded. */
export function path(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ''), '');
}

/**
 * Client calls /api/v1 with a bearer token. onUnauthorized runs when the
 * token is refused (401), e.g. after a portal logout or key revocation.
 */
export class Client {
  constructor(token, { onUnauthorized } = {}) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, apiPath, { query, body } = {}) {
    const url = new URL('api/v1' + apiPath, root);
    for (const [k, v] of Object.entries(query || {})) {
      if (v === undefined || v === null || v === '') continue;
      url.searchParams.set(k, String(v));
    }
    const headers = { Accept: 'application/json', Authorization: 'Bearer ' + this.token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch (err) {
      throw new ApiError(0, 'network', `Could not reach hookd (${err.message}). Check the connection and try again.`);
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        if (resp.ok) throw new ApiError(resp.status, 'bad_response', `hookd sent an answer that is not JSON (${resp.status}).`);
      }
    }
    if (!resp.ok) {
      const err = new ApiError(resp.status, (data && data.code) || '', describe(resp.status, resp.statusText, data));
      if (resp.status === 401 && this.onUnauthorized) this.onUnauthorized(err);
      throw err;
    }
    return data;
  }

  get(p, query) { return this.request('GET', p, { query }); }
  post(p, body, query) { return this.request('POST', p, { body, query }); }
  patch(p, body) { return this.request('PATCH', p, { body }); }
  put(p, body) { return this.request('PUT', p, { body }); }
  delete(p, query) { return this.request('DELETE', p, { query }); }
}
