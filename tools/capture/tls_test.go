package capture

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/peertest"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/tools/tlsread"
)

// keyLogPort is where dSPACE's example captures (Josev, RiseV2G) carry the
// charger's TLS secrets, one key log line per UDP datagram.
const keyLogPort = 52345

// tlsCaptures are the shared captures with TLS sessions, each with the
// version it reads as and the V2GTP messages of its TLS connections.
var tlsCaptures = []struct {
	name     string
	version  string
	messages int
}{
	{"ISO-20_TLS13_DC_DS5366_Josev.pcapng", "1.3", 112},
	{"ISO-20_mTLS_DC_DS5366_Josev.pcapng", "1.3", 110},
	{"ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng", "1.2", 190},
	{"ISO-2_AC_PnC_TLS_Contract_MeteringReceipt_DS5366_RiseV2G.pcapng", "1.2", 62},
	{"ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng", "1.2", 194},
	{"ISO-2_DC_PnC_TLS_CertUpdate_DS5366_RiseV2G.pcapng", "1.2", 194},
}

// embeddedKeyLog returns the key log lines a capture carries on keyLogPort.
func embeddedKeyLog(t *testing.T, frames []Frame) string {
	var b strings.Builder
	for _, f := range frames {
		p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.DstPort == keyLogPort {
			b.Write(bytes.TrimRight(u.Payload, "\x00\n"))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func openTLS(t *testing.T, name string) ([]Frame, string) {
	t.Helper()
	c, err := Open(shared.Path(t, "captures", "dsv2gshark", name))
	if err != nil {
		t.Fatal(err)
	}
	return c.Frames(), embeddedKeyLog(t, c.Frames())
}

// TestTLSCaptures: every TLS connection of the shared captures reads with
// the secrets the charger sent beside it; none without them.
func TestTLSCaptures(t *testing.T) {
	for _, c := range tlsCaptures {
		t.Run(c.name, func(t *testing.T) {
			frames, kl := openTLS(t, c.name)
			keys, err := tlsread.ReadKeyLog(strings.NewReader(kl))
			if err != nil {
				t.Fatal(err)
			}
			plainMsgs, _ := V2GTP(frames)
			msgs, streams := V2GTPKeys(frames, keys)
			read := 0
			for _, s := range streams {
				if s.Transport != "tcp" {
					continue
				}
				if s.TLSErr != nil || s.Reason != "" || s.TLS != c.version {
					t.Errorf("stream %+v", s)
				}
				read++
			}
			if read == 0 || len(msgs)-len(plainMsgs) != c.messages {
				t.Errorf("%d TLS streams read, %d messages more than without the key log", read, len(msgs)-len(plainMsgs))
			}
		})
	}
}

// TestTLSMatchesTshark: the plaintext of each direction is byte for byte
// what Wireshark's own TLS decryption gives with the same key log.
func TestTLSMatchesTshark(t *testing.T) {
	tshark := peertest.Path(t, "tshark", "tshark", "cross-checks our TLS reading")
	for _, c := range tlsCaptures {
		t.Run(c.name, func(t *testing.T) {
			frames, kl := openTLS(t, c.name)
			path := filepath.Join(t.TempDir(), "keys")
			if err := os.WriteFile(path, []byte(kl), 0o600); err != nil {
				t.Fatal(err)
			}
			keys, _ := tlsread.ReadKeyLog(strings.NewReader(kl))
			msgs, _ := V2GTPKeys(frames, keys)
			ours := map[bool][]byte{} // by whether the server sent it
			var server string
			for _, m := range msgs {
				if m.Transport == "tcp" {
					if server == "" {
						server = m.Dst.String() // the car speaks first
					}
					s := m.Src.String() == server
					ours[s] = v2gtp.AppendMessage(ours[s], m.Header.Type, m.Payload)
				}
			}
			out, err := exec.Command(tshark, "-r", shared.Path(t, "captures", "dsv2gshark", c.name),
				"-o", "tls.keylog_file:"+path, "-q", "-z", "follow,tls,raw,0").Output()
			if err != nil {
				t.Fatal(err)
			}
			theirs := map[bool][]byte{}
			node0 := ""
			for _, l := range strings.Split(string(out), "\n") {
				if a, ok := strings.CutPrefix(l, "Node 0: "); ok {
					node0 = a
					continue
				}
				h := strings.TrimPrefix(l, "\t")
				b, err := hex.DecodeString(h)
				if err != nil || h == "" {
					continue
				}
				fromNode0 := !strings.HasPrefix(l, "\t")
				theirs[fromNode0 == (node0 == server)] = append(theirs[fromNode0 == (node0 == server)], b...)
			}
			if len(theirs[false]) == 0 || !bytes.Equal(ours[false], theirs[false]) || !bytes.Equal(ours[true], theirs[true]) {
				t.Errorf("node 0 %s, server %s: car %d/%d bytes, charger %d/%d bytes (ours/tshark's), equal %v %v", node0, server,
					len(ours[false]), len(theirs[false]), len(ours[true]), len(theirs[true]),
					bytes.Equal(ours[false], theirs[false]), bytes.Equal(ours[true], theirs[true]))
			}
		})
	}
}
