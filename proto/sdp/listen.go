package sdp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"golang.org/x/net/ipv6"
)

// Listen opens a UDP socket on [::]:port that receives only what arrives on
// the interface ifname, and joins ff02::1 there: the charger's SDP socket
// with port 15118, the car's with port 0 (any free port). The interface
// needs an IPv6 link-local address, the source of every SDP datagram.
func Listen(ifname string, port int) (net.PacketConn, error) {
	ifi, err := iface(ifname)
	if err != nil {
		return nil, err
	}
	if _, err := linkLocal(ifi); err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = bindToDevice(int(fd), ifname) }); err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), "udp6", fmt.Sprintf("[::]:%d", port))
	if err != nil {
		switch {
		case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
			return nil, fmt.Errorf("%w: UDP port %d on %s: %w (run as root or with CAP_NET_RAW and CAP_NET_BIND_SERVICE)", ErrPermission, port, ifname, err)
		case errors.Is(err, syscall.EADDRINUSE):
			return nil, fmt.Errorf("%w: UDP port %d on %s: is another SDP server running there?", ErrInUse, port, ifname)
		}
		return nil, fmt.Errorf("%w: UDP port %d on %s: %w", ErrSocket, port, ifname, err)
	}
	p := ipv6.NewPacketConn(c)
	if err := p.JoinGroup(ifi, &net.UDPAddr{IP: net.IPv6linklocalallnodes}); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: joining ff02::1 on %s: %w", ErrSocket, ifname, err)
	}
	// Requests to ff02::1 without a zone leave through ifname too.
	if err := p.SetMulticastInterface(ifi); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: multicast interface %s: %w", ErrSocket, ifname, err)
	}
	return c, nil
}

// LinkLocal returns the first IPv6 link-local address of the interface
// ifname, with ifname as its zone: the address a charger announces.
func LinkLocal(ifname string) (netip.Addr, error) {
	ifi, err := iface(ifname)
	if err != nil {
		return netip.Addr{}, err
	}
	return linkLocal(ifi)
}

func iface(name string) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err == nil {
		return ifi, nil
	}
	all, lerr := net.Interfaces()
	if lerr != nil {
		return nil, fmt.Errorf("%w: %q (%v)", ErrNoInterface, name, err)
	}
	names := make([]string, len(all))
	for i, x := range all {
		names[i] = x.Name
	}
	return nil, fmt.Errorf("%w: %q; there are: %s", ErrNoInterface, name, strings.Join(names, ", "))
}

func linkLocal(ifi *net.Interface) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %s: listing its addresses: %w", ErrNoLinkLocal, ifi.Name, err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if ok && ip.Is6() && !ip.Is4In6() && ip.IsLinkLocalUnicast() {
			return ip.WithZone(ifi.Name), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: %s (is it up, with IPv6 enabled? sysctl net.ipv6.conf.%s.disable_ipv6)", ErrNoLinkLocal, ifi.Name, ifi.Name)
}
