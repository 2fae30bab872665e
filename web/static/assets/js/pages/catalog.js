// The event catalog: every event type with its description, its newest
// schema as a list of fields, and an example payload (the schema's first
// example, or one made up from the schema). In the portal it tells an
// endpoint's owner what each event carries.

import { h, fill, code, card, pageHead, loading, empty, errorBox, tag, pretty, field } from '../dom.js';

export async function renderCatalog(ctx, view) {
  const body = h('div.catalog', null, loading('Loading the event catalog…'));
  const search = h('input', { type: 'search', placeholder: 'Filter by name or description', 'aria-label': 'Filter event types', dataset: { testid: 'catalog-filter' } });
  fill(view.main,
    pageHead({ title: 'Event catalog' }),
    h('p.lead', null, 'The events an endpoint can subscribe to, what each one means, and the payload it carries.'),
    h('div.toolbar', null, field('Filter', search)),
    body);

  const types = [];
  let iterator = '';
  try {
    for (let i = 0; i < 4; i++) {
      const page = await ctx.api.get('/event-type', { limit: 250, iterator, with_content: true });
      types.push(...page.data);
      if (page.done || !page.iterator) break;
      iterator = page.iterator;
    }
  } catch (err) {
    if (view.alive()) fill(body, errorBox(err, () => renderCatalog(ctx, view)));
    return;
  }
  if (!view.alive()) return;
  if (types.length === 0) {
    fill(body, empty('No event types are defined: endpoints receive every message.'));
    return;
  }
  const entries = types.map((et) => ({ et, el: entry(et) }));
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const shown = entries.filter(({ et }) => !q || et.name.toLowerCase().includes(q) || (et.description || '').toLowerCase().includes(q));
    fill(body, shown.length ? shown.map((e) => e.el) : empty('No event type matches.'));
  };
  search.addEventListener('input', show);
  show();
}

// entry is one event type of the catalog.
function entry(et) {
  const schema = newestSchema(et.schemas);
  const example = schema ? exampleOf(schema) : undefined;
  return h('section.card.catalog-entry', { dataset: { eventType: et.name } },
    h('div.card-head', null,
      h('h2', null, code(et.name)),
      h('div.actions', null, et.deprecated ? tag('deprecated', 'warn') : null, et.groupName ? tag(et.groupName) : null)),
    h('p.description', null, et.description || h('span.muted', null, 'No description.')),
    schema
      ? h('div.catalog-body', null,
        h('div', null, h('h3', null, 'Fields'), fieldTable(schema)),
        h('div', null, h('h3', null, schema.examples && schema.examples.length ? 'Example' : 'Example (generated from the schema)'),
          h('pre.payload', { dataset: { testid: 'example' } }, pretty(example))))
      : h('p.muted', null, 'No schema: the payload is any JSON object.'));
}

/** newestSchema is the schema of the highest version in {"1": {...}, "2": {...}}. */
export function newestSchema(schemas) {
  if (!schemas || typeof schemas !== 'object') return null;
  const versions = Object.keys(schemas).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
  const s = versions.length ? schemas[versions[0]] : null;
  return s && typeof s === 'object' ? s : null;
}

/**
 * fields flattens a JSON schema into rows {path, type, required,
 * description, notes}: nested objects as "a.b", array items as "a[]".
 */
export function fields(schema, prefix = '', depth = 0, out = []) {
  if (!schema || typeof schema !== 'object' || depth > 8) return out;
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  for (const [name, sub] of Object.entries(schema.properties || {})) {
    const p = prefix ? `${prefix}.${name}` : name;
    out.push({ path: p, type: typeOf(sub), required: required.has(name), description: (sub && sub.description) || '', notes: notesOf(sub) });
    if (sub && typeof sub === 'object') {
      if (sub.properties) fields(sub, p, depth + 1, out);
      if (sub.items && typeof sub.items === 'object' && sub.items.properties) fields(sub.items, p + '[]', depth + 1, out);
    }
  }
  return out;
}

function typeOf(s) {
  if (!s || typeof s !== 'object') return 'any';
  if (s.$ref) return String(s.$ref).split('/').pop();
  let t = Array.isArray(s.type) ? s.type.join(' | ') : s.type;
  if (!t && s.enum) t = 'enum';
  if (!t && s.properties) t = 'object';
  if (!t && (s.anyOf || s.oneOf)) t = (s.anyOf || s.oneOf).map(typeOf).join(' | ');
  if (t === 'array' && s.items) t = `array of ${typeOf(s.items)}`;
  return t || 'any';
}

function notesOf(s) {
  if (!s || typeof s !== 'object') return '';
  const notes = [];
  if (s.format) notes.push(s.format);
  if (Array.isArray(s.enum)) notes.push('one of ' + s.enum.map((v) => JSON.stringify(v)).join(', '));
  if (s.const !== undefined) notes.push('always ' + JSON.stringify(s.const));
  if (s.minimum !== undefined) notes.push('≥ ' + s.minimum);
  if (s.maximum !== undefined) notes.push('≤ ' + s.maximum);
  if (s.pattern) notes.push('matches ' + s.pattern);
  return notes.join('; ');
}

function fieldTable(schema) {
  const rows = fields(schema);
  if (rows.length === 0) return h('p.muted', null, 'The schema names no fields.');
  return h('div.table-wrap', null, h('table.list.fields', null,
    h('thead', null, h('tr', null, h('th', null, 'Field'), h('th', null, 'Type'), h('th', null, 'Description'))),
    h('tbody', null, rows.map((r) => h('tr', { dataset: { field: r.path } },
      h('td', { dataset: { label: 'Field' } }, code(r.path), r.required ? h('span.required', { title: 'Always present' }, ' required') : null),
      h('td', { dataset: { label: 'Type' } }, r.type),
      h('td.grow', { dataset: { label: 'Description' } }, r.description || (r.notes ? '' : h('span.muted', null, '—')),
        r.notes ? h('span.notes', null, (r.description ? ' ' : '') + '(' + r.notes + ')') : null))))));
}

/** exampleOf is the schema's first example, or a payload made up from it. */
export function exampleOf(schema) {
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  return generate(schema, 0);
}

function generate(s, depth) {
  if (!s || typeof s !== 'object' || depth > 8) return null;
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  if (s.example !== undefined) return s.example;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  const alt = s.anyOf || s.oneOf;
  if (Array.isArray(alt) && alt.length) return generate(alt[0], depth + 1);
  let t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') || s.type[0] : s.type;
  if (!t && s.properties) t = 'object';
  switch (t) {
    case 'object': {
      const out = {};
      for (const [k, v] of Object.entries(s.properties || {})) out[k] = generate(v, depth + 1);
      return out;
    }
    case 'array':
      return s.items ? [generate(s.items, depth + 1)] : [];
    case 'integer':
      return s.minimum !== undefined ? Math.ceil(s.minimum) : 42;
    case 'number':
      return s.minimum !== undefined ? s.minimum : 4.2;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'string':
      return stringFor(s.format);
    default:
      return null;
  }
}

function stringFor(format) {
  switch (format) {
    case 'date-time': return '2026-01-15T09:30:00Z';
    case 'date': return '2026-01-15';
    case 'time': return '09:30:00Z';
    case 'email': return 'someone@example.com';
    case 'uri': case 'url': return 'https://example.com/';
    case 'uuid': return '3fa85f64-5717-4562-b3fc-2c963f66afa6';
    case 'ipv4': return '192.0.2.1';
    default: return 'string';
  }
}
