package egress

import (
	"fmt"
	"net/netip"
	"syscall"
)

// BlockedAddressError is the error of a connection refused by the guard.
// Client.Do returns it as is (not wrapped), so both errors.As and a type
// assertion find it.
type BlockedAddressError struct {
	// IP is the address that was about to be dialled, IPv4-mapped
	// addresses unmapped.
	IP netip.Addr
	// Reason is what the address is, e.g. "loopback address".
	Reason string
}

func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("egress: refusing to connect to %s: %s not allowed", e.IP, e.Reason)
}

// Guard decides which IP addresses may be dialled: those that are not
// Reserved, and those inside its allowed subnets. The zero Guard allows only
// public addresses. A Guard is safe for concurrent use.
type Guard struct {
	allowed []netip.Prefix
}

// NewGuard returns a Guard that also lets the addresses of allowed through.
// Invalid prefixes are ignored, and IPv4-mapped IPv6 prefixes
// (::ffff:a.b.c.d/n, n >= 96) are read as the IPv4 prefix they map.
func NewGuard(allowed []netip.Prefix) *Guard {
	g := &Guard{}
	for _, p := range allowed {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		g.allowed = append(g.allowed, p.Masked())
	}
	return g
}

// Check returns nil when addr may be dialled, and otherwise a
// *BlockedAddressError saying why not.
func (g *Guard) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	bare := addr.WithZone("")
	for _, p := range g.allowed {
		if p.Contains(bare) {
			return nil
		}
	}
	if reason, reserved := Reserved(addr); reserved {
		return &BlockedAddressError{IP: addr, Reason: reason}
	}
	return nil
}

// control is a net.Dialer Control function: it runs after the socket is
// created and before connect(2), with the resolved address being dialled,
// so a refusal sends nothing on the wire.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("egress: refusing to dial %s network %q: only TCP is allowed", address, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: refusing to dial unparseable address %q: %w", address, err)
	}
	return g.Check(ap.Addr())
}
