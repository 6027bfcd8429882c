package sdp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// pyPLC's address, and its answer to a Hyundai Ioniq (captures/pyplc,
// 2023-05-24): what a server with this configuration must send.
var (
	pyplc       = netip.MustParseAddr("fe80::c690:83f3:fbcb:980e")
	pyplcAnswer = "01fe900100000014" + "fe80000000000000c69083f3fbcb980e" + "3b0e" + "10" + "00"
)

// loopback returns a UDP socket on [::1] and an arbitrary free port.
func loopback(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serve runs Serve on conn until the test ends and fails the test if it
// returns an error.
func serve(t *testing.T, conn net.PacketConn, cfg ServerConfig) *Server {
	t.Helper()
	s, _ := serveStop(t, conn, cfg)
	return s
}

// serveStop is serve with a stop that returns once Serve has, its answers
// sent and logged; the test's cleanup stops it too if the test did not.
func serveStop(t *testing.T, conn net.PacketConn, cfg ServerConfig) (*Server, func()) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, conn) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(stop)
	return s, stop
}

// exchange sends b from c to dst and returns the next datagram c receives;
// the deadline only keeps a broken server from hanging the test.
func exchange(t *testing.T, c *net.UDPConn, dst net.Addr, b []byte) []byte {
	t.Helper()
	if _, err := c.WriteTo(b, dst); err != nil {
		t.Fatal(err)
	}
	return receive(t, c)
}

func receive(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 100)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return buf[:n]
}

type request struct {
	from netip.AddrPort
	req  v2gtp.SDPRequest
}

// TestServeLoopback: malformed requests get no answer, a valid one the
// charger's address, a TLS one the same no-TLS answer, logged.
func TestServeLoopback(t *testing.T) {
	srv, car := loopback(t), loopback(t)
	var log testlog.Buffer
	seen := make(chan request, 4)
	s, stop := serveStop(t, srv, ServerConfig{
		Addr: pyplc, Port: 15118,
		Log:       slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnRequest: func(from netip.AddrPort, req v2gtp.SDPRequest) { seen <- request{from, req} },
	})
	for _, m := range malformedRequests {
		if _, err := car.WriteTo(unhex(t, m.hex), srv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	// The datagrams arrive in order: the first answer is to the valid request.
	if got := exchange(t, car, srv.LocalAddr(), unhex(t, reqNoTLS)); !bytes.Equal(got, unhex(t, pyplcAnswer)) {
		t.Fatalf("answer %x, want %s", got, pyplcAnswer)
	}
	if got := exchange(t, car, srv.LocalAddr(), unhex(t, reqTLS)); !bytes.Equal(got, unhex(t, pyplcAnswer)) {
		t.Fatalf("answer to TLS %x, want %s", got, pyplcAnswer)
	}
	carAddr := car.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, want := range []request{
		{carAddr, v2gtp.SDPRequest{Security: v2gtp.SecurityNone, Transport: v2gtp.TransportTCP}},
		{carAddr, v2gtp.SDPRequest{Security: v2gtp.SecurityTLS, Transport: v2gtp.TransportTCP}},
	} {
		if got := <-seen; got != want {
			t.Errorf("OnRequest %+v, want %+v", got, want)
		}
	}
	want := Stats{Answered: 2, TLSDeclined: 1, Malformed: uint64(len(malformedRequests))}
	if got := s.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	stop() // the log lines come after each answer is sent
	out := log.String()
	for _, m := range malformedRequests {
		if !strings.Contains(out, "reason=\""+m.why+"\" len="+fmt.Sprint(len(m.hex)/2)+" ") {
			t.Errorf("no debug line for %s (%s) in\n%s", m.hex, m.why, out)
		}
	}
	if !strings.Contains(out, "level=INFO msg=\"SDP: the car asked for TLS; answered without TLS, which is all this charger offers\" to="+carAddr.String()) {
		t.Errorf("TLS not logged at INFO:\n%s", out)
	}
}

// TestServeOffersTLS: with TLSPort set, a car asking for TLS is told the
// TLS port with Security TLS (0x00), a car asking for none still the TCP
// port with Security none (0x10), whatever order they come in.
func TestServeOffersTLS(t *testing.T) {
	srv, car := loopback(t), loopback(t)
	var log testlog.Buffer
	s, stop := serveStop(t, srv, ServerConfig{
		Addr: pyplc, Port: 15118, TLSPort: 15119,
		Log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	withTLS := "01fe900100000014" + "fe80000000000000c69083f3fbcb980e" + "3b0f" + "00" + "00"
	for i, tc := range []struct{ req, want string }{
		{reqTLS, withTLS},
		{reqNoTLS, pyplcAnswer},
		{reqTLS, withTLS},
	} {
		if got := exchange(t, car, srv.LocalAddr(), unhex(t, tc.req)); !bytes.Equal(got, unhex(t, tc.want)) {
			t.Errorf("request %d (%s): answer %x, want %s", i, tc.req, got, tc.want)
		}
	}
	if got, want := s.Stats(), (Stats{Answered: 3}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	stop() // the log lines come after each answer is sent
	out := log.String()
	if strings.Contains(out, "answered without TLS") || strings.Count(out, "msg=\"SDP: answered with TLS\"") != 2 || !strings.Contains(out, "port=15119") {
		t.Errorf("log:\n%s", out)
	}
	if _, err := NewServer(ServerConfig{Addr: pyplc, Port: 15118, TLSPort: 15118}); !errors.Is(err, ErrConfig) ||
		err.Error() != "sdp: invalid configuration: ServerConfig.TLSPort is Port (15118); TLS needs a listener of its own, on another port" {
		t.Errorf("TLSPort = Port: %v", err)
	}
}

// garbage returns the i-th datagram of a flood: the malformed requests and
// pseudo-random bytes of 0 to 99 bytes.
func garbage(i int) []byte {
	if i%3 == 0 {
		m := malformedRequests[i/3%len(malformedRequests)]
		b := make([]byte, len(m.hex)/2)
		fmt.Sscanf(m.hex, "%x", &b)
		return b
	}
	b := make([]byte, i%100)
	x := uint32(i)*2654435761 + 1
	for j := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[j] = byte(x)
	}
	if len(b) >= 2 && i%2 == 0 {
		b[0], b[1] = 0x01, 0xfe // past the version check
	}
	return b
}

// TestServeFlood: 10 000 garbage datagrams from 1000 sources, then a real
// request: the request is answered and every datagram counted once.
func TestServeFlood(t *testing.T) {
	conn := newMemConn("[fe80::1%plc0]:15118")
	seen := make(chan request, 1)
	s := serve(t, conn, ServerConfig{Addr: pyplc, Port: 15118, OnRequest: func(from netip.AddrPort, req v2gtp.SDPRequest) { seen <- request{from, req} }})
	for i := range 10000 {
		conn.send(garbage(i), fmt.Sprintf("[fe80::%x%%plc0]:%d", i%1000, 49152+i))
	}
	conn.send(unhex(t, reqNoTLS), "[fe80::cafe%plc0]:49152")
	d := <-conn.out
	if !bytes.Equal(d.b, unhex(t, pyplcAnswer)) || d.addr.String() != "[fe80::cafe%plc0]:49152" {
		t.Fatalf("answer %x to %v", d.b, d.addr)
	}
	<-seen
	if got, want := s.Stats(), (Stats{Answered: 1, Malformed: 10000}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// TestServeFloodLoopback: the same over real sockets, with a probe after
// every 100 datagrams (so that the kernel's receive buffer never overflows):
// each probe and the final request are answered, every datagram counted.
func TestServeFloodLoopback(t *testing.T) {
	srv, flood, car := loopback(t), loopback(t), loopback(t)
	now := time.Unix(1e9, 0)
	seen := make(chan request, 101)
	s := serve(t, srv, ServerConfig{Addr: pyplc, Port: 15118, Now: func() time.Time {
		now = now.Add(time.Second) // no rate limit: all sources are ::1
		return now
	}, OnRequest: func(from netip.AddrPort, req v2gtp.SDPRequest) { seen <- request{from, req} }})
	answer := unhex(t, pyplcAnswer)
	start := time.Now()
	for i := range 10000 {
		if _, err := flood.WriteTo(garbage(i), srv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			if got := exchange(t, car, srv.LocalAddr(), unhex(t, reqNoTLS)); !bytes.Equal(got, answer) {
				t.Fatalf("probe after %d: %x", i+1, got)
			}
		}
	}
	if got := exchange(t, car, srv.LocalAddr(), unhex(t, reqTLS)); !bytes.Equal(got, answer) {
		t.Fatalf("final answer %x", got)
	}
	t.Logf("10000 datagrams and 101 requests in %v", time.Since(start))
	for range 101 {
		<-seen // the counters are updated before OnRequest
	}
	if got, want := s.Stats(), (Stats{Answered: 101, TLSDeclined: 1, Malformed: 10000}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// TestServeRateLimit: a source gets 5 answers at once, then one per
// 100 ms; other sources are not affected.
func TestServeRateLimit(t *testing.T) {
	conn := newMemConn("[fe80::1%plc0]:15118")
	seen := make(chan request, 16)
	var now time.Time // only the read loop calls Now
	at := make(chan time.Time, 1)
	s := serve(t, conn, ServerConfig{
		Addr: pyplc, Port: 15118,
		OnRequest: func(from netip.AddrPort, req v2gtp.SDPRequest) { seen <- request{from, req} },
		Now: func() time.Time {
			select {
			case now = <-at:
			default:
			}
			return now
		},
	})
	at <- time.Unix(1e9, 0)
	const flooder, other = "[fe80::bad%plc0]:50000", "[fe80::cafe%plc0]:50000"
	// settle sends a request from other and waits for its answer: everything
	// sent before has been handled.
	settle := func() {
		t.Helper()
		conn.send(unhex(t, reqNoTLS), other)
		for {
			r := <-seen
			if d := <-conn.out; d.addr.AddrPort() != r.from {
				t.Fatalf("answer to %v, OnRequest from %v", d.addr, r.from)
			}
			if r.from.String() == other {
				return
			}
		}
	}
	for range 7 {
		conn.send(unhex(t, reqNoTLS), flooder)
	}
	settle()
	if got, want := s.Stats(), (Stats{Answered: 6, Limited: 2}); got != want {
		t.Errorf("burst: %+v, want %+v", got, want)
	}
	at <- time.Unix(1e9, 0).Add(answerEvery) // read by the next request's Now
	for range 2 {
		conn.send(unhex(t, reqNoTLS), flooder)
	}
	settle()
	// other has used 2 of its own burst; flooder got one more.
	if got, want := s.Stats(), (Stats{Answered: 8, Limited: 3}); got != want {
		t.Errorf("after 100 ms: %+v, want %+v", got, want)
	}
}

func TestLimiter(t *testing.T) {
	l := limiter{seen: map[netip.Addr]time.Time{}}
	t0 := time.Unix(1e9, 0)
	src := func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfe, 0x80, 14: byte(i >> 8), 15: byte(i)}) }
	for i := range 1000 {
		if !l.allow(src(i), t0) {
			t.Fatalf("new source %d refused", i)
		}
		if len(l.seen) > maxSources {
			t.Fatalf("%d sources remembered", len(l.seen))
		}
	}
	// All remembered sources are idle again after the refill time.
	if !l.allow(src(2000), t0.Add(answerEvery)) || len(l.seen) != 1 {
		t.Errorf("idle sources not forgotten: %d left", len(l.seen))
	}
	var got []bool
	for i := range 13 {
		got = append(got, l.allow(src(1), t0.Add(time.Second+time.Duration(i)*answerEvery/4)))
	}
	// The burst of 5, one more refilled meanwhile, then one in 4.
	if want := []bool{true, true, true, true, true, true, false, false, true, false, false, false, true}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a request every 25 ms: %v, want %v", got, want)
	}
}

// TestServeDropped: with the sender stuck (in OnRequest), 16 answers wait
// and the requests beyond are dropped, without blocking the read loop.
func TestServeDropped(t *testing.T) {
	conn := newMemConn("[fe80::1%plc0]:15118")
	conn.reads = make(chan struct{})
	entered, release := make(chan struct{}), make(chan struct{})
	s, err := NewServer(ServerConfig{Addr: pyplc, Port: 15118, OnRequest: func(netip.AddrPort, v2gtp.SDPRequest) {
		entered <- struct{}{}
		<-release
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, conn) }()
	go func() {
		for range conn.out {
		}
	}()
	from := func(i int) string { return fmt.Sprintf("[fe80::%x%%plc0]:50000", i+1) }
	<-conn.reads
	conn.send(unhex(t, reqNoTLS), from(0))
	<-conn.reads
	<-entered
	for i := range queueLen + 3 {
		conn.send(unhex(t, reqNoTLS), from(i+1))
		<-conn.reads // the read loop came back for more: it did not block
	}
	if got, want := s.Stats(), (Stats{Answered: 1, Dropped: 3}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	go func() {
		for range conn.reads {
		}
	}()
	cancel()
	close(release)
	for range queueLen {
		<-entered
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if got := s.Stats().Answered; got != 1+queueLen {
		t.Errorf("answered %d, want the %d queued before the end", got, 1+queueLen)
	}
}

// TestServeRestart: Serve stops when its context ends and leaves the
// socket usable for the next Serve.
func TestServeRestart(t *testing.T) {
	srv, car := loopback(t), loopback(t)
	cfg := ServerConfig{Addr: netip.IPv6Loopback(), Port: 61851}
	for round := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, srv, cfg) }()
		want := "01fe900100000014" + "00000000000000000000000000000001" + "f19b" + "1000"
		if got := exchange(t, car, srv.LocalAddr(), unhex(t, reqNoTLS)); !bytes.Equal(got, unhex(t, want)) {
			t.Fatalf("round %d: %x, want %s", round, got, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Serve(ctx, srv, cfg); err != nil {
		t.Errorf("ended context: %v", err)
	}
}

func TestServeReadError(t *testing.T) {
	c := loopback(t)
	c.Close()
	err := Serve(context.Background(), c, ServerConfig{Addr: pyplc, Port: 15118})
	if !errors.Is(err, ErrIO) || !errors.Is(err, net.ErrClosed) {
		t.Errorf("closed socket: %v", err)
	}
	c = loopback(t)
	c.SetReadDeadline(time.Unix(1, 0))
	err = Serve(context.Background(), c, ServerConfig{Addr: pyplc, Port: 15118})
	if !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "someone else set the socket's read deadline") {
		t.Errorf("foreign deadline: %v", err)
	}
}

func TestServerConfig(t *testing.T) {
	for _, cfg := range []ServerConfig{
		{Port: 15118},
		{Addr: netip.MustParseAddr("192.168.1.2"), Port: 15118},
		{Addr: netip.MustParseAddr("::ffff:192.168.1.2"), Port: 15118},
		{Addr: netip.IPv6Unspecified(), Port: 15118},
		{Addr: netip.MustParseAddr("ff02::1"), Port: 15118},
		{Addr: pyplc},
	} {
		if _, err := NewServer(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	_, err := NewServer(ServerConfig{Addr: pyplc})
	if want := "sdp: invalid configuration: ServerConfig.Port is 0; give the SECC's TCP port"; err == nil || err.Error() != want {
		t.Errorf("port 0: %v", err)
	}
	s, err := NewServer(ServerConfig{Addr: pyplc.WithZone("eth1"), Port: 15118})
	if err != nil || !bytes.Equal(s.answer, unhex(t, pyplcAnswer)) {
		t.Errorf("zoned address: %x, %v", s.answer, err)
	}
}

// TestServeAllocs: on a UDP socket the server allocates nothing per
// datagram, garbage or request (AllocsPerRun counts every goroutine).
func TestServeAllocs(t *testing.T) {
	srv, car := loopback(t), loopback(t)
	now := time.Unix(1e9, 0)
	serve(t, srv, ServerConfig{Addr: pyplc, Port: 15118, Now: func() time.Time {
		now = now.Add(time.Second)
		return now
	}})
	dst := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	junk, req, buf := garbage(5), unhex(t, reqNoTLS), make([]byte, 64)
	car.SetReadDeadline(time.Now().Add(30 * time.Second))
	round := func() {
		for range 10 {
			car.WriteToUDPAddrPort(junk, dst)
		}
		car.WriteToUDPAddrPort(req, dst)
		if n, _, err := car.ReadFromUDPAddrPort(buf); err != nil || n != responseLen {
			t.Fatalf("answer: %d bytes, %v", n, err)
		}
	}
	round() // the limiter learns the source
	if a := testing.AllocsPerRun(200, round); a != 0 {
		t.Errorf("%v allocations per 10 garbage datagrams and a request", a)
	}
}

// TestServeCarFirst: with the strangers' queue full, the car's request
// (ServerConfig.Asked) is still queued, and answered before every
// stranger's waiting answer.
func TestServeCarFirst(t *testing.T) {
	conn := newMemConn("[fe80::1%plc0]:15118")
	conn.reads = make(chan struct{})
	entered, release := make(chan netip.AddrPort), make(chan struct{})
	car := netip.MustParseAddr("fe80::ca")
	var asked []netip.Addr // only the read loop appends
	now := time.Unix(1e9, 0)
	s, err := NewServer(ServerConfig{Addr: pyplc, Port: 15118,
		// Strangers asking no faster than their shared limit allows.
		Now: func() time.Time { now = now.Add(othersEvery); return now },
		Asked: func(from netip.Addr) bool {
			asked = append(asked, from)
			return from == car
		},
		OnRequest: func(from netip.AddrPort, _ v2gtp.SDPRequest) {
			entered <- from
			<-release
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, conn) }()
	go func() {
		for range conn.out {
		}
	}()
	from := func(i int) string { return fmt.Sprintf("[fe80::%x%%plc0]:50000", i+1) }
	<-conn.reads
	conn.send(unhex(t, reqNoTLS), from(0))
	<-conn.reads
	<-entered // the sender is stuck in the first answer's OnRequest
	for i := range queueLen + 3 {
		conn.send(unhex(t, reqNoTLS), from(i+1))
		<-conn.reads
	}
	conn.send(unhex(t, reqNoTLS), "[fe80::ca%plc0]:50000")
	<-conn.reads // read and queued: Serve is back for more
	if got, want := s.Stats(), (Stats{Answered: 1, Dropped: 3}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	go func() {
		for range conn.reads {
		}
	}()
	release <- struct{}{}
	if got := <-entered; got.Addr().WithZone("") != car {
		t.Errorf("answered %v after the first, want the car %v", got, car)
	}
	cancel()
	close(release)
	for range queueLen {
		<-entered
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if got, want := s.Stats(), (Stats{Answered: 2 + queueLen, Dropped: 3}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	// Asked saw every request within its rate limit, zone dropped.
	if len(asked) != queueLen+5 || asked[0] != netip.MustParseAddr("fe80::1") || asked[len(asked)-1] != car {
		t.Errorf("Asked saw %v", asked)
	}
}

// TestServeOthersLimit: a server that knows its car answers everyone else
// together within a shared limit, the car whatever the others did.
func TestServeOthersLimit(t *testing.T) {
	conn := newMemConn("[fe80::1%plc0]:15118")
	seen := make(chan request, 64)
	var now time.Time // only the read loop calls Now
	at := make(chan time.Time, 1)
	s := serve(t, conn, ServerConfig{
		Addr: pyplc, Port: 15118,
		Asked:     func(from netip.Addr) bool { return from == netip.MustParseAddr("fe80::ca") },
		OnRequest: func(from netip.AddrPort, req v2gtp.SDPRequest) { seen <- request{from, req} },
		Now: func() time.Time {
			select {
			case now = <-at:
			default:
			}
			return now
		},
	})
	at <- time.Unix(1e9, 0)
	const car = "[fe80::ca%plc0]:50000"
	// settle sends the car's request and waits for the answers expected,
	// the car's among them: the car's is answered ahead of the strangers',
	// so its answer alone does not say that theirs went out.
	settle := func(answers int) {
		t.Helper()
		conn.send(unhex(t, reqNoTLS), car)
		heard := false
		for range answers {
			r := <-seen
			<-conn.out
			heard = heard || r.from.String() == car
		}
		if !heard {
			t.Fatalf("no answer to the car among %d", answers)
		}
	}
	for i := range othersBurst + 5 {
		conn.send(unhex(t, reqNoTLS), fmt.Sprintf("[fe80::%x%%plc0]:50000", i+2))
	}
	settle(othersBurst + 1)
	if got, want := s.Stats(), (Stats{Answered: othersBurst + 1, Limited: 5}); got != want {
		t.Errorf("a burst of strangers: %+v, want %+v", got, want)
	}
	at <- time.Unix(1e9, 0).Add(2 * othersEvery) // read by the next request's Now
	for i := range 3 {
		conn.send(unhex(t, reqNoTLS), fmt.Sprintf("[fe80::%x%%plc0]:50000", i+100))
	}
	settle(3)
	// Two more strangers after 40 ms; the car each time.
	if got, want := s.Stats(), (Stats{Answered: othersBurst + 4, Limited: 6}); got != want {
		t.Errorf("after 40 ms: %+v, want %+v", got, want)
	}
}

// TestServeToldBeforeAnswer: OnRequest hears of a request before its answer
// goes out, so the evidence of the car comes before anything the car does
// with the answer (it may connect at once).
func TestServeToldBeforeAnswer(t *testing.T) {
	conn := newMemConn("[fe80::1%plc0]:15118")
	entered, release := make(chan struct{}), make(chan struct{})
	s := serve(t, conn, ServerConfig{Addr: pyplc, Port: 15118, OnRequest: func(netip.AddrPort, v2gtp.SDPRequest) {
		entered <- struct{}{}
		<-release
	}})
	conn.send(unhex(t, reqNoTLS), "[fe80::2%plc0]:50000")
	<-entered
	select {
	case d := <-conn.out:
		close(release)
		t.Fatalf("answer %x sent before OnRequest returned", d.b)
	default:
	}
	if got, want := s.Stats(), (Stats{Answered: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	close(release)
	if d := <-conn.out; !bytes.Equal(d.b, unhex(t, pyplcAnswer)) || d.addr.String() != "[fe80::2%plc0]:50000" {
		t.Fatalf("answer %x to %v", d.b, d.addr)
	}
}
