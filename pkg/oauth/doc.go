// Package oauth obtains the OAuth2 access tokens that hookd presents to
// endpoints configured with EndpointOauthConfigIn (Svix's hosted API
// shapes): the clientCredentials and refreshToken grants, with
// clientSecretBasic, clientSecretPost or clientSecretJwt (an RFC 7523 client
// assertion, RS256 as in Svix's API or HS256 as a hookd extension) client
// authentication, scopes, extra form fields and extra headers.
//
// A Source per endpoint configuration (kept by a Pool) fetches a token
// through the SSRF-guarded egress client, caches it until shortly before it
// expires, lets concurrent attempts share one fetch, and drops it once when
// the receiver answers 401 (Source.Do sends, and on a 401 fetches a new
// token and sends once more). Token requests are built and parsed by
// golang.org/x/oauth2.
//
// Nothing here logs. Config hides its secrets from fmt and slog, and errors
// never contain secrets or tokens. A failed token request gives a reason
// fit for an attempt's record, such as "oauth: token endpoint answered 400
// invalid_client".
package oauth
