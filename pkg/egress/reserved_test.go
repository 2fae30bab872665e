package egress

import (
	"net/netip"
	"testing"
)

func TestReserved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		reason string // "" means public
	}{
		// IPv4 "this network" and unspecified.
		{"0.0.0.0", "unspecified address"},
		{"0.0.0.1", `"this network" address (0.0.0.0/8)`},
		{"0.255.255.255", `"this network" address (0.0.0.0/8)`},

		// IPv4 private (RFC 1918), with the public neighbours of each range.
		{"10.0.0.0", "private address (RFC 1918)"},
		{"10.0.0.1", "private address (RFC 1918)"},
		{"10.255.255.255", "private address (RFC 1918)"},
		{"9.255.255.255", ""},
		{"11.0.0.0", ""},
		{"172.16.0.0", "private address (RFC 1918)"},
		{"172.31.255.255", "private address (RFC 1918)"},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.168.0.1", "private address (RFC 1918)"},
		{"192.168.255.255", "private address (RFC 1918)"},
		{"192.167.255.255", ""},
		{"192.169.0.0", ""},

		// IPv4 shared address space (CGNAT).
		{"100.64.0.0", "shared address space (carrier-grade NAT, RFC 6598)"},
		{"100.127.255.255", "shared address space (carrier-grade NAT, RFC 6598)"},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},

		// IPv4 loopback.
		{"127.0.0.1", "loopback address"},
		{"127.255.255.254", "loopback address"},
		{"126.255.255.255", ""},
		{"128.0.0.0", ""},

		// IPv4 link-local, cloud metadata included.
		{"169.254.169.254", "link-local address"},
		{"169.254.0.0", "link-local address"},
		{"169.253.255.255", ""},
		{"169.255.0.0", ""},

		// IPv4 IETF, documentation, 6to4 relay and benchmarking ranges.
		{"192.0.0.8", "IETF protocol assignment (192.0.0.0/24)"},
		{"192.0.1.0", ""},
		{"192.0.2.1", "documentation address (TEST-NET-1)"},
		{"192.0.3.0", ""},
		{"192.88.99.1", "6to4 relay anycast address (deprecated)"},
		{"198.18.0.1", "benchmarking address (RFC 2544)"},
		{"198.19.255.255", "benchmarking address (RFC 2544)"},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"198.51.100.7", "documentation address (TEST-NET-2)"},
		{"203.0.113.9", "documentation address (TEST-NET-3)"},
		{"203.0.114.0", ""},

		// IPv4 multicast, reserved and broadcast.
		{"224.0.0.1", "multicast address"},
		{"239.255.255.250", "multicast address"},
		{"223.255.255.255", ""},
		{"240.0.0.1", "reserved address (240.0.0.0/4)"},
		{"255.255.255.254", "reserved address (240.0.0.0/4)"},
		{"255.255.255.255", "broadcast address"},

		// IPv4 public.
		{"1.1.1.1", ""},
		{"8.8.8.8", ""},
		{"93.184.216.34", ""},

		// IPv4-mapped IPv6 is judged as IPv4.
		{"::ffff:127.0.0.1", "loopback address"},
		{"::ffff:10.0.0.1", "private address (RFC 1918)"},
		{"::ffff:169.254.169.254", "link-local address"},
		{"::ffff:8.8.8.8", ""},

		// IPv6 unspecified, loopback and IPv4-compatible or -translated.
		{"::", "unspecified address"},
		{"::1", "loopback address"},
		{"::7f00:1", "IPv4-compatible address (deprecated)"},
		{"::808:808", "IPv4-compatible address (deprecated)"},
		{"::ffff:0:7f00:1", "IPv4-translated address"},

		// NAT64 is judged by the embedded IPv4 address; local-use NAT64 is refused.
		{"64:ff9b::7f00:1", "NAT64 address embedding 127.0.0.1 (loopback address)"},
		{"64:ff9b::a9fe:a9fe", "NAT64 address embedding 169.254.169.254 (link-local address)"},
		{"64:ff9b::a00:1", "NAT64 address embedding 10.0.0.1 (private address (RFC 1918))"},
		{"64:ff9b::808:808", ""},
		{"64:ff9b:1::808:808", "local-use NAT64 address (RFC 8215)"},

		// 6to4 is judged by the embedded IPv4 address.
		{"2002:7f00:1::1", "6to4 address embedding 127.0.0.1 (loopback address)"},
		{"2002:c0a8:101::1", "6to4 address embedding 192.168.1.1 (private address (RFC 1918))"},
		{"2002:a9fe:a9fe::", "6to4 address embedding 169.254.169.254 (link-local address)"},
		{"2002:808:808::1", ""},

		// IPv6 discard, Teredo, benchmarking, IETF and documentation ranges.
		{"100::1", "discard-only address"},
		{"2001::1", "Teredo tunnelling address"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnelling address"},
		{"2001:2::1", "benchmarking address"},
		{"2001:10::1", "IETF protocol assignment (2001::/23)"},
		{"2001:1ff:ffff::1", "IETF protocol assignment (2001::/23)"},
		{"2001:200::1", ""},
		{"2001:db8::1", "documentation address"},
		{"2001:db8:ffff:ffff::", "documentation address"},
		{"2001:db7:ffff::1", ""},
		{"2001:db9::1", ""},
		{"3fff::1", "documentation address"},
		{"3fff:fff:ffff::1", "documentation address"},
		{"3fff:1000::1", ""},

		// IPv6 unique local, link-local, site-local and multicast.
		{"fc00::1", "unique local address (private)"},
		{"fd00::2", "unique local address (private)"},
		{"fdff:ffff::1", "unique local address (private)"},
		{"fe80::1", "link-local address"},
		{"fe80::1%eth0", "link-local address"},
		{"febf:ffff::1", "link-local address"},
		{"fec0::1", "site-local address (deprecated)"},
		{"ff02::1", "multicast address"},
		{"ff05::1:3", "multicast address"},

		// IPv6 outside 2000::/3.
		{"1000::1", "address outside the IPv6 global unicast range 2000::/3"},
		{"4000::1", "address outside the IPv6 global unicast range 2000::/3"},
		{"5f00::1", "address outside the IPv6 global unicast range 2000::/3"},
		{"e000::1", "address outside the IPv6 global unicast range 2000::/3"},

		// IPv6 public.
		{"2606:4700:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		{"2a00:1450:4001:82b::200e", ""},
		{"2000::1", ""},
		{"3ffe::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			reason, reserved := Reserved(netip.MustParseAddr(tt.addr))
			if reason != tt.reason || reserved != (tt.reason != "") {
				t.Errorf("Reserved(%s) = %q, %v; want %q", tt.addr, reason, reserved, tt.reason)
			}
		})
	}
}

func TestReservedInvalid(t *testing.T) {
	t.Parallel()
	if reason, reserved := Reserved(netip.Addr{}); !reserved || reason != "invalid address" {
		t.Errorf("Reserved(zero Addr) = %q, %v", reason, reserved)
	}
}

// TestReservedCoversEveryRange guards the tables themselves: the first
// address of every listed range is reserved for that range's reason or a
// more specific one listed before it.
func TestReservedCoversEveryRange(t *testing.T) {
	t.Parallel()
	for _, rr := range append(append([]reservedRange{}, reservedV4...), reservedV6...) {
		addr := rr.prefix.Addr()
		if _, reserved := Reserved(addr); !reserved {
			t.Errorf("first address %s of %s is not reserved", addr, rr.prefix)
		}
		if rr.prefix != rr.prefix.Masked() {
			t.Errorf("range %s is not in canonical form", rr.prefix)
		}
	}
}
