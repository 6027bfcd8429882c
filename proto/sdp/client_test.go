package sdp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2gtp"
)

// never is an After whose timers never fire: Discover must succeed on its
// first request.
func never(time.Duration) <-chan time.Time { return nil }

// TestDiscoverLoopback: the car side against the charger side, on [::1].
func TestDiscoverLoopback(t *testing.T) {
	srv, car := loopback(t), loopback(t)
	serve(t, srv, ServerConfig{Addr: netip.IPv6Loopback(), Port: 61851})
	for _, cfg := range []ClientConfig{{After: never}, {After: never, TLS: true, Interface: "lo"}} {
		r, err := Discover(context.Background(), car, srv.LocalAddr(), cfg)
		want := Response{
			Addr:      netip.MustParseAddrPort("[::1]:61851"), // not link-local: no zone
			Security:  v2gtp.SecurityNone,
			Transport: v2gtp.TransportTCP,
			From:      srv.LocalAddr().(*net.UDPAddr).AddrPort(),
		}
		if err != nil || r != want {
			t.Errorf("%+v: %+v, %v; want %+v", cfg, r, err, want)
		}
	}
	// The socket is left as it was found: no read deadline.
	if got := exchange(t, car, srv.LocalAddr(), unhex(t, reqNoTLS)); len(got) != responseLen {
		t.Errorf("after Discover: %x", got)
	}
}

// discover runs Discover on a memConn in the background.
func discover(conn *memConn, cfg ClientConfig) <-chan result {
	done := make(chan result, 1)
	go func() {
		r, err := Discover(context.Background(), conn, net.UDPAddrFromAddrPort(mustAddrPort("[ff02::1%plc0]:15118")), cfg)
		done <- result{r, err}
	}()
	return done
}

type result struct {
	r   Response
	err error
}

// TestDiscoverNoAnswer: 50 requests, 250 ms apart, then a clear error.
func TestDiscoverNoAnswer(t *testing.T) {
	conn := newMemConn("[fe80::2%plc0]:50000")
	fired := make(chan time.Time)
	close(fired)
	waits := make(chan time.Duration, 100)
	done := discover(conn, ClientConfig{After: func(d time.Duration) <-chan time.Time {
		waits <- d
		return fired
	}})
	n := 0
	check := func(d datagram) {
		if !bytes.Equal(d.b, unhex(t, reqNoTLS)) || d.addr.String() != "[ff02::1%plc0]:15118" {
			t.Fatalf("request %d: %x to %v", n, d.b, d.addr)
		}
		n++
	}
	var res result
	for finished := false; !finished; {
		select {
		case d := <-conn.out:
			check(d)
		case res = <-done:
			finished = true
		}
	}
	for len(conn.out) > 0 { // written before Discover returned
		check(<-conn.out)
	}
	want := "sdp: no charger answered SDP after 50 requests to [ff02::1%plc0]:15118 (is SLAC matched and the charger's SDP server running?)"
	if !errors.Is(res.err, ErrNoAnswer) || res.err.Error() != want {
		t.Errorf("error %v, want %s", res.err, want)
	}
	if n != DefaultMaxTries || len(waits) != DefaultMaxTries {
		t.Errorf("%d requests and %d waits, want %d", n, len(waits), DefaultMaxTries)
	}
	for range len(waits) {
		if d := <-waits; d != DefaultInterval {
			t.Fatalf("waited %v, want %v", d, DefaultInterval)
		}
	}
}

// TestDiscoverRetries: requests repeat on each tick until an answer; the
// malformed datagrams before it are ignored.
func TestDiscoverRetries(t *testing.T) {
	conn := newMemConn("[fe80::2%plc0]:50000")
	tick := make(chan time.Time)
	var waits []time.Duration
	done := discover(conn, ClientConfig{TLS: true, Interval: time.Second, MaxTries: 5, Interface: "plc0", After: func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		return tick
	}})
	for i := range 3 {
		if d := <-conn.out; !bytes.Equal(d.b, unhex(t, reqTLS)) {
			t.Fatalf("request %d: %x", i, d.b)
		}
		if i < 2 {
			tick <- time.Time{}
		}
	}
	const from = "[fe80::5610:ecff:fea1:f3e2%plc0]:15118"
	for _, bad := range []string{
		"", reqNoTLS, resABB[:len(resABB)-2], resABB + "00", "01ff" + resABB[4:],
		"01fe900100000014" + "fe800000000000005610ecfffea1f3e2" + "0000" + "1000",
		"01fe900100000014" + "ff020000000000000000000000000001" + "d121" + "1000",
	} {
		conn.send(unhex(t, bad), from)
	}
	conn.send(unhex(t, resABB), from)
	res := <-done
	want := Response{
		Addr:      netip.MustParseAddrPort("[fe80::5610:ecff:fea1:f3e2%plc0]:53537"),
		Security:  v2gtp.SecurityNone,
		Transport: v2gtp.TransportTCP,
		From:      mustAddrPort(from),
	}
	if res.err != nil || res.r != want {
		t.Errorf("%+v, %v; want %+v", res.r, res.err, want)
	}
	if len(waits) != 3 || waits[0] != time.Second {
		t.Errorf("waits %v, want 3 of 1s", waits)
	}
}

// TestDiscoverZone: without ClientConfig.Interface, a link-local answer
// takes the zone it came from.
func TestDiscoverZone(t *testing.T) {
	conn := newMemConn("[fe80::2%plc0]:50000")
	done := discover(conn, ClientConfig{After: never})
	<-conn.out
	conn.send(unhex(t, resTLS), "[fe80::664d:70ff:fe01:3bf%eth7]:15118")
	res := <-done
	if want := netip.MustParseAddrPort("[fe80::664d:70ff:fe01:3bf%eth7]:55119"); res.err != nil || res.r.Addr != want || res.r.Security != v2gtp.SecurityTLS {
		t.Errorf("%+v, %v; want %v with TLS", res.r, res.err, want)
	}
}

func TestDiscoverContext(t *testing.T) {
	conn := newMemConn("[fe80::2%plc0]:50000")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Discover(ctx, conn, conn.local, ClientConfig{After: never})
		done <- err
	}()
	<-conn.out
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || err.Error() != "sdp: discovery stopped at request 1 of 50: context canceled" {
		t.Errorf("canceled: %v", err)
	}
	if _, err := Discover(ctx, conn, conn.local, ClientConfig{}); !errors.Is(err, context.Canceled) || len(conn.out) != 0 {
		t.Errorf("canceled before: %v, %d sent", err, len(conn.out))
	}
}

func TestDiscoverErrors(t *testing.T) {
	if _, err := Discover(context.Background(), newMemConn("[::1]:1"), nil, ClientConfig{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no destination: %v", err)
	}
	c := loopback(t)
	c.Close()
	if _, err := Discover(context.Background(), c, &net.UDPAddr{IP: net.IPv6loopback, Port: 1}, ClientConfig{After: never}); !errors.Is(err, ErrIO) {
		t.Errorf("closed socket: %v", err)
	}
	// A destination the socket cannot reach: every send fails.
	c = loopback(t)
	fired := make(chan time.Time)
	close(fired)
	_, err := Discover(context.Background(), c, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 15118}, ClientConfig{MaxTries: 3, After: func(time.Duration) <-chan time.Time { return fired }})
	if !errors.Is(err, ErrNoAnswer) || !bytes.Contains([]byte(err.Error()), []byte("none of the 3 requests could be sent to 192.0.2.1:15118")) {
		t.Errorf("unreachable: %v", err)
	}
}
