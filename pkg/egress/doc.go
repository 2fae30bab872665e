// Package egress is the one HTTP client hookd uses to reach customer
// endpoints. Endpoint URLs come from customers, so every request is treated
// as a server-side request forgery attempt until proven otherwise:
//
//   - The address check happens at dial time, on the IP the socket is about
//     to connect to, after DNS resolution. A hostname that resolves (or is
//     re-bound) to 127.0.0.1 or 169.254.169.254 is refused like the literal
//     address, and no packet is sent to it. Reserved lists the refused
//     ranges; Config.AllowedSubnets lets some back in (e.g. 127.0.0.0/8 for
//     local tests).
//   - Proxies from the environment are never used, so a refused address
//     cannot be reached through one either. The one proxy hookd uses is
//     Config.Proxy (HOOKD_EGRESS_PROXY: http, https or socks5), for fixed
//     egress addresses; with it hookd resolves the endpoint's name, checks
//     the addresses and asks the proxy for a tunnel to a checked IP
//     address (CONNECT ip:port, or SOCKS5 with an IP), so the proxy never
//     resolves customer-supplied names. TLS and the Host header still
//     carry the name.
//   - Redirects are never followed: a 3xx is the response.
//   - Connecting, the TLS handshake, waiting for headers and the whole
//     exchange are bounded in time, and at most Config.MaxResponseBytes of
//     the decompressed body are read.
//
// Connections are kept alive and reused per host, and HTTP/2 is negotiated
// for https endpoints that offer it. Endpoints with TLS options of their own
// (a client certificate for mutual TLS, a private server CA: TLSOptions)
// get a connection pool per distinct options, bounded in number, dialled
// through the same guard and proxy. Credentials in an endpoint URL are sent
// as Basic authorization, never in the request line; MaskUserinfo hides
// them for display.
package egress
