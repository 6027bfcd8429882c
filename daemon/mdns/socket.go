package mdns

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// unicastSocket asks one responder at to by unicast; only its answers count.
func unicastSocket(to netip.AddrPort) (*socket, error) {
	network := "udp4"
	if to.Addr().Unmap().Is6() {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, err
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	return &socket{
		conn:    conn,
		targets: []target{{to: to}},
		from: func(src netip.AddrPort) bool {
			return src.Addr().Unmap().WithZone("") == to.Addr().WithZone("") && src.Port() == to.Port()
		},
	}, nil
}

// multicastSockets opens a socket per address family with a multicast
// interface that is up, to send the query to the family's group on each.
// Answers count only from an address on one of those interfaces' links.
func multicastSockets() ([]*socket, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var v4, v6 []*net.Interface
	var links []netip.Prefix // the on-link prefixes answers may come from
	for i := range ifis {
		ifi := &ifis[i]
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		has4, has6 := false, false
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ones, _ := n.Mask.Size()
			ip = ip.Unmap()
			if ip.Is4() {
				has4 = true
				if ones > 0 { // never a default route's worth of "link"
					links = append(links, netip.PrefixFrom(ip, ones).Masked())
				}
			} else {
				has6 = true
				if ones > 0 && !ip.IsLinkLocalUnicast() {
					links = append(links, netip.PrefixFrom(ip, ones).Masked())
				}
			}
		}
		if has4 {
			v4 = append(v4, ifi)
		}
		if has6 {
			v6 = append(v6, ifi)
		}
	}
	if len(v4) == 0 && len(v6) == 0 {
		return nil, ErrNoInterface
	}
	onLink := func(src netip.AddrPort) bool {
		a := src.Addr().Unmap()
		if a.IsLinkLocalUnicast() {
			return true
		}
		a = a.WithZone("")
		for _, p := range links {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	var socks []*socket
	var firstErr error
	if len(v4) > 0 {
		conn, err := net.ListenUDP("udp4", nil)
		if err == nil {
			p := ipv4.NewPacketConn(conn)
			p.SetMulticastTTL(255) // RFC 6762 §11
			s := &socket{conn: conn, from: onLink}
			for _, ifi := range v4 {
				s.targets = append(s.targets, target{to: group4, ifi: ifi, set: p.SetMulticastInterface})
			}
			socks = append(socks, s)
		} else {
			firstErr = err
		}
	}
	if len(v6) > 0 {
		conn, err := net.ListenUDP("udp6", nil)
		if err == nil {
			ipv6.NewPacketConn(conn).SetMulticastHopLimit(255)
			s := &socket{conn: conn, from: onLink}
			for _, ifi := range v6 {
				s.targets = append(s.targets, target{to: netip.AddrPortFrom(group6.Addr().WithZone(ifi.Name), group6.Port())})
			}
			socks = append(socks, s)
		} else if firstErr == nil {
			firstErr = err
		}
	}
	if len(socks) == 0 {
		return nil, firstErr
	}
	return socks, nil
}
