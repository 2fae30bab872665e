package oauth

import (
	"fmt"
	"strings"
)

// TokenError is the error of a token request that the authorization server
// answered with an error (RFC 6749 §5.2) or a non-2xx status. Its message
// is what an attempt records: "oauth: token endpoint answered 400
// invalid_client: <description>".
type TokenError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is the OAuth error code ("invalid_client", "invalid_grant",
	// ...), empty when the answer had none.
	Code string
	// Description is the server's error_description, cut to a bounded
	// length, with any of the configuration's secrets masked.
	Description string
}

const maxDescription = 200

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oauth: token endpoint answered %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	return b.String()
}

// scrub returns s cut to maxDescription bytes (on a rune boundary) with
// every non-empty secret replaced, so that a server that echoes what it
// was sent cannot put a secret into an attempt's record.
func scrub(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	if len(s) > maxDescription {
		s = strings.ToValidUTF8(s[:maxDescription], "") + "…"
	}
	return s
}

// NoTokenError is the error of Source.Do when no token could be had, so
// nothing was sent to the endpoint. Err is Token's error (a *TokenError
// when the authorization server refused).
type NoTokenError struct {
	Err error
}

func (e *NoTokenError) Error() string { return e.Err.Error() }

func (e *NoTokenError) Unwrap() error { return e.Err }
