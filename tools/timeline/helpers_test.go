package timeline

import (
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ccslink/ccslink/tools/capture"
	"github.com/ccslink/ccslink/tools/tlsread"
)

func framesOf(t testing.TB, path string) []capture.Frame {
	t.Helper()
	c, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return c.Frames()
}

// keyLogPort is where dSPACE's example captures carry the charger's TLS
// secrets, one key log line per UDP datagram.
const keyLogPort = 52345

// splitKeyLog returns the key log frames carry on keyLogPort, and the
// frames of TCP port tcpPort.
func splitKeyLog(t testing.TB, frames []capture.Frame, tcpPort layers.TCPPort) (*tlsread.KeyLog, []capture.Frame) {
	t.Helper()
	var b strings.Builder
	var tcp []capture.Frame
	for _, f := range frames {
		p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.DstPort == keyLogPort {
			b.Write(u.Payload)
			b.WriteByte('\n')
		}
		if c, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && (c.SrcPort == tcpPort || c.DstPort == tcpPort) {
			tcp = append(tcp, f)
		}
	}
	k, err := tlsread.ReadKeyLog(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return k, tcp
}
