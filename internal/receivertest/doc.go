// Package receivertest runs the local servers that hookd's delivery tests
// send to: a certificate authority and TLS receivers that require a client
// certificate (PKI), an HTTP CONNECT proxy that records what it is asked
// for (ConnectProxy), and an OAuth2 token endpoint (TokenServer). They
// listen on 127.0.0.1 only and stop when the test ends. It is used by
// tests alone.
package receivertest
