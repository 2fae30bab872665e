// Drives hookd through the official Svix JavaScript SDK, unchanged but for
// the server URL. Run by cmd/hookd/sdk_test.go (TestSDKNode) with
// HOOKD_URL and HOOKD_KEY pointing at a fresh server; it can also be run by
// hand against any hookd: HOOKD_URL=... HOOKD_KEY=... node roundtrip.mjs
//
// Every failed check is printed; the exit code is 1 if any failed.

import { ApiException, Ordering, Svix } from "svix";

const url = process.env.HOOKD_URL;
const key = process.env.HOOKD_KEY;
if (!url || !key) {
  console.error("HOOKD_URL and HOOKD_KEY must be set");
  process.exit(2);
}

// No retries: a 5xx must fail at once, not hide behind the SDK's backoff.
const svix = new Svix(key, { serverUrl: url, retryScheduleInMs: [] });

const failures = [];
let step = "start";

function check(ok, what, got) {
  if (!ok) {
    const msg = `${step}: ${what}` + (got === undefined ? "" : ` (got ${JSON.stringify(got)})`);
    failures.push(msg);
    console.error("FAIL", msg);
  }
}

function sameList(a, b) {
  return Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
}

// expectStatus runs fn, which must throw an ApiException with this status.
async function expectStatus(status, what, fn) {
  try {
    await fn();
    check(false, `${what}: succeeded, want HTTP ${status}`);
  } catch (e) {
    if (!(e instanceof ApiException)) {
      check(false, `${what}: threw ${e}, want an ApiException with HTTP ${status}`);
      return;
    }
    check(e.code === status, `${what}: HTTP ${e.code} (${JSON.stringify(e.body)}), want ${status}`);
    check(typeof e.body === "object" && e.body !== null, `${what}: error body is not a JSON object`, e.body);
  }
}

async function health() {
  step = "health";
  await svix.health.get();
}

async function applications() {
  step = "applications: create";
  const app = await svix.application.create({ name: "Acme", uid: "acme", metadata: { plan: "pro" }, throttleRate: 10 });
  check(app.id.startsWith("app_"), "id starts with app_", app.id);
  check(app.uid === "acme" && app.name === "Acme", "uid and name round-trip", app);
  check(app.metadata.plan === "pro" && app.throttleRate === 10, "metadata and throttleRate round-trip", app);
  check(app.createdAt instanceof Date && !isNaN(app.createdAt), "createdAt is a date", app.createdAt);

  step = "applications: get";
  for (const idOrUid of [app.id, "acme"]) {
    const got = await svix.application.get(idOrUid);
    check(got.id === app.id, `get(${idOrUid}) returns the app`, got.id);
  }
  await expectStatus(409, "create with a taken uid", () => svix.application.create({ name: "Dup", uid: "acme" }));

  step = "applications: idempotency";
  const first = await svix.application.create({ name: "Globex" }, { idempotencyKey: "globex-once" });
  const replay = await svix.application.create({ name: "Globex" }, { idempotencyKey: "globex-once" });
  check(replay.id === first.id, "the same idempotency key replays the first answer", [first.id, replay.id]);

  step = "applications: getOrCreate";
  const existing = await svix.application.getOrCreate({ name: "Other", uid: "acme" });
  check(existing.id === app.id && existing.name === "Acme", "getOrCreate returns the existing app", existing);
  const third = await svix.application.getOrCreate({ name: "Initech", uid: "initech" });
  check(third.id !== app.id && third.name === "Initech", "getOrCreate creates a missing app", third);

  step = "applications: list";
  const all = [app.id, first.id, third.id];
  const list = await svix.application.list();
  check(sameList(list.data.map((a) => a.id), all) && list.done === true, "list is oldest first and done", list);
  const page1 = await svix.application.list({ limit: 2 });
  check(sameList(page1.data.map((a) => a.id), all.slice(0, 2)) && page1.done === false, "first page of 2", page1);
  check(typeof page1.iterator === "string", "first page has an iterator", page1.iterator);
  const page2 = await svix.application.list({ limit: 2, iterator: page1.iterator });
  check(sameList(page2.data.map((a) => a.id), all.slice(2)) && page2.done === true, "second page", page2);
  const desc = await svix.application.list({ order: Ordering.Descending });
  check(sameList(desc.data.map((a) => a.id), [...all].reverse()), "descending order", desc.data.map((a) => a.id));
  await expectStatus(422, "list with a malformed iterator", () => svix.application.list({ iterator: "garbage" }));

  step = "applications: upsert and patch";
  const upserted = await svix.application.upsert("acme", { name: "Acme Corp", uid: "acme", metadata: { plan: "team" } });
  check(upserted.id === app.id && upserted.name === "Acme Corp" && upserted.metadata.plan === "team", "upsert replaces", upserted);
  const created = await svix.application.upsert("hooli", { name: "Hooli" });
  check(created.uid === "hooli", "upsert of a missing app creates it with the path as uid", created);
  const patched = await svix.application.patch(app.id, { name: "Acme Inc" });
  check(patched.name === "Acme Inc" && patched.uid === "acme" && patched.metadata.plan === "team", "patch keeps what it does not name", patched);
  const cleared = await svix.application.patch(app.id, { uid: null });
  check(cleared.uid == null, "patch with uid null clears it", cleared.uid);

  step = "applications: delete";
  await svix.application.delete(app.id);
  await expectStatus(404, "get after delete", () => svix.application.get(app.id));
}

async function eventTypes() {
  step = "event types: create";
  const schemas = { 1: { type: "object", properties: { id: { type: "string" } } } };
  const et = await svix.eventType.create({ name: "invoice.paid", description: "Paid", schemas, groupName: "invoice", featureFlags: ["beta"] });
  check(et.name === "invoice.paid" && et.description === "Paid" && et.deprecated === false, "fields round-trip", et);
  check(et.groupName === "invoice" && sameList(et.featureFlags, ["beta"]), "groupName and featureFlags round-trip", et);
  check(et.schemas && et.schemas["1"].type === "object", "schemas round-trip", et.schemas);
  for (const name of ["user.created", "user.deleted"]) {
    await svix.eventType.create({ name, description: name });
  }
  await expectStatus(409, "create a taken name", () => svix.eventType.create({ name: "invoice.paid", description: "again" }));

  step = "event types: get and list";
  const got = await svix.eventType.get("invoice.paid");
  check(got.name === "invoice.paid" && got.schemas != null, "get returns schemas", got);
  const names = ["invoice.paid", "user.created", "user.deleted"];
  const list = await svix.eventType.list();
  check(sameList(list.data.map((e) => e.name), names) && list.done === true, "list by name", list.data.map((e) => e.name));
  const withContent = await svix.eventType.list({ withContent: true });
  check(withContent.data[0].schemas != null, "with_content=true returns schemas", withContent.data[0]);
  const page1 = await svix.eventType.list({ limit: 2 });
  check(sameList(page1.data.map((e) => e.name), names.slice(0, 2)) && !page1.done, "first page of 2", page1);
  const page2 = await svix.eventType.list({ limit: 2, iterator: page1.iterator });
  check(sameList(page2.data.map((e) => e.name), names.slice(2)) && page2.done, "second page", page2);

  step = "event types: upsert and patch";
  const upserted = await svix.eventType.upsert("invoice.paid", { description: "Paid invoice", deprecated: true });
  check(upserted.description === "Paid invoice" && upserted.deprecated === true, "upsert replaces", upserted);
  const patched = await svix.eventType.patch("invoice.paid", { deprecated: false, schemas: null, groupName: "billing" });
  check(patched.deprecated === false && patched.description === "Paid invoice", "patch keeps what it does not name", patched);
  check(patched.schemas == null && patched.groupName === "billing", "patch sets schemas null and groupName", patched);

  step = "event types: delete";
  await svix.eventType.delete("user.deleted");
  const archived = await svix.eventType.get("user.deleted");
  check(archived.archived === true, "delete archives", archived);
  const visible = await svix.eventType.list();
  check(!visible.data.some((e) => e.name === "user.deleted"), "archived types are not listed", visible.data.map((e) => e.name));
  const withArchived = await svix.eventType.list({ includeArchived: true });
  check(withArchived.data.some((e) => e.name === "user.deleted"), "include_archived lists them", withArchived.data.map((e) => e.name));
  await svix.eventType.create({ name: "user.deleted", description: "back" });
  await svix.eventType.delete("invoice.paid", { expunge: true });
  await expectStatus(404, "get after expunge", () => svix.eventType.get("invoice.paid"));
}

async function endpoints() {
  step = "endpoints: create";
  const app = await svix.application.create({ name: "Endpoints", uid: "ep-app" });
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  // The v2 SDK calls the filter eventTypes (v1 and the Go SDK: filterTypes).
  const ep = await svix.endpoint.create(app.id, {
    url: "https://example.com/hook",
    description: "main",
    eventTypes: ["user.created", "user.deleted"],
    channels: ["project-1"],
    uid: "ep-main",
    metadata: { owner: "ops" },
    headers: { "X-Team": "ops" },
    secret: secret.slice("whsec_".length),
  });
  check(ep.id.startsWith("ep_") && ep.url === "https://example.com/hook" && ep.description === "main", "fields round-trip", ep);
  check(sameList(ep.eventTypes, ["user.created", "user.deleted"]), "eventTypes round-trip", ep.eventTypes);
  check(sameList(ep.channels, ["project-1"]) && ep.uid === "ep-main" && ep.metadata.owner === "ops", "channels, uid, metadata round-trip", ep);
  await expectStatus(422, "create with an unknown event type", () =>
    svix.endpoint.create(app.id, { url: "https://example.com/x", eventTypes: ["no.such.type"] }));
  await expectStatus(422, "create with an ftp URL", () => svix.endpoint.create(app.id, { url: "ftp://example.com/x" }));

  step = "endpoints: get";
  for (const [a, e] of [[app.id, ep.id], ["ep-app", "ep-main"]]) {
    const got = await svix.endpoint.get(a, e);
    check(got.id === ep.id && sameList(got.eventTypes, ep.eventTypes), `get(${a}, ${e})`, got);
  }

  step = "endpoints: secret";
  let s = await svix.endpoint.getSecret(app.id, ep.id);
  check(s.key === secret, "a secret given without whsec_ reads back with it", s.key);
  const next = "whsec_dGhpcyBpcyBhIHRlc3Qgc2VjcmV0IGtleSBvayE=";
  await svix.endpoint.rotateSecret(app.id, ep.id, { key: next });
  s = await svix.endpoint.getSecret(app.id, ep.id);
  check(s.key === next, "rotate to a given key", s.key);
  await svix.endpoint.rotateSecret(app.id, ep.id);
  s = await svix.endpoint.getSecret(app.id, ep.id);
  check(s.key.startsWith("whsec_") && s.key !== next, "rotate to a generated key", s.key);

  step = "endpoints: headers";
  let h = await svix.endpoint.getHeaders(app.id, ep.id);
  check(h.headers["X-Team"] === "ops" && Array.isArray(h.sensitive), "headers from create", h);
  await svix.endpoint.setHeaders(app.id, ep.id, { headers: { "X-One": "1", "X-Two": "2" } });
  await svix.endpoint.patchHeaders(app.id, ep.id, { headers: { "X-Three": "3" }, deleteHeaders: ["X-One"] });
  h = await svix.endpoint.getHeaders(app.id, ep.id);
  check(Object.keys(h.headers).sort().join(",") === "X-Three,X-Two", "set then patch headers", h.headers);

  step = "endpoints: list";
  const second = await svix.endpoint.create(app.id, { url: "https://example.com/2" });
  const third = await svix.endpoint.create(app.id, { url: "https://example.com/3" });
  const all = [third.id, second.id, ep.id];
  const list = await svix.endpoint.list(app.id);
  check(sameList(list.data.map((e) => e.id), all) && list.done, "list is newest first", list.data.map((e) => e.id));
  const page1 = await svix.endpoint.list(app.id, { limit: 2 });
  check(sameList(page1.data.map((e) => e.id), all.slice(0, 2)) && !page1.done && typeof page1.iterator === "string", "first page of 2", page1);
  const page2 = await svix.endpoint.list(app.id, { limit: 2, iterator: page1.iterator });
  check(sameList(page2.data.map((e) => e.id), all.slice(2)) && page2.done, "second page", page2.data.map((e) => e.id));

  step = "endpoints: upsert and patch";
  const upserted = await svix.endpoint.upsert(app.id, "ep-main", { url: "https://example.com/hook2", uid: "ep-main", eventTypes: ["user.created"] });
  check(upserted.id === ep.id && upserted.url === "https://example.com/hook2" && sameList(upserted.eventTypes, ["user.created"]), "upsert replaces", upserted);
  const created = await svix.endpoint.upsert(app.id, "ep-put", { url: "https://example.com/put" });
  check(created.uid === "ep-put", "upsert of a missing endpoint creates it", created);
  let patched = await svix.endpoint.patch(app.id, ep.id, { description: "patched", channels: ["project-2"] });
  check(patched.description === "patched" && sameList(patched.channels, ["project-2"]), "patch sets what it names", patched);
  check(sameList(patched.eventTypes, ["user.created"]), "patch keeps eventTypes", patched.eventTypes);
  patched = await svix.endpoint.patch(app.id, ep.id, { eventTypes: null, channels: null });
  check(patched.eventTypes == null && patched.channels == null, "patch with null clears eventTypes and channels", patched);

  step = "endpoints: stats";
  const stats = await svix.endpoint.getStats(app.id, ep.id, { since: new Date(Date.now() - 3600e3), until: new Date() });
  check(stats.success === 0 && stats.fail === 0 && stats.pending === 0, "stats of a new endpoint are zero", stats);

  step = "endpoints: delete";
  await svix.endpoint.delete(app.id, ep.id);
  await expectStatus(404, "get after delete", () => svix.endpoint.get(app.id, ep.id));
}

try {
  await health();
  await applications();
  await eventTypes();
  await endpoints();
} catch (e) {
  const body = e instanceof ApiException ? ` HTTP ${e.code}: ${JSON.stringify(e.body)}` : "";
  failures.push(`${step}: ${e}${body}`);
  console.error("FAIL", `${step}: unexpected error:`, e, body);
}

if (failures.length > 0) {
  console.error(`\n${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("ok: the Svix JavaScript SDK round trip passed");
