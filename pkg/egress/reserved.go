package egress

import (
	"fmt"
	"net/netip"
)

// reservedRange is a range of addresses refused by default, and why.
type reservedRange struct {
	prefix netip.Prefix
	reason string
}

func r(prefix, reason string) reservedRange {
	return reservedRange{netip.MustParsePrefix(prefix), reason}
}

// The first matching range gives the reason, so specific ranges come before
// the ranges that contain them. Sources: the IANA IPv4 and IPv6
// special-purpose address registries (RFC 6890 and successors).
var (
	reservedV4 = []reservedRange{
		r("0.0.0.0/32", "unspecified address"),
		r("0.0.0.0/8", `"this network" address (0.0.0.0/8)`),
		r("10.0.0.0/8", "private address (RFC 1918)"),
		r("100.64.0.0/10", "shared address space (carrier-grade NAT, RFC 6598)"),
		r("127.0.0.0/8", "loopback address"),
		r("169.254.0.0/16", "link-local address"),
		r("172.16.0.0/12", "private address (RFC 1918)"),
		r("192.0.0.0/24", "IETF protocol assignment (192.0.0.0/24)"),
		r("192.0.2.0/24", "documentation address (TEST-NET-1)"),
		r("192.88.99.0/24", "6to4 relay anycast address (deprecated)"),
		r("192.168.0.0/16", "private address (RFC 1918)"),
		r("198.18.0.0/15", "benchmarking address (RFC 2544)"),
		r("198.51.100.0/24", "documentation address (TEST-NET-2)"),
		r("203.0.113.0/24", "documentation address (TEST-NET-3)"),
		r("224.0.0.0/4", "multicast address"),
		r("255.255.255.255/32", "broadcast address"),
		r("240.0.0.0/4", "reserved address (240.0.0.0/4)"),
	}
	reservedV6 = []reservedRange{
		r("::/128", "unspecified address"),
		r("::1/128", "loopback address"),
		r("::/96", "IPv4-compatible address (deprecated)"),
		r("::ffff:0:0:0/96", "IPv4-translated address"),
		r("64:ff9b:1::/48", "local-use NAT64 address (RFC 8215)"),
		r("100::/64", "discard-only address"),
		r("2001::/32", "Teredo tunnelling address"),
		r("2001:2::/48", "benchmarking address"),
		r("2001::/23", "IETF protocol assignment (2001::/23)"),
		r("2001:db8::/32", "documentation address"),
		r("3fff::/20", "documentation address"),
		r("fc00::/7", "unique local address (private)"),
		r("fe80::/10", "link-local address"),
		r("fec0::/10", "site-local address (deprecated)"),
		r("ff00::/8", "multicast address"),
	}

	// Ranges that embed an IPv4 address, which decides for them.
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: IPv4 in the last 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")    // RFC 3056: IPv4 in bits 16 to 47

	// globalUnicast is the only IPv6 range IANA allocates from today.
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// Reserved reports whether addr is outside public unicast space, and why
// (e.g. "loopback address"). It is the classification behind the dial-time
// guard, before Config.AllowedSubnets is consulted.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are unmapped first and IPv6
// zones are ignored. NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses
// are judged by the IPv4 address they embed, since that is where the
// translator or relay sends the packets: allowed when it is public. Teredo
// (2001::/32) is refused, as its client address is obfuscated. Any IPv6
// address outside 2000::/3 is refused. The zero Addr is reserved.
func Reserved(addr netip.Addr) (reason string, reserved bool) {
	if !addr.IsValid() {
		return "invalid address", true
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return lookup(reservedV4, addr)
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr):
		return embedded("NAT64", netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(addr):
		return embedded("6to4", netip.AddrFrom4([4]byte(b[2:6])))
	}
	if reason, ok := lookup(reservedV6, addr); ok {
		return reason, true
	}
	if !globalUnicast.Contains(addr) {
		return "address outside the IPv6 global unicast range 2000::/3", true
	}
	return "", false
}

func lookup(ranges []reservedRange, addr netip.Addr) (string, bool) {
	for _, rr := range ranges {
		if rr.prefix.Contains(addr) {
			return rr.reason, true
		}
	}
	return "", false
}

func embedded(kind string, v4 netip.Addr) (string, bool) {
	reason, ok := lookup(reservedV4, v4)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s address embedding %s (%s)", kind, v4, reason), true
}
