package mdns

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// classQU is the class of a question whose answer may come by unicast
// (RFC 6762 §5.4); in an answer the same bit is cache-flush (§10.2).
const (
	classQU   = dns.ClassINET | 1<<15
	classMask = 1<<15 - 1
)

// answer is what a valid answer gave: the name's addresses and how long to
// keep them.
type answer struct {
	addrs []netip.Addr
	ttl   time.Duration
}

func newID() uint16 {
	var b [2]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

// newQuery is the query for name's A and AAAA records, unicast answer asked.
// Its ID is echoed by responders answering a query from a port other than
// 5353 (RFC 6762 §6.7).
func newQuery(name string, id uint16) ([]byte, error) {
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Id: id, Opcode: dns.OpcodeQuery}}
	m.Question = []dns.Question{
		{Name: name, Qtype: dns.TypeA, Qclass: classQU},
		{Name: name, Qtype: dns.TypeAAAA, Qclass: classQU},
	}
	return m.Pack()
}

// parseAnswer reads pkt, from src, as an answer to the query id for name (in
// canonical form: lower case, a final dot). It takes the A and AAAA records
// for exactly that name from the answer and additional sections, and
// reports whether there was at least one. An address on this host (a
// loopback one) is taken only from a responder on this host; addresses
// that cannot be a host's (unspecified, multicast, broadcast) never; an
// IPv6 link-local one gets the zone the answer came from, or is left out.
func parseAnswer(pkt []byte, name string, id uint16, src netip.Addr) (answer, bool) {
	var m dns.Msg
	if err := m.Unpack(pkt); err != nil {
		return answer{}, false
	}
	if !m.Response || m.Opcode != dns.OpcodeQuery || m.Rcode != dns.RcodeSuccess || m.Id != id && m.Id != 0 {
		return answer{}, false
	}
	src = src.Unmap()
	var a answer
	for _, rr := range slices.Concat(m.Answer, m.Extra) {
		h := rr.Header()
		if h.Class&classMask != dns.ClassINET || h.Ttl == 0 || dns.CanonicalName(h.Name) != name {
			continue // another name's, or a goodbye (TTL 0)
		}
		var ip netip.Addr
		switch v := rr.(type) {
		case *dns.A:
			ip, _ = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			ip, _ = netip.AddrFromSlice(v.AAAA.To16())
			if ip.Is4In6() {
				continue
			}
		default:
			continue
		}
		if !usable(ip, src) {
			continue
		}
		if ip.IsLinkLocalUnicast() && ip.Is6() {
			if src.Zone() == "" {
				continue // not dialable without the interface
			}
			ip = ip.WithZone(src.Zone())
		}
		if !slices.Contains(a.addrs, ip) {
			a.addrs = append(a.addrs, ip)
		}
		ttl := time.Duration(h.Ttl) * time.Second
		if a.ttl == 0 || ttl < a.ttl {
			a.ttl = ttl
		}
	}
	// IPv4 first: the chargers' own networks are IPv4, their IPv6 link-local.
	slices.SortStableFunc(a.addrs, func(x, y netip.Addr) int {
		switch {
		case x.Is4() && !y.Is4():
			return -1
		case !x.Is4() && y.Is4():
			return 1
		}
		return 0
	})
	return a, len(a.addrs) > 0
}

// usable reports whether ip, given by src, may be dialed.
func usable(ip, src netip.Addr) bool {
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case ip.IsLoopback():
		return src.IsLoopback()
	}
	return true
}
