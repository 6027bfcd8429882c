package charger

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// fakeSLAC matches a car whenever the test plugs one in and loses the link
// when the test unplugs it.
type fakeSLAC struct {
	plug     chan homeplug.MAC
	unplug   chan struct{}
	evidence chan struct{}
	conns    chan bool // V2GConnection's reports
	gone     chan error
	timings  slac.Timings // of each match; set before plugging a car in
	identify bool         // each match is an identification only (slac.Config.IdentifyOnly)
}

func newFakeSLAC() *fakeSLAC {
	return &fakeSLAC{plug: make(chan homeplug.MAC), unplug: make(chan struct{}), evidence: make(chan struct{}, 100), conns: make(chan bool, 100), gone: make(chan error)}
}

func (f *fakeSLAC) Match(ctx context.Context) (slac.Result, error) {
	select {
	case mac := <-f.plug:
		if f.identify {
			return slac.Result{EVMAC: mac, IdentifiedOnly: true, Timings: f.timings}, nil
		}
		return slac.Result{EVMAC: mac, LinkUp: true, Timings: f.timings}, nil
	case <-ctx.Done():
		return slac.Result{}, ctx.Err()
	}
}

func (f *fakeSLAC) Watch(ctx context.Context) error {
	select {
	case <-f.unplug:
		return slac.ErrLinkLost
	case err := <-f.gone:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeSLAC) V2GConnection(open bool) {
	select {
	case f.conns <- open:
	default:
	}
}

func (f *fakeSLAC) LinkEvidence() {
	select {
	case f.evidence <- struct{}{}:
	default:
	}
}

// sink collects what a subscriber sees.
type sink struct {
	mu     sync.Mutex
	events []record.Event
	ended  chan *record.Session
	v2gEnd chan struct{}
	late   chan *record.Session
}

func (s *sink) Late(e record.Event, r *record.Session) { s.late <- r }

func (s *sink) Event(e record.Event, r *record.Session) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	if e.Kind == record.KindEnded && e.End != record.EndLinkLost && e.End != record.EndStopped && e.End != record.EndNoCar {
		s.v2gEnd <- struct{}{}
	}
}

func (s *sink) PlugInEnded(r *record.Session) { s.ended <- r.Clone() }

type rig struct {
	slac     *fakeSLAC
	sdpAddr  net.Addr
	announce netip.AddrPort
	sink     *sink
	cancel   context.CancelFunc
	done     chan error
	ch       *Charger
}

func newRig(t *testing.T, cfg secc.Config) *rig { return newRigWith(t, cfg, 0) }

func newRigWith(t *testing.T, cfg secc.Config, setup time.Duration) *rig {
	t.Helper()
	return newRigConfig(t, Config{SECC: cfg, SetupTimeout: setup})
}

// newRigConfig runs a charger of cfg over the rig's SLAC and sockets.
func newRigConfig(t *testing.T, cfg Config) *rig {
	t.Helper()
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{slac: newFakeSLAC(), sdpAddr: sdpConn.LocalAddr(), sink: &sink{ended: make(chan *record.Session, 1), v2gEnd: make(chan struct{}, 4), late: make(chan *record.Session, 4)}, done: make(chan error, 1)}
	r.announce = netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))
	cfg.SLAC, cfg.SDP, cfg.V2G, cfg.Announce = r.slac, sdpConn, ln, r.announce
	ch, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch.Subscribe(r.sink)
	r.ch = ch
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- ch.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
		sdpConn.Close()
	})
	return r
}

// car plugs a car in, plays its session and unplugs it; it returns the record.
func (r *rig) car(t *testing.T, p evcc.Profile) (*record.Session, evcc.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mac := p.SessionMAC()
	r.slac.plug <- homeplug.MAC(mac)
	resp := r.discover(t)
	conn, err := net.Dial("tcp6", resp.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	res, err := evcc.Run(ctx, conn, evcc.Config{Profile: p, EVCCID: mac})
	conn.Close()
	if err != nil {
		t.Fatalf("car: %v", err)
	}
	<-r.sink.v2gEnd
	r.slac.unplug <- struct{}{}
	return <-r.sink.ended, res
}

// discover asks for the charger by SDP from ::1, as a car does after its match.
func (r *rig) discover(t *testing.T) sdp.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	udp, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	resp, err := sdp.Discover(ctx, udp, r.sdpAddr, sdp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestPlugIn(t *testing.T) {
	r := newRig(t, secc.Config{})
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		t.Fatal(err)
	}
	rec, car := r.car(t, p)
	if rec.Protocol != "din" || rec.EVCCIDHex() != "0465650064c3" || rec.SoC.Value != 93 || rec.EnergyCapacityWh.Value != float64(car.Sent.CapacityWh) ||
		rec.FullSOC.Value != car.Sent.FullSOC || rec.End != record.EndSessionStop || rec.EVMAC != "04:65:65:00:64:c3" {
		t.Fatalf("record: %+v\ncar sent: %+v", rec, car.Sent)
	}
	if rec.Phases.Matched.IsZero() || rec.Phases.SDP.IsZero() || rec.Phases.TCP.IsZero() || rec.Phases.FirstCPD.IsZero() || rec.Phases.Ended.IsZero() {
		t.Fatalf("phases: %+v", rec.Phases)
	}
	if len(rec.Answers) != len(car.Steps) {
		t.Fatalf("%d answers recorded, the car made %d requests", len(rec.Answers), len(car.Steps))
	}
	select {
	case <-r.slac.evidence:
	default:
		t.Error("the SDP request was not handed to SLAC as link evidence")
	}
}

// TestManyPlugIns runs 100 plug-ins in a row: goroutines, file
// descriptors and memory must not grow with them. Between two plug-ins at
// most the last car's connection goroutine may still be finishing.
func TestManyPlugIns(t *testing.T) {
	r := newRig(t, secc.Config{})
	p, _ := evcc.Lookup("ioniq")
	r.car(t, p) // warm up: the servers' goroutines are running now
	g0, fd0, heap0 := runtime.NumGoroutine(), openFDs(t), heapInUse()
	n := 100
	if testing.Short() {
		n = 10
	}
	for i := 0; i < n; i++ {
		if rec, _ := r.car(t, p); rec.SoC.Value != 93 {
			t.Fatalf("plug-in %d: %+v", i, rec)
		}
	}
	if g := runtime.NumGoroutine(); g > g0+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after %d plug-ins, %d before:\n%s", g, n, g0, buf[:runtime.Stack(buf, true)])
	}
	if fd := openFDs(t); fd > fd0+2 {
		t.Errorf("%d open files after %d plug-ins, %d before", fd, n, fd0)
	}
	if h := heapInUse(); h > heap0+4<<20 {
		t.Errorf("heap grew from %d to %d bytes over %d plug-ins", heap0, h, n)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestCarVanishes takes the car away at each step of its session: the
// plug-in ends with the reason in its record, and the next car is served.
func TestCarVanishes(t *testing.T) {
	r := newRig(t, secc.Config{SequenceTimeout: 200 * time.Millisecond})
	p, _ := evcc.Lookup("ioniq")
	sap := func(t *testing.T) net.Conn {
		r.slac.plug <- homeplug.MAC{2, 0, 0, 0, 0, 1}
		r.discover(t) // the car's address, ::1 here, is learnt from its SDP request
		conn, err := net.Dial("tcp6", r.announce.String())
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	t.Run("link lost before V2G", func(t *testing.T) {
		r.slac.plug <- homeplug.MAC{2, 0, 0, 0, 0, 1}
		r.slac.unplug <- struct{}{}
		if rec := <-r.sink.ended; rec.End != record.EndLinkLost || rec.Protocol != "" {
			t.Fatalf("record: %+v", rec)
		}
	})
	t.Run("link lost mid-session", func(t *testing.T) {
		conn := sap(t)
		defer conn.Close()
		conn.Write(v2gtp.AppendMessage(nil, v2gtp.TypeEXI, ioniqSAP(t)))
		v2gtp.NewReader(conn).Next()
		r.slac.unplug <- struct{}{}
		rec := <-r.sink.ended
		if rec.End != record.EndLinkLost || rec.Protocol != "din" {
			t.Fatalf("record: %+v", rec)
		}
		// The charger dropped the car's connection.
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("the connection of a car that is gone stays open")
		}
	})
	t.Run("TCP reset", func(t *testing.T) {
		conn := sap(t)
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		<-r.sink.v2gEnd
		r.slac.unplug <- struct{}{}
		if rec := <-r.sink.ended; rec.End != record.EndLinkLost && rec.End != record.EndCarClosed {
			t.Fatalf("record: %+v", rec)
		}
	})
	t.Run("silence", func(t *testing.T) {
		conn := sap(t)
		defer conn.Close()
		<-r.sink.v2gEnd // V2G_SECC_Sequence_Timeout, shortened here
		r.slac.unplug <- struct{}{}
		if rec := <-r.sink.ended; rec.End != record.EndTimeout {
			t.Fatalf("record: %+v", rec)
		}
	})
	t.Run("next car", func(t *testing.T) {
		if rec, _ := r.car(t, p); rec.SoC.Value != 93 || rec.End != record.EndSessionStop {
			t.Fatalf("record: %+v", rec)
		}
	})
}

func ioniqSAP(t *testing.T) []byte {
	b, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{
		{ProtocolNamespace: secc.NamespaceDIN, VersionNumberMajor: 2, SchemaID: 1, Priority: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNoSession: a car that matches but never opens V2G is recorded as such.
func TestNoSession(t *testing.T) {
	r := newRigWith(t, secc.Config{}, 50*time.Millisecond)
	r.slac.plug <- homeplug.MAC{2, 0, 0, 0, 0, 1}
	<-r.sink.v2gEnd
	r.slac.unplug <- struct{}{}
	if rec := <-r.sink.ended; rec.End != record.EndNoSession {
		t.Fatalf("record: %+v", rec)
	}
}

// TestCapacityFallback: a car that sends no capacity gets the configured
// one, and the record says where it came from.
func TestCapacityFallback(t *testing.T) {
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer sdpConn.Close()
	ln, _ := net.Listen("tcp6", "[::1]:0")
	r := &rig{slac: newFakeSLAC(), sdpAddr: sdpConn.LocalAddr(), sink: &sink{ended: make(chan *record.Session, 1), v2gEnd: make(chan struct{}, 4)}, done: make(chan error, 1)}
	r.announce = netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))
	ch, err := New(Config{SLAC: r.slac, SDP: sdpConn, V2G: ln, Announce: r.announce,
		CapacityFallback: func(s *record.Session) (float64, bool) { return 80000, s.EVCCIDHex() == "0030ab29c5be" }})
	if err != nil {
		t.Fatal(err)
	}
	ch.Subscribe(r.sink)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- ch.Run(ctx) }()
	defer func() { cancel(); <-r.done }()
	p, _ := evcc.Lookup("no-capacity")
	rec, _ := r.car(t, p)
	if rec.EnergyCapacityWh != (record.Num{Value: 80000, Known: true, From: FromConfig, At: rec.Phases.FirstCPD}) {
		t.Fatalf("capacity %+v", rec.EnergyCapacityWh)
	}
	p, _ = evcc.Lookup("ioniq")
	if rec, _ := r.car(t, p); rec.EnergyCapacityWh.Value != 28000 || rec.EnergyCapacityWh.From != "ChargeParameterDiscoveryReq" {
		t.Fatalf("the car's own capacity: %+v", rec.EnergyCapacityWh)
	}
}

// TestRecogniseAtHarvest: the car is recognised once, at the harvest
// (not again at its end), and the capacity fallback keys on the car recognised.
func TestRecogniseAtHarvest(t *testing.T) {
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer sdpConn.Close()
	ln, _ := net.Listen("tcp6", "[::1]:0")
	r := &rig{slac: newFakeSLAC(), sdpAddr: sdpConn.LocalAddr(), sink: &sink{ended: make(chan *record.Session, 1), v2gEnd: make(chan struct{}, 4)}, done: make(chan error, 1)}
	r.announce = netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))
	var calls []string // from the charger's goroutine, read after the plug-in ended
	ch, err := New(Config{SLAC: r.slac, SDP: sdpConn, V2G: ln, Announce: r.announce,
		Recognise: func(s *record.Session, at time.Time) *record.Vehicle {
			if s.EVMAC == "" && s.EVCCID == nil {
				return nil // a round without a car
			}
			calls = append(calls, s.EVCCIDHex())
			if !at.Equal(s.Phases.FirstCPD) || s.Vehicle != nil {
				t.Errorf("Recognise at %v, first CPD %v, vehicle %+v", at, s.Phases.FirstCPD, s.Vehicle)
			}
			return &record.Vehicle{Name: "test car", ID: "mycar", Confidence: 0.9, By: record.ByFingerprint}
		},
		CapacityFallback: func(s *record.Session) (float64, bool) {
			return 77000, s.Vehicle != nil && s.Vehicle.ID == "mycar"
		}})
	if err != nil {
		t.Fatal(err)
	}
	ch.Subscribe(r.sink)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- ch.Run(ctx) }()
	defer func() { cancel(); <-r.done }()
	p, _ := evcc.Lookup("no-capacity")
	rec, _ := r.car(t, p)
	if rec.EnergyCapacityWh != (record.Num{Value: 77000, Known: true, From: FromConfig, At: rec.Phases.FirstCPD}) {
		t.Fatalf("capacity %+v", rec.EnergyCapacityWh)
	}
	if *rec.Vehicle != (record.Vehicle{Name: "test car", ID: "mycar", Confidence: 0.9, By: record.ByFingerprint}) {
		t.Fatalf("vehicle %+v", rec.Vehicle)
	}
	if len(calls) != 1 || calls[0] != rec.EVCCIDHex() {
		t.Fatalf("Recognise called for %v", calls)
	}
}

// TestPresenceEvidence: the car's traffic reaches SLAC as the evidence of
// its presence (its SDP request and every V2G message, the connection
// opened and closed), and Watch's account of why the car is gone, with the
// link's flaps, is in the record beside the session's own end.
func TestPresenceEvidence(t *testing.T) {
	r := newRig(t, secc.Config{})
	p, _ := evcc.Lookup("ioniq")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mac := p.SessionMAC()
	r.slac.plug <- homeplug.MAC(mac)
	udp, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	resp, err := sdp.Discover(ctx, udp, r.sdpAddr, sdp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp6", resp.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evcc.Run(ctx, conn, evcc.Config{Profile: p, EVCCID: mac}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	<-r.sink.v2gEnd
	r.slac.gone <- &slac.FailureError{Reason: slac.ReasonClosedNoLink, EV: homeplug.MAC(mac), Flaps: 3}
	rec := <-r.sink.ended
	if rec.End != record.EndSessionStop || rec.Gone != "the car closed its V2G connection and the modem reports no link" || rec.LinkFlaps != 3 {
		t.Fatalf("record: end %v %q, gone %q, flaps %d", rec.End, rec.Detail, rec.Gone, rec.LinkFlaps)
	}
	if got := []bool{<-r.slac.conns, <-r.slac.conns}; got[0] != true || got[1] != false || len(r.slac.conns) != 0 {
		t.Fatalf("V2GConnection: %v, then %d more", got, len(r.slac.conns))
	}
	want := 1 // the SDP request
	r.sink.mu.Lock()
	for _, e := range r.sink.events {
		switch e.Kind {
		case record.KindHandshake, record.KindRequest, record.KindSessionSetup, record.KindValues:
			want++
		}
	}
	r.sink.mu.Unlock()
	if n := len(r.slac.evidence); n != want || want < 10 {
		t.Fatalf("%d evidence signals, want %d", n, want)
	}
	b, _ := json.Marshal(rec)
	if !bytes.Contains(b, []byte(`"gone":"the car closed its V2G connection and the modem reports no link","link_flaps":3`)) {
		t.Fatalf("JSON: %s", b)
	}
}

// TestLateDelivery: an output's result for a plug-in that has ended (a
// SmartEVSE that was down while the car left) amends that plug-in's record
// for the subscribers that take late results, and never the plug-in in
// progress.
func TestLateDelivery(t *testing.T) {
	r := newRig(t, secc.Config{})
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := r.car(t, p)
	if first.PlugIn != 1 || len(first.Deliveries) != 0 {
		t.Fatalf("first plug-in %d with deliveries %+v, want 1 with none", first.PlugIn, first.Deliveries)
	}
	d := &record.Delivery{Output: "smartevse", What: "current_soc=93", OK: true, Result: "HTTP 200 after 9 attempts in 24 s", At: time.Now()}
	r.ch.Report(record.Event{Kind: record.KindDelivered, At: d.At, PlugIn: 99, Delivery: d}) // no such plug-in: dropped
	r.ch.Report(record.Event{Kind: record.KindDelivered, At: d.At, PlugIn: 1, Delivery: d})
	var amended *record.Session
	select {
	case amended = <-r.sink.late:
	case <-time.After(10 * time.Second):
		t.Fatal("the late result did not reach the ended plug-in's record")
	}
	if amended.PlugIn != 1 || amended.EVMAC != "04:65:65:00:64:c3" || len(amended.Deliveries) != 1 || amended.Deliveries[0] != *d || !amended.Phases.Delivered.Equal(d.At) {
		t.Fatalf("amended record: plug-in %d, car %s, deliveries %+v, delivered at %v", amended.PlugIn, amended.EVMAC, amended.Deliveries, amended.Phases.Delivered)
	}
	second, _ := r.car(t, p)
	if second.PlugIn != 2 || len(second.Deliveries) != 0 {
		t.Fatalf("second plug-in %d with deliveries %+v, want 2 with none", second.PlugIn, second.Deliveries)
	}
	select {
	case s := <-r.sink.late:
		t.Fatalf("a second late result for plug-in %d", s.PlugIn)
	default:
	}
}

// TestLateHandover: what the SmartEVSE did after the SoC comes after the
// car's plug-in ended, while the charger already waits for the next car;
// it amends the ended plug-in at once, never held as the next car's early
// traffic until that car matches.
func TestLateHandover(t *testing.T) {
	r := newRig(t, secc.Config{})
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		t.Fatal(err)
	}
	if first, _ := r.car(t, p); first.PlugIn != 1 {
		t.Fatalf("first plug-in %d", first.PlugIn)
	}
	ho := &record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, ACAfter: 6 * time.Second, Observed: true, Watched: time.Minute, At: time.Now()}
	r.ch.Report(record.Event{Kind: record.KindHandover, At: ho.At, PlugIn: 1, Handover: ho})
	var amended *record.Session
	select {
	case amended = <-r.sink.late:
	case <-time.After(10 * time.Second):
		t.Fatal("the handover waited for the next car")
	}
	if amended.PlugIn != 1 || amended.Handover == nil || !reflect.DeepEqual(*amended.Handover, *ho) {
		t.Fatalf("amended record: plug-in %d, handover %+v", amended.PlugIn, amended.Handover)
	}
}

// onKind signals each event of one kind.
type onKind struct {
	kind record.Kind
	c    chan struct{}
}

func (o onKind) Event(e record.Event, _ *record.Session) {
	if e.Kind == o.kind {
		o.c <- struct{}{}
	}
}
func (o onKind) PlugInEnded(*record.Session) {}

// TestStopCause: a plug-in in progress when Run's context is cancelled
// with a Stop ends as the Stop says (the interface went away), not as
// the charger stopping.
func TestStopCause(t *testing.T) {
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer sdpConn.Close()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeSLAC()
	ch, err := New(Config{SLAC: f, SDP: sdpConn, V2G: ln, Announce: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))})
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ended: make(chan *record.Session, 1), v2gEnd: make(chan struct{}, 4)}
	matched := onKind{record.KindMatched, make(chan struct{}, 1)}
	ch.Subscribe(s)
	ch.Subscribe(matched)
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx) }()
	f.plug <- homeplug.MAC{2, 0, 0, 0, 0xca, 1}
	<-matched.c
	cancel(&Stop{End: record.EndIfaceLost, Detail: "evse0 disappeared"})
	rec := <-s.ended
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rec.End != record.EndIfaceLost || rec.Detail != "evse0 disappeared" || rec.EVMAC != "02:00:00:00:ca:01" {
		t.Fatalf("record: end %v %q, car %s", rec.End, rec.Detail, rec.EVMAC)
	}
	if got := (&Stop{End: record.EndIfaceLost}).Error(); got != record.EndIfaceLost.Words() {
		t.Fatalf("Stop without detail: %q", got)
	}
}

// TestMatchedTook: the match's event says how long the matching took, from
// the car's first CM_SLAC_PARM.REQ to CM_SLAC_MATCH.CNF, whatever the wait
// for the car before it.
func TestMatchedTook(t *testing.T) {
	r := newRig(t, secc.Config{})
	r.slac.timings = slac.Timings{Start: time.Now().Add(-3 * time.Second), MatchCnf: 1234 * time.Millisecond}
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		t.Fatal(err)
	}
	r.car(t, p)
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	var matched []record.Event
	for _, e := range r.sink.events {
		if e.Kind == record.KindMatched {
			matched = append(matched, e)
		}
	}
	if len(matched) != 1 || matched[0].Took != 1234*time.Millisecond || matched[0].EVMAC != "04:65:65:00:64:c3" {
		t.Fatalf("matched events %+v", matched)
	}
}
