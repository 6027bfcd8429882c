package charger

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// The car's end of the veth pair, its MAC-derived link-local address, and
// a stranger's address added on the same cable.
var (
	vethCarMAC = net.HardwareAddr{0x02, 0xcc, 0, 0, 0x0e, 0x02}
	vethCarLL  = netip.MustParseAddr("fe80::cc:ff:fe00:e02")
	strangerLL = netip.MustParseAddr("fe80::bad")
)

// vethRig is a charger in one network namespace with real SDP and V2G
// sockets on a veth pair, and a car (and a stranger) in the other.
type vethRig struct {
	slac     *fakeSLAC
	nsE, nsP *netnstest.Namespace
	sink     *sink
	setups   chan struct{} // the car's SessionSetupReq reached the record
	announce netip.AddrPort
	sdpStats func() sdp.Stats
}

type setupSink struct {
	*sink
	setups chan struct{}
}

func (s setupSink) Event(e record.Event, r *record.Session) {
	s.sink.Event(e, r)
	if e.Kind == record.KindSessionSetup {
		select {
		case s.setups <- struct{}{}:
		default:
		}
	}
}

func newVethRig(t *testing.T) *vethRig {
	t.Helper()
	nsE, nsP := netnstest.NewVethPair(t, netnstest.Config{IfaceA: "evse0", IfaceB: "car0", MACB: vethCarMAC})
	if nsP.LinkLocal.WithZone("") != vethCarLL {
		t.Fatalf("the car's link-local address is %v, want the EUI-64 %v", nsP.LinkLocal, vethCarLL)
	}
	nsP.IP(t, "addr", "add", strangerLL.String()+"/64", "dev", nsP.Iface, "nodad")
	r := &vethRig{slac: newFakeSLAC(), nsE: nsE, nsP: nsP, setups: make(chan struct{}, 1),
		sink: &sink{ended: make(chan *record.Session, 1), v2gEnd: make(chan struct{}, 4)}}
	var (
		sdpConn net.PacketConn
		ln      net.Listener
	)
	nsE.Do(t, func() {
		var err error
		if sdpConn, err = sdp.Listen(nsE.Iface, sdp.Port); err != nil {
			t.Fatal(err)
		}
		if ln, err = secc.Listen(net.JoinHostPort(nsE.LinkLocal.String(), "0")); err != nil {
			t.Fatal(err)
		}
	})
	r.announce = netip.AddrPortFrom(nsE.LinkLocal.WithZone(""), uint16(ln.Addr().(*net.TCPAddr).Port))
	ch, err := New(Config{SLAC: r.slac, SDP: sdpConn, V2G: ln, Announce: r.announce, SECC: secc.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	r.sdpStats = ch.SDPStats
	ch.Subscribe(setupSink{r.sink, r.setups})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		sdpConn.Close()
	})
	return r
}

// dial opens a V2G connection from the address from on the car's side of the cable.
func (r *vethRig) dial(t *testing.T, from netip.Addr, to netip.AddrPort) net.Conn {
	t.Helper()
	var c net.Conn
	r.nsP.Do(t, func() {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from.AsSlice(), Zone: r.nsP.Iface}}
		var err error
		if c, err = d.Dial("tcp6", netip.AddrPortFrom(to.Addr().WithZone(r.nsP.Iface), to.Port()).String()); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// discover asks for the charger by SDP from the car's own address.
func (r *vethRig) discover(t *testing.T) netip.AddrPort {
	t.Helper()
	var udp net.PacketConn
	r.nsP.Do(t, func() {
		var err error
		if udp, err = net.ListenUDP("udp6", &net.UDPAddr{IP: vethCarLL.AsSlice(), Zone: r.nsP.Iface}); err != nil {
			t.Fatal(err)
		}
	})
	defer udp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// One request every 2 s: a test counts the requests the charger heard.
	resp, err := sdp.Discover(ctx, udp, nil, sdp.ClientConfig{Interface: r.nsP.Iface, Interval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return netip.AddrPortFrom(resp.Addr.Addr().WithZone(""), resp.Addr.Port())
}

// strayRequests are what a stranger sends at once: its handshake, a
// SessionSetupReq with its own EVCCID and a ChargeParameterDiscoveryReq
// with SoC 7.
func strayRequests(t *testing.T) []byte {
	var b []byte
	b = v2gtp.AppendMessage(b, v2gtp.TypeEXI, ioniqSAP(t))
	for _, body := range []din.BodyType{
		{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{0x02, 0xba, 0xd0, 0, 0, 7}}},
		{ChargeParameterDiscoveryReq: &din.ChargeParameterDiscoveryReqType{EVRequestedEnergyTransferType: din.EVRequestedEnergyTransferDC_extended,
			DC_EVChargeParameter: &din.DC_EVChargeParameterType{DC_EVStatus: din.DC_EVStatusType{EVRESSSOC: 7},
				EVMaximumCurrentLimit: din.PhysicalValueType{Value: 100}, EVMaximumVoltageLimit: din.PhysicalValueType{Value: 400}}}},
	} {
		p, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: []byte{0}}, Body: body}})
		if err != nil {
			t.Fatal(err)
		}
		b = v2gtp.AppendMessage(b, v2gtp.TypeEXI, p)
	}
	return b
}

// refused checks that the charger closed c without answering.
func refused(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 64))
	if n != 0 || err == nil || errors.Is(err, errTimeout) || isTimeout(err) {
		t.Fatalf("the stranger read %d bytes, %v; want its connection closed unanswered", n, err)
	}
	if err != io.EOF && !errors.Is(err, net.ErrClosed) {
		t.Logf("stranger's connection: %v", err) // a reset: it had written unread requests
	}
}

var errTimeout = errors.New("timeout")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// runCar plays the Ioniq, paced as the real one (270 ms between an answer
// and its next request), from its own address.
func (r *vethRig) runCar(t *testing.T, to netip.AddrPort) (evcc.Result, error) {
	return r.runIoniq(t, to, true)
}

// runCarUnpaced plays the Ioniq asking at once.
func (r *vethRig) runCarUnpaced(t *testing.T, to netip.AddrPort) (evcc.Result, error) {
	return r.runIoniq(t, to, false)
}

func (r *vethRig) runIoniq(t *testing.T, to netip.AddrPort, paced bool) (evcc.Result, error) {
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		t.Fatal(err)
	}
	conn := r.dial(t, vethCarLL, to)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := evcc.Run(ctx, conn, evcc.Config{Profile: p, EVCCID: [6]byte(vethCarMAC), Paced: paced})
	conn.Close()
	return res, err
}

// checkCarRecord: the plug-in holds the car's values and EVCCID, and one connection.
func (r *vethRig) checkCarRecord(t *testing.T, rec *record.Session) {
	t.Helper()
	if rec.EVCCIDHex() != "02cc00000e02" || rec.SoC.Value != 93 || rec.FullSOC.Value != 94 || rec.EnergyCapacityWh.Value != 28000 ||
		rec.End != record.EndSessionStop || rec.EVMAC != "02:cc:00:00:0e:02" {
		t.Fatalf("record: %+v", rec)
	}
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	connected := 0
	for _, e := range r.sink.events {
		switch e.Kind {
		case record.KindConnected:
			connected++
		case record.KindValues:
			if e.Values.SoC != nil && *e.Values.SoC != 93 {
				t.Errorf("values with SoC %d published", *e.Values.SoC)
			}
		case record.KindSessionSetup:
			if string(e.EVCCID) != string(vethCarMAC) {
				t.Errorf("EVCCID %x published", e.EVCCID)
			}
		}
	}
	if connected != 1 {
		t.Errorf("%d connections published, want the car's one", connected)
	}
}

// TestStrayBeforeMatch: a V2G connection before any car matched, with
// another car's values, publishes nothing; the car that then matches is
// served with its own values and EVCCID.
func TestStrayBeforeMatch(t *testing.T) {
	r := newVethRig(t)
	stray := r.dial(t, strangerLL, r.announce)
	stray.Write(strayRequests(t))
	refused(t, stray) // after secc.AdmitWait: no car matched
	r.sink.mu.Lock()
	n := len(r.sink.events)
	r.sink.mu.Unlock()
	if n != 1 { // slac_started
		t.Fatalf("%d events published before the car: %v", n, r.sink.events)
	}

	r.slac.plug <- homeplug.MAC(vethCarMAC)
	res, err := r.runCar(t, r.discover(t))
	if err != nil || res.End != evcc.EndShutdown {
		t.Fatalf("car: %v, %v", res.End, err)
	}
	<-r.sink.v2gEnd
	r.slac.unplug <- struct{}{}
	r.checkCarRecord(t, <-r.sink.ended)
}

// TestStrayDuringSession: a stranger connects while a car paced like the
// real Ioniq is at SessionSetupReq, and sends its own SessionSetupReq and
// ChargeParameterDiscoveryReq: it is refused, and the car's session
// completes with exactly the car's values and EVCCID.
func TestStrayDuringSession(t *testing.T) {
	r := newVethRig(t)
	r.slac.plug <- homeplug.MAC(vethCarMAC)
	v2g := r.discover(t)
	type result struct {
		res evcc.Result
		err error
	}
	car := make(chan result, 1)
	go func() {
		res, err := r.runCar(t, v2g)
		car <- result{res, err}
	}()
	<-r.setups // the car's SessionSetupReq was answered; its next request comes in 270 ms
	stray := r.dial(t, strangerLL, v2g)
	stray.Write(strayRequests(t))
	refused(t, stray)
	c := <-car
	if c.err != nil || c.res.End != evcc.EndShutdown || c.res.Sent.SoC != 93 {
		t.Fatalf("car: %v, %v, %+v", c.res.End, c.err, c.res.Sent)
	}
	<-r.sink.v2gEnd
	r.slac.unplug <- struct{}{}
	r.checkCarRecord(t, <-r.sink.ended)
}

// TestStraySDP: after the car's match, a stranger's SDP request is
// answered but is no evidence of the car: SLAC does not hear of it and the
// record's SDP phase is the car's.
func TestStraySDP(t *testing.T) {
	r := newVethRig(t)
	r.slac.plug <- homeplug.MAC(vethCarMAC)
	sdpEvents := func() int {
		r.sink.mu.Lock()
		defer r.sink.mu.Unlock()
		n := 0
		for _, e := range r.sink.events {
			if e.Kind == record.KindSDP {
				n++
			}
		}
		return n
	}
	// waitSDP waits for the record to have n SDP events.
	waitSDP := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for sdpEvents() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d SDP events, want %d", sdpEvents(), n)
			}
			time.Sleep(time.Millisecond) // polling the sink
		}
	}
	r.discover(t)
	waitSDP(1)
	first := sdpEvents()
	for len(r.slac.evidence) > 0 {
		<-r.slac.evidence
	}

	var udp net.PacketConn
	r.nsP.Do(t, func() {
		var err error
		if udp, err = net.ListenUDP("udp6", &net.UDPAddr{IP: strangerLL.AsSlice(), Zone: r.nsP.Iface}); err != nil {
			t.Fatal(err)
		}
	})
	defer udp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := sdp.Discover(ctx, udp, nil, sdp.ClientConfig{Interface: r.nsP.Iface, Interval: 2 * time.Second}); err != nil {
		t.Fatalf("the stranger got no answer: %v", err)
	}
	// The car asks again: its evidence follows the stranger's answer, on
	// the one goroutine that sends answers.
	r.discover(t)
	waitSDP(first + 1)
	if n := sdpEvents(); n != first+1 {
		t.Errorf("%d SDP events after the stranger's request and the car's, want %d", n, first+1)
	}
	if n := len(r.slac.evidence); n != 1 {
		t.Errorf("SLAC heard %d pieces of evidence, want the car's 1", n)
	}
}
