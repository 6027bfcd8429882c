package charger

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/evcc"
	"github.com/ccslink/ccslink/homeplug"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/sdp"
	"github.com/ccslink/ccslink/secc"
	"github.com/ccslink/ccslink/slac"
)

// fakeSLAC matches a car whenever the test plugs one in and loses the link
// when the test unplugs it.
type fakeSLAC struct {
	plug     chan homeplug.MAC
	unplug   chan struct{}
	evidence chan struct{}
}

func newFakeSLAC() *fakeSLAC {
	return &fakeSLAC{plug: make(chan homeplug.MAC), unplug: make(chan struct{}), evidence: make(chan struct{}, 100)}
}

func (f *fakeSLAC) Match(ctx context.Context) (slac.Result, error) {
	select {
	case mac := <-f.plug:
		return slac.Result{EVMAC: mac, LinkUp: true}, nil
	case <-ctx.Done():
		return slac.Result{}, ctx.Err()
	}
}

func (f *fakeSLAC) Watch(ctx context.Context) error {
	select {
	case <-f.unplug:
		return slac.ErrLinkLost
	case <-ctx.Done():
		return ctx.Err()
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
}

func (s *sink) Event(e record.Event, r *record.Session) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	if e.Kind == record.KindEnded && e.End != record.EndLinkLost && e.End != record.EndStopped {
		s.v2gEnd <- struct{}{}
	}
}

func (s *sink) PlugInEnded(r *record.Session) { s.ended <- r.Clone() }

type rig struct {
	slac    *fakeSLAC
	sdpAddr net.Addr
	sink    *sink
	cancel  context.CancelFunc
	done    chan error
}

func newRig(t *testing.T, cfg secc.Config) *rig {
	t.Helper()
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{slac: newFakeSLAC(), sdpAddr: sdpConn.LocalAddr(), sink: &sink{ended: make(chan *record.Session, 1), v2gEnd: make(chan struct{}, 4)}, done: make(chan error, 1)}
	ch, err := New(Config{SLAC: r.slac, SDP: sdpConn, V2G: ln,
		Announce: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port)), SECC: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ch.Subscribe(r.sink)
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
	res, err := evcc.Run(ctx, conn, evcc.Config{Profile: p, EVCCID: mac})
	conn.Close()
	if err != nil {
		t.Fatalf("car: %v", err)
	}
	<-r.sink.v2gEnd
	r.slac.unplug <- struct{}{}
	return <-r.sink.ended, res
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
