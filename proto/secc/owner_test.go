package secc

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// testOwner gives the verdicts a test sets.
type testOwner struct {
	mu       sync.Mutex
	verdicts map[netip.Addr]Verdict
	asked    map[netip.Addr]int
	changed  chan struct{}
}

func newTestOwner() *testOwner {
	return &testOwner{verdicts: map[netip.Addr]Verdict{}, asked: map[netip.Addr]int{}, changed: make(chan struct{})}
}

func (o *testOwner) Verdict(a netip.Addr) Verdict {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.asked[a]++
	return o.verdicts[a]
}

func (o *testOwner) Changed() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

func (o *testOwner) set(a netip.Addr, v Verdict) {
	o.mu.Lock()
	o.verdicts[a] = v
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

var (
	carAddr      = netip.MustParseAddr("127.0.0.1")
	strangerAddr = netip.MustParseAddr("127.0.0.2")
)

func dialFrom(t *testing.T, from netip.Addr, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByCharger waits for the charger to close c without a byte.
func closedByCharger(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 64)); n != 0 || (err != io.EOF && !errors.Is(err, net.ErrClosed) && !isReset(err)) {
		t.Fatalf("read %d bytes, %v; want the connection closed by the charger", n, err)
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout()
}

// TestServerOwner: a connection waits while nobody is known to be the car
// and is served once the owner says it is the car's; a stranger's is closed
// at once, emits nothing and leaves the car's session alone.
func TestServerOwner(t *testing.T) {
	o := newTestOwner()
	s, addr, ev := startServer(t, Config{Owner: o})

	car := dialFrom(t, carAddr, addr)
	car.Write(frame(t, sapReq(t)))
	// Nothing is answered while the verdict is pending.
	car.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := car.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("answered before the car was known: %v", err)
	}
	o.set(carAddr, Car)
	o.set(strangerAddr, Stranger)
	car.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := v2gtp.NewReader(car)
	if _, _, err := r.Next(); err != nil {
		t.Fatalf("the car's answer: %v", err)
	}
	exchange(t, car, r, dinReq(t, []byte{0}, din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{2, 0, 0, 0, 0, 0xca}}}))

	stranger := dialFrom(t, strangerAddr, addr)
	stranger.Write(frame(t, sapReq(t)))
	closedByCharger(t, stranger)
	if n := s.Refused(); n != 1 {
		t.Errorf("refused %d, want 1", n)
	}

	// The car's session goes on, on its own connection.
	p := exchange(t, car, r, dinReq(t, testSID[:], din.BodyType{SessionStopReq: &din.SessionStopType{}}))
	var doc din.Document
	if _, err := din.Unmarshal(p, &doc); err != nil || doc.V2G_Message.Body.SessionStopRes == nil {
		t.Fatalf("answer %x: %v", p, err)
	}
	car.Close()
	if e := <-ev.end; e.End != record.EndSessionStop || e.Conn != 1 {
		t.Fatalf("end %v (%s) of connection %d", e.End, e.Detail, e.Conn)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.all {
		if e.Conn != 1 {
			t.Errorf("event %v of connection %d; only the car's connection 1 may emit", e.Kind, e.Conn)
		}
	}
	if len(ev.all) != 7 { // connected, handshake, SAP, session setup (2), stop, ended
		kinds := []string{}
		for _, e := range ev.all {
			kinds = append(kinds, e.Kind.String())
		}
		t.Errorf("events %v", kinds)
	}
}

// TestServerMaxConns: beyond MaxConns a connection is closed at once,
// before anyone is asked whose it is; the ones waiting keep their places.
func TestServerMaxConns(t *testing.T) {
	o := newTestOwner()
	s, addr, ev := startServer(t, Config{Owner: o, MaxConns: 2})
	a, b := dialFrom(t, carAddr, addr), dialFrom(t, carAddr, addr)
	// Accepted in order: a and b hold both places when c comes.
	third := netip.MustParseAddr("127.0.0.3")
	c := dialFrom(t, third, addr)
	closedByCharger(t, c)
	if n := s.Refused(); n != 1 {
		t.Fatalf("refused %d, want 1", n)
	}
	o.set(carAddr, Car)
	o.mu.Lock()
	asked := o.asked[third]
	o.mu.Unlock()
	if asked != 0 {
		t.Fatalf("the owner was asked about the connection over the bound %d times", asked)
	}
	// Both waiting ones are served: the second to start replaces the first,
	// as the car's newer connection.
	if e := <-ev.end; e.Conn != 1 {
		t.Fatalf("connection %d ended, want the older one", e.Conn)
	}
	a.Close()
	b.Close()
	if e := <-ev.end; e.Conn != 2 {
		t.Fatalf("connection %d ended, want the newer one", e.Conn)
	}
}
