package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestGuardCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allowed []netip.Prefix
		addr    string
		wantErr string // "" means allowed
	}{
		// No whitelist: reserved addresses refused, public ones allowed.
		{"loopback", nil, "127.0.0.1", "egress: refusing to connect to 127.0.0.1: loopback address not allowed"},
		{"mapped loopback", nil, "::ffff:127.0.0.1", "egress: refusing to connect to 127.0.0.1: loopback address not allowed"},
		{"IPv6 loopback", nil, "::1", "egress: refusing to connect to ::1: loopback address not allowed"},
		{"metadata", nil, "169.254.169.254", "egress: refusing to connect to 169.254.169.254: link-local address not allowed"},
		{"private", nil, "10.0.0.1", "egress: refusing to connect to 10.0.0.1: private address (RFC 1918) not allowed"},
		{"zoned link-local", nil, "fe80::1%eth0", "egress: refusing to connect to fe80::1%eth0: link-local address not allowed"},
		{"public IPv4", nil, "8.8.8.8", ""},
		{"public IPv6", nil, "2606:4700:4700::1111", ""},

		// A whitelist lets its ranges through, and only those.
		{"whitelisted loopback", prefixes("127.0.0.0/8"), "127.0.0.1", ""},
		{"whitelisted loopback, mapped", prefixes("127.0.0.0/8"), "::ffff:127.0.0.2", ""},
		{"whitelist is per family", prefixes("127.0.0.0/8"), "::1", "loopback address not allowed"},
		{"whitelist does not widen", prefixes("127.0.0.0/8"), "10.0.0.1", "private address (RFC 1918) not allowed"},
		{"whitelisted IPv6 loopback", prefixes("::1/128"), "::1", ""},
		{"whitelisted private subnet", prefixes("10.1.0.0/16"), "10.1.2.3", ""},
		{"outside the whitelisted subnet", prefixes("10.1.0.0/16"), "10.2.0.1", "private address (RFC 1918) not allowed"},
		{"whitelisted link-local with zone", prefixes("fe80::/10"), "fe80::1%eth0", ""},
		{"public still allowed with a whitelist", prefixes("127.0.0.0/8"), "1.1.1.1", ""},

		// Whitelist normalisation.
		{"mapped whitelist prefix", prefixes("::ffff:127.0.0.0/104"), "127.0.0.1", ""},
		{"unmasked whitelist prefix", prefixes("127.0.0.9/8"), "127.1.2.3", ""},
		{"invalid whitelist prefix ignored", []netip.Prefix{{}}, "127.0.0.1", "loopback address not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := NewGuard(tt.allowed).Check(netip.MustParseAddr(tt.addr))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want nil", tt.addr, err)
				}
				return
			}
			var blocked *BlockedAddressError
			if !errors.As(err, &blocked) {
				t.Fatalf("Check(%s) = %v, want a *BlockedAddressError", tt.addr, err)
			}
			if got := err.Error(); !strings.Contains(got, tt.wantErr) {
				t.Errorf("Check(%s) = %q, want %q", tt.addr, got, tt.wantErr)
			}
		})
	}
}

func TestZeroGuard(t *testing.T) {
	t.Parallel()
	var g Guard
	if g.Check(netip.MustParseAddr("127.0.0.1")) == nil || g.Check(netip.MustParseAddr("8.8.8.8")) != nil {
		t.Error("the zero Guard must allow exactly the public addresses")
	}
}

// TestGuardControl runs the dialer hook on addresses that must never be
// dialled for real; it creates no socket.
func TestGuardControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		network     string
		address     string
		wantBlocked string // the refused IP
		wantErr     bool
	}{
		// Reserved targets refused before connect.
		{"cloud metadata", "tcp4", "169.254.169.254:80", "169.254.169.254", true},
		{"private", "tcp4", "10.0.0.1:443", "10.0.0.1", true},
		{"CGNAT", "tcp4", "100.64.1.1:443", "100.64.1.1", true},
		{"mapped loopback", "tcp6", "[::ffff:127.0.0.1]:80", "127.0.0.1", true},
		{"unique local", "tcp6", "[fd00::1]:80", "fd00::1", true},
		{"zoned link-local", "tcp6", "[fe80::1%eth0]:80", "fe80::1%eth0", true},

		// Other refusals.
		{"UDP", "udp4", "8.8.8.8:53", "", true},
		{"unparseable", "tcp4", "example.com:80", "", true},
		{"no port", "tcp4", "8.8.8.8", "", true},

		// Public targets pass.
		{"public IPv4", "tcp4", "8.8.8.8:443", "", false},
		{"public IPv6", "tcp6", "[2606:4700:4700::1111]:443", "", false},
	}
	g := NewGuard(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := g.control(tt.network, tt.address, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("control(%s, %s) = %v, want error %v", tt.network, tt.address, err, tt.wantErr)
			}
			var blocked *BlockedAddressError
			isBlocked := errors.As(err, &blocked)
			if isBlocked != (tt.wantBlocked != "") {
				t.Fatalf("control(%s, %s) = %v, want blocked %q", tt.network, tt.address, err, tt.wantBlocked)
			}
			if isBlocked && blocked.IP.String() != tt.wantBlocked {
				t.Errorf("blocked IP = %s, want %s", blocked.IP, tt.wantBlocked)
			}
		})
	}
}

// FuzzGuardControl feeds the dialer hook arbitrary addresses: it never
// panics, and it lets an address through only if it parses and is public.
func FuzzGuardControl(f *testing.F) {
	for _, s := range []string{"127.0.0.1:80", "[::ffff:127.0.0.1]:80", "[fe80::1%eth0]:80", "8.8.8.8:443", "[64:ff9b::7f00:1]:80", "x:1", ""} {
		f.Add(s)
	}
	g := NewGuard(nil)
	f.Fuzz(func(t *testing.T, address string) {
		if g.control("tcp6", address, nil) != nil {
			return
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			t.Fatalf("control let unparseable %q through", address)
		}
		if reason, reserved := Reserved(ap.Addr()); reserved {
			t.Fatalf("control let %q through although it is a %s", address, reason)
		}
	})
}

// FuzzReserved checks that an IPv4-mapped address is judged as its IPv4
// address, and that the guard refuses exactly what Reserved reports.
func FuzzReserved(f *testing.F) {
	for _, s := range []string{"::ffff:127.0.0.1", "::1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2606:4700:4700::1111"} {
		b := netip.MustParseAddr(s).As16()
		f.Add(b[:])
	}
	g := NewGuard(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			return
		}
		addr := netip.AddrFrom16([16]byte(b))
		reason, reserved := Reserved(addr)
		if addr.Is4In6() {
			if r4, res4 := Reserved(addr.Unmap()); r4 != reason || res4 != reserved {
				t.Fatalf("Reserved(%s) = %q, but its IPv4 form gives %q", addr, reason, r4)
			}
		}
		var blocked *BlockedAddressError
		if err := g.Check(addr); errors.As(err, &blocked) != reserved || (reserved && blocked.Reason != reason) {
			t.Fatalf("Check(%s) = %v, Reserved = %q, %v", addr, err, reason, reserved)
		}
	})
}
