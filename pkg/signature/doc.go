// Package signature implements Standard Webhooks signing and verification
// (https://www.standardwebhooks.com), the scheme hookd uses for every
// delivery and that Svix receivers already understand.
//
// A delivery carries three headers: an id (the message id, stable across
// retries), a timestamp (Unix seconds of the attempt) and a signature header
// holding one or more space-separated "v1,<base64>" entries, where <base64>
// is the standard base64 encoding of
//
//	HMAC-SHA256(key, id + "." + timestamp + "." + body)
//
// and key is the decoded bytes of a "whsec_"-prefixed secret. Several entries
// appear while an endpoint rotates its secret; a receiver accepts the request
// when any entry matches any key it holds.
//
// The package imports only the standard library so that receivers can use it
// without pulling in the rest of hookd. Sign and SignatureHeader are safe for
// concurrent use and never fail; Verify returns nil or an error that matches
// one of the package's sentinel errors with errors.Is.
package signature
