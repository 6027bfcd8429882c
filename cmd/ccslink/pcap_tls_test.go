package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/peertest"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2gpki"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/capture"
	"github.com/ccslink/ccslink/tools/tlsread"
)

// wire records what both ends of one TCP connection write, in order: the
// segments a capture on the link would hold.
type wire struct {
	mu   sync.Mutex
	segs []segment
	stop bool
}

type segment struct {
	fromCar bool
	data    []byte
}

// Each write is recorded before it is sent, so a request is always
// recorded before the answer it causes.
type tapConn struct {
	net.Conn
	w       *wire
	fromCar bool
}

func (c tapConn) Write(p []byte) (int, error) {
	c.w.mu.Lock()
	if !c.w.stop {
		c.w.segs = append(c.w.segs, segment{c.fromCar, bytes.Clone(p)})
	}
	c.w.mu.Unlock()
	return c.Conn.Write(p)
}

// plainConn keeps what the car writes and reads above TLS.
type plainConn struct {
	net.Conn
	sent, got *bytes.Buffer
}

func (c plainConn) Write(p []byte) (int, error) {
	c.sent.Write(p)
	return c.Conn.Write(p)
}

func (c plainConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.got.Write(p[:n])
	return n, err
}

// The capture's addresses: the car's and the charger's on the modem's link.
var (
	capCar     = net.ParseIP("fe80::232:30ff:fe41:4301")
	capCharger = net.ParseIP("fe80::c690:83f3:fbcb:980e")
)

// writePcap writes the segments as Ethernet/IPv6/TCP frames, one each
// millisecond from t0, after the SYNs.
func (w *wire) writePcap(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pw := pcapgo.NewWriter(f)
	if err := pw.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	seq := map[bool]uint32{true: 1000, false: 5000}
	n := 0
	frame := func(fromCar, syn bool, p []byte) {
		src, dst, sp, dp := capCar, capCharger, 50106, 15118
		smac, dmac := net.HardwareAddr{2, 0x32, 0x30, 0x41, 0x43, 1}, net.HardwareAddr{0xc4, 0x90, 0x83, 0xcb, 0x98, 0x0e}
		if !fromCar {
			src, dst, sp, dp, smac, dmac = dst, src, dp, sp, dmac, smac
		}
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: seq[fromCar], SYN: syn, ACK: !syn || !fromCar, Window: 65535}
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: smac, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv6}, ip, tcp, gopacket.Payload(p)); err != nil {
			t.Fatal(err)
		}
		seq[fromCar] += uint32(len(p))
		if syn {
			seq[fromCar]++
		}
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(n) * time.Millisecond), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := pw.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		n++
	}
	frame(true, true, nil)
	frame(false, true, nil)
	w.mu.Lock()
	defer w.mu.Unlock()
	// One frame per write, however long: the count of frames, and so the
	// times, must not follow the length of a signature.
	for _, s := range w.segs {
		frame(s.fromCar, false, s.data)
	}
}

// tlsSession runs a car against this charger over TLS on loopback with
// the charger's key log on, and writes the capture and the key log.
// carSent and carGot are the plaintext the car wrote and read.
func tlsSession(t *testing.T, profile v2gpki.Profile, carSuites []uint16, car string, cfg secc.Config) (capPath, keyPath string, st tls.ConnectionState, carSent, carGot []byte) {
	t.Helper()
	dir := t.TempDir()
	if err := v2gpki.Init(filepath.Join(dir, "pki"), "DE*CCS*E1"); err != nil {
		t.Fatal(err)
	}
	chain, err := v2gpki.Load(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var keylog bytes.Buffer
	tc, err := chain.ServerConfig(v2gpki.Options{Profile: profile, KeyLog: &keylog})
	if err != nil {
		t.Fatal(err)
	}
	// A TLS 1.3 server sends its session tickets while the car may write:
	// left out, the order of the writes is fixed.
	tc.SessionTicketsDisabled = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	w := &wire{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := secc.NewServer(cfg, func(record.Event) {})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.ServeConn(ctx, tls.Server(tapConn{c, w, false}, tc))
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc := tls.Client(tapConn{raw, w, true}, &tls.Config{InsecureSkipVerify: true, CurvePreferences: tc.CurvePreferences, CipherSuites: carSuites})
	if err := cc.Handshake(); err != nil {
		t.Fatal(err)
	}
	p, err := evcc.Lookup(car)
	if err != nil {
		t.Fatal(err)
	}
	var sent, got bytes.Buffer
	res, err := evcc.Run(ctx, plainConn{cc, &sent, &got}, evcc.Config{Profile: p, ResponseTimeout: 10 * time.Second})
	w.mu.Lock()
	w.stop = true // the closing alerts race each other
	w.mu.Unlock()
	cc.Close()
	<-done
	if err != nil || res.End != evcc.EndComplete {
		t.Fatalf("the car: %v %v", res.End, err)
	}
	capPath, keyPath = filepath.Join(dir, "tls.pcap"), filepath.Join(dir, "keys.log")
	w.writePcap(t, capPath)
	if err := os.WriteFile(keyPath, keylog.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return capPath, keyPath, cc.ConnectionState(), sent.Bytes(), got.Bytes()
}

// TestPcapKeyLog: sessions with this charger over TLS 1.2 (ISO-2) and
// TLS 1.3 (-20), captured on the wire, read message by message with the
// charger's key log, and not without it; the plaintext read is byte for
// byte what the car sent and received, and what tshark reads.
func TestPcapKeyLog(t *testing.T) {
	iso20 := secc.Config{EVSEID: "DE*CCS*E1", Policy: secc.PolicyAC, Preference: secc.PreferenceISO20(secc.PolicyAC, true)}
	for _, c := range []struct {
		name      string
		profile   v2gpki.Profile
		carSuites []uint16
		car       string
		cfg       secc.Config
		suite     uint16
		golden    string
		replay    string // the replay's JSON after the policy
	}{
		// For TLS 1.2 the car offers the suite Go offers only when told.
		{"TLS 1.2", v2gpki.ISO2, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}, "ac-only", secc.Config{EVSEID: "DE*CCS*E1", Policy: secc.PolicyAC},
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "pcap_tls12.txt", `"ok":true,"protocol":"iso2","evccid":"001823372340","soc":-1,"full_soc":-1,"energy_capacity_wh":-1,"energy_request_wh":73000,"steps":14,"end":"session_stop","sessions":1}`},
		{"TLS 1.3 AES", v2gpki.ISO20, nil, "iso20-ac", iso20, tls.TLS_AES_128_GCM_SHA256, "pcap_tls13.txt", `"ok":true,"protocol":"iso20","evccid":"023230414301","soc":44,"full_soc":-1,"energy_capacity_wh":77000,"energy_request_wh":30000,"steps":17,"end":"session_stop","sessions":1}`},
		// A car that ranks ChaCha20 first gets it, as every car does from a
		// charger whose CPU lacks AES instructions.
		{"TLS 1.3 ChaCha20", v2gpki.ISO20, []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, "iso20-ac", iso20,
			tls.TLS_CHACHA20_POLY1305_SHA256, "pcap_tls13_chacha.txt", `"ok":true,"protocol":"iso20","evccid":"023230414301","soc":44,"full_soc":-1,"energy_capacity_wh":77000,"energy_request_wh":30000,"steps":17,"end":"session_stop","sessions":1}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			capPath, keyPath, st, sent, got := tlsSession(t, c.profile, c.carSuites, c.car, c.cfg)
			if st.CipherSuite != c.suite {
				t.Fatalf("suite %s", tls.CipherSuiteName(st.CipherSuite))
			}
			want, err := os.ReadFile(filepath.Join("testdata", c.golden))
			if err != nil {
				t.Fatal(err)
			}
			if out := runPcapCmd(t, "--keylog", keyPath, capPath); out != string(want) {
				t.Errorf("with the key log:\n%s\nwant (testdata/%s):\n%s", out, c.golden, want)
			}
			_, rest, _ := strings.Cut(strings.SplitN(string(want), "\n", 2)[0], "Bytes=")
			n, _, _ := strings.Cut(rest, " ")
			if l := strings.SplitN(runPcapCmd(t, capPath), "\n", 2)[0]; !strings.HasSuffix(l, "  error: TLS: "+n+" bytes encrypted; give a key log (ccslink pcap --keylog FILE) to read it") {
				t.Errorf("without the key log: %s", l)
			}

			// Replayed with the key log, the car's requests play again.
			var rout, rerr bytes.Buffer
			if code := run([]string{"replay", "--policy", "ac", "--json", "--keylog", keyPath, capPath}, nil, &rout, &rerr); code != 0 ||
				rout.String() != `{"capture":"`+capPath+`","policy":"ac",`+c.replay+"\n" {
				t.Errorf("replay: exit %d\n%s%s", code, rout.String(), rerr.String())
			}

			// The plaintext read, as the V2GTP messages of each side.
			cp, err := capture.Open(capPath)
			if err != nil {
				t.Fatal(err)
			}
			kf, _ := os.Open(keyPath)
			keys, err := tlsread.ReadKeyLog(kf)
			kf.Close()
			if err != nil {
				t.Fatal(err)
			}
			msgs, _ := capture.V2GTPKeys(cp.Frames(), keys)
			var car, charger []byte
			for _, m := range msgs {
				if m.Src.Port() == 50106 {
					car = v2gtp.AppendMessage(car, m.Header.Type, m.Payload)
				} else {
					charger = v2gtp.AppendMessage(charger, m.Header.Type, m.Payload)
				}
			}
			if !bytes.Equal(car, sent) || !bytes.Equal(charger, got) {
				t.Errorf("read %d and %d bytes; the car sent %d and got %d", len(car), len(charger), len(sent), len(got))
			}
			tshark := peertest.Find(t, "tshark", "tshark", "cross-checks our TLS reading")
			if tshark == "" {
				return
			}
			out, err := exec.Command(tshark, "-r", capPath, "-o", "tls.keylog_file:"+keyPath, "-q", "-z", "follow,tls,raw,0").Output()
			if err != nil {
				t.Fatal(err)
			}
			var theirs [2][]byte // the car's, the charger's
			carFirst := false    // node 0 is the car
			for _, l := range strings.Split(string(out), "\n") {
				if a, ok := strings.CutPrefix(l, "Node 0: "); ok {
					carFirst = strings.HasSuffix(a, ":50106")
				}
				h := strings.TrimPrefix(l, "\t")
				if b, err := hex.DecodeString(h); err == nil && h != "" {
					node1 := strings.HasPrefix(l, "\t")
					i := 0
					if node1 == carFirst {
						i = 1
					}
					theirs[i] = append(theirs[i], b...)
				}
			}
			if !bytes.Equal(theirs[0], sent) || !bytes.Equal(theirs[1], got) {
				t.Errorf("tshark read %d and %d bytes; the car sent %d and got %d", len(theirs[0]), len(theirs[1]), len(sent), len(got))
			}
		})
	}
}

// TestPcapKeyLogShared: dSPACE's ISO 15118-20 DC session over TLS 1.3
// (AES-256-GCM-SHA384), read with the key log the capture carries on UDP
// port 52345: the loop's SoC, power and limits, line by line.
func TestPcapKeyLogShared(t *testing.T) {
	path := shared.Path(t, "captures", "dsv2gshark", "ISO-20_TLS13_DC_DS5366_Josev.pcapng")
	c, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var kl bytes.Buffer
	for _, f := range c.Frames() {
		p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.DstPort == 52345 {
			kl.Write(u.Payload)
			kl.WriteByte('\n')
		}
	}
	keyPath := filepath.Join(t.TempDir(), "keys.log")
	if err := os.WriteFile(keyPath, kl.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runPcapCmd(t, "--keylog", keyPath, path)
	for _, w := range []string{
		"   61.508 s  stream                 TCP [fe80::d268:d455:802a:22b6]:58689 -> [fe80::664d:70ff:fe01:3bf]:55119 Content=\"TLS 1.3 read with the key log\" Bytes=3763 Skipped=0\n",
		"   63.334 s  v2g       car->charger SessionSetupReq EVCCID=WMIV1234567890ABCDEX\n",
		"   68.420 s  v2g       car->charger DC_ChargeLoopReq PresentSOC=10 % ChargingComplete=false EVPresentVoltage=460 V EVTargetEnergyRequest=200 Wh EVMaximumEnergyRequest=200 Wh EVMinimumEnergyRequest=20 Wh EVMaximumChargePower=4000 W EVMinimumChargePower=400 W EVMaximumChargeCurrent=40 A EVMaximumVoltage=400 V EVMinimumVoltage=40 V\n",
		"   68.520 s  v2g       charger->car DC_ChargeLoopRes ResponseCode=OK EVSEPresentCurrent=0 A EVSEPresentVoltage=351.6 V EVSEPowerLimitAchieved=false EVSECurrentLimitAchieved=true EVSEVoltageLimitAchieved=false EVSEMaximumChargePower=150000 W EVSEMinimumChargePower=0 W EVSEMaximumChargeCurrent=500 A EVSEMaximumVoltage=1000 V (99.8 ms)\n",
		"   70.026 s  v2g       car->charger DC_ChargeLoopReq PresentSOC=100 % ChargingComplete=true",
		"\nsession 1 (45.055 s to 76.986 s): the car ended the session (SessionStop)\n",
		"  protocol          ISO 15118-20 DC\n  EVCCID            WMIV1234567890ABCDEX\n  SoC               10 %\n  energy request    40000 Wh\n  requests          56, slowest answer 105.5 ms\n  encrypted         yes (TLS)\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the timeline lacks %q", w)
		}
	}
	if n := strings.Count(out, " v2g  "); n != 110 {
		t.Errorf("%d V2G lines", n)
	}
}
