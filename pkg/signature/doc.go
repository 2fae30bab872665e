// Package signature implements Standard Webhooks signing and verification
// (https://www.standardwebhooks.com), the scheme hookd uses for every
// delivery and that Svix receivers already understand.
//
// A delivery carries three headers: an id (the message id, stable across
// retries), a timestamp (Unix seconds of the attempt) and a signature header
// holding one or more space-separated "<version>,<base64>" entries over the
// signed content
//
//	id + "." + timestamp + "." + body
//
// An endpoint's key is one of two types (Type):
//
//   - an HMAC secret, "whsec_<base64>" (Secret): the entry is
//     "v1,<base64 HMAC-SHA256(key, content)>";
//   - an Ed25519 private key, "whsk_<base64 of the 64-byte key>"
//     (PrivateKey), whose public half "whpk_<base64>" (PublicKey) receivers
//     verify with: the entry is "v1a,<base64 Ed25519 signature>".
//
// ParseKey reads either form. Several entries appear while an endpoint
// rotates its key, possibly from one type to the other; a receiver accepts
// the request when any entry matches any key it holds (Verify for HMAC,
// VerifyEd25519 for Ed25519). Public keys can also be published as a JSON
// Web Key Set (NewJWKSet, ParseJWKSet).
//
// The formats are those of Svix's server: the same key and message give
// the same header, byte for byte.
//
// The package imports only the standard library so that receivers can use it
// without pulling in the rest of hookd. Signing is safe for concurrent use
// and never fails; Verify and VerifyEd25519 return nil or an error that
// matches one of the package's sentinel errors with errors.Is.
package signature
