// A webhook receiver written as docs/delivery.md shows it (Node.js, no
// dependency): Basic credentials from the endpoint URL, the answer to
// endpoint verification's challenge, Ed25519 ("v1a") signatures verified
// with the key set hookd publishes. Run by cmd/hookd's tests.
//
// It prints "listening <port>", then reads the key set's URL from its
// first line of input, and prints one line per request it gets:
// "verified <event type>" or "refused <reason>".
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { createPublicKey, timingSafeEqual, verify } from "node:crypto";

const want = Buffer.from(process.env.RECEIVER_CREDENTIALS ?? ""); // "user:password"

let keys;
const keysURL = new Promise((resolve) => createInterface({ input: process.stdin }).once("line", resolve));

async function loadKeys() {
  const res = await fetch(await keysURL);
  keys = (await res.json()).keys.map((jwk) => createPublicKey({ key: jwk, format: "jwk" }));
}

// headers: lower-case names; rawBody: a Buffer of the body exactly as received.
function verifyWebhook(headers, rawBody) {
  const id = headers["webhook-id"], tsText = headers["webhook-timestamp"], ts = Number(tsText);
  if (!id || !Number.isSafeInteger(ts) || Math.abs(Date.now() / 1000 - ts) > 300) return false;
  const signed = Buffer.concat([Buffer.from(`${id}.${tsText}.`), rawBody]);
  return (headers["webhook-signature"] ?? "").split(" ").some((entry) => {
    const [version, sig] = entry.split(",");
    return version === "v1a" && keys.some((key) => verify(null, signed, key, Buffer.from(sig, "base64")));
  });
}

function basicOK(req) {
  const [scheme, encoded] = (req.headers.authorization ?? "").split(" ");
  const given = scheme === "Basic" ? Buffer.from(encoded, "base64") : Buffer.alloc(0);
  return given.length === want.length && timingSafeEqual(given, want);
}

const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const rawBody = Buffer.concat(chunks);
  if (!basicOK(req)) {
    console.log("refused credentials");
    return res.writeHead(401).end();
  }
  if (!keys) await loadKeys();
  if (!verifyWebhook(req.headers, rawBody)) {
    await loadKeys(); // a new key: fetch the set once more
    if (!verifyWebhook(req.headers, rawBody)) {
      console.log("refused signature");
      return res.writeHead(401).end();
    }
  }
  const event = JSON.parse(rawBody);
  console.log(`verified ${event.type}`);
  if (event.type === "webhook.verification") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ challenge: event.challenge }));
  }
  res.writeHead(204).end();
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
