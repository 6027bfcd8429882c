package capture

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ccslink/ccslink/proto/v2gtp"
)

// Addresses of a made-up session: the car (EVCC) and the charger (SECC).
var (
	evcc = netip.MustParseAddrPort("[fe80::1:2ff:fe03:405]:50106")
	secc = netip.MustParseAddrPort("[fe80::c690:83f3:fbcb:980e]:15118")
	t0   = time.Date(2024, 4, 20, 15, 3, 7, 0, time.UTC)
)

// builder makes Ethernet frames, each 1 ms after the previous one.
type builder struct {
	t      testing.TB
	frames []Frame
	vlan   bool // add an 802.1Q tag
}

func (b *builder) add(ls ...gopacket.SerializableLayer) {
	b.t.Helper()
	eth := &layers.Ethernet{
		SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
	}
	all := []gopacket.SerializableLayer{eth}
	next := layers.EthernetTypeIPv6
	switch l := ls[0].(type) {
	case *layers.IPv4:
		next = layers.EthernetTypeIPv4
	case gopacket.Payload:
		next = 0x88E1
		_ = l
	}
	if b.vlan {
		eth.EthernetType = layers.EthernetTypeDot1Q
		all = append(all, &layers.Dot1Q{VLANIdentifier: 7, Type: next})
	} else {
		eth.EthernetType = next
	}
	all = append(all, ls...)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, all...); err != nil {
		b.t.Fatal(err)
	}
	data := append([]byte(nil), buf.Bytes()...)
	b.frames = append(b.frames, Frame{Time: t0.Add(time.Duration(len(b.frames)) * time.Millisecond), Data: data})
}

func ipLayer(src, dst netip.AddrPort, proto layers.IPProtocol) gopacket.NetworkLayer {
	if src.Addr().Is4() {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	}
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
}

// tcp adds a TCP segment; flags holds 'S' for SYN, 'F' for FIN, 'R' for RST.
func (b *builder) tcp(src, dst netip.AddrPort, seq uint32, flags string, payload []byte) {
	b.t.Helper()
	ip := ipLayer(src, dst, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, ACK: true, Window: 8192}
	for _, f := range flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		}
	}
	tcp.SetNetworkLayerForChecksum(ip)
	b.add(ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
}

func (b *builder) udp(src, dst netip.AddrPort, payload []byte) {
	b.t.Helper()
	ip := ipLayer(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	udp.SetNetworkLayerForChecksum(ip)
	b.add(ip.(gopacket.SerializableLayer), udp, gopacket.Payload(payload))
}

// exi frames payload as a V2GTP EXI message.
func exi(payload string) []byte { return v2gtp.AppendMessage(nil, v2gtp.TypeEXI, []byte(payload)) }

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// payloads lists the payloads of msgs as strings, for comparison.
func payloads(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Payload))
	}
	return out
}

// frameIdx lists the frame index of each message.
func frameIdx(msgs []Message) []int {
	var out []int
	for _, m := range msgs {
		out = append(out, m.Frame)
	}
	return out
}
