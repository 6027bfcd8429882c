package capture

import (
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// FirstFrame returns the index in frames of the first frame that carries
// payload of the stream s (as V2GTP reported it), or -1 when none does.
// It tells when an undecodable stream, such as a TLS one, began.
func FirstFrame(frames []Frame, s Stream) int {
	var (
		eth  layers.Ethernet
		vlan layers.Dot1Q
		ip4  layers.IPv4
		ip6  layers.IPv6
		tcp  layers.TCP
		udp  layers.UDP
		got  []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &vlan, &ip4, &ip6, &tcp, &udp)
	p.IgnoreUnsupported = true
	for i, f := range frames {
		_ = p.DecodeLayers(f.Data, &got)
		var src, dst netip.Addr
		for _, lt := range got {
			switch lt {
			case layers.LayerTypeIPv4:
				src, _ = netip.AddrFromSlice(ip4.SrcIP)
				dst, _ = netip.AddrFromSlice(ip4.DstIP)
			case layers.LayerTypeIPv6:
				src, _ = netip.AddrFromSlice(ip6.SrcIP)
				dst, _ = netip.AddrFromSlice(ip6.DstIP)
			case layers.LayerTypeTCP:
				if s.Transport == "tcp" && len(tcp.Payload) > 0 &&
					netip.AddrPortFrom(src, uint16(tcp.SrcPort)) == s.Src && netip.AddrPortFrom(dst, uint16(tcp.DstPort)) == s.Dst {
					return i
				}
			case layers.LayerTypeUDP:
				if s.Transport == "udp" && len(udp.Payload) > 0 &&
					netip.AddrPortFrom(src, uint16(udp.SrcPort)) == s.Src && netip.AddrPortFrom(dst, uint16(udp.DstPort)) == s.Dst {
					return i
				}
			}
		}
	}
	return -1
}
