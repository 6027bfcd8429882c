package link_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/link"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	macC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0c}
	macD = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0d}

	broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	multicast = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
)

const (
	etHomePlug = 0x88e1
	etIPv6     = 0x86dd
	etTest     = 0x88b5 // IEEE local experimental
)

// frame builds an Ethernet frame with a payload that names it.
func frame(dst, src net.HardwareAddr, et uint16, payload string) []byte {
	b := append(append([]byte(nil), dst...), src...)
	b = append(b, byte(et>>8), byte(et))
	return append(b, payload...)
}

// read reads one frame with a generous timeout: it only bounds a broken test.
func read(t *testing.T, c link.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := make([]byte, link.MaxFrameSize)
	n, err := c.ReadFrame(ctx, b)
	if err != nil {
		t.Fatalf("ReadFrame: %v", err)
	}
	return b[:n]
}

func write(t *testing.T, c link.Conn, f []byte) {
	t.Helper()
	if err := c.WriteFrame(context.Background(), f); err != nil {
		t.Fatalf("WriteFrame: %v", err)
	}
}

func attach(t *testing.T, h *link.Hub, mac net.HardwareAddr, cfg *link.PortConfig) *link.Port {
	t.Helper()
	p, err := h.Attach(mac, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkOpError checks that err is a *net.OpError for op that wraps target.
func checkOpError(t *testing.T, err error, op string, target error) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != op || !errors.Is(err, target) {
		t.Fatalf("error %v (%T): want a *net.OpError %q wrapping %v", err, err, op, target)
	}
}

// TestHubDelivery checks who receives what on a shared segment. Delivery
// happens inside WriteFrame, so the counters are final when it returns.
func TestHubDelivery(t *testing.T) {
	h := link.NewHub()
	defer h.Close()
	a := attach(t, h, macA, nil)
	b := attach(t, h, macB, nil)
	c := attach(t, h, macC, &link.PortConfig{Promiscuous: true})
	d := attach(t, h, macD, &link.PortConfig{EtherType: etHomePlug})

	frames := []struct {
		f          []byte
		a, b, c, d bool // who receives it
	}{
		{frame(macB, macA, etHomePlug, "unicast to b"), false, true, true, false},
		{frame(macD, macA, etHomePlug, "unicast to d"), false, false, true, true},
		{frame(macD, macA, etIPv6, "ipv6 to d"), false, false, true, false},
		{frame(broadcast, macA, etHomePlug, "broadcast"), false, true, true, true},
		{frame(multicast, macA, etIPv6, "multicast ipv6"), false, true, true, false},
		{frame(macA, macB, etHomePlug, "b to a"), true, false, true, false},
		{frame(macC, macB, etTest, "b to c"), false, false, true, false},
	}
	ports := []*link.Port{a, b, c, d}
	want := make([][]string, len(ports))
	for _, tt := range frames {
		src := a
		if bytes.Equal(tt.f[6:12], macB) {
			src = b
		}
		write(t, src, tt.f)
		for i, got := range []bool{tt.a, tt.b, tt.c, tt.d} {
			if got {
				want[i] = append(want[i], string(tt.f[14:]))
			}
		}
	}
	for i, p := range ports {
		if s := p.Stats(); s.Received != uint64(len(want[i])) || s.Dropped != 0 {
			t.Fatalf("port %v: %+v, want %d received", p.HardwareAddr(), s, len(want[i]))
		}
		for _, w := range want[i] {
			if got := read(t, p); string(got[14:]) != w {
				t.Errorf("port %v read %q, want %q", p.HardwareAddr(), got[14:], w)
			}
		}
	}
}

// TestHubBoundedQueue checks the documented overflow policy: the newest frame is dropped.
func TestHubBoundedQueue(t *testing.T) {
	h := link.NewHub()
	defer h.Close()
	a := attach(t, h, macA, nil)
	b := attach(t, h, macB, &link.PortConfig{QueueLen: 3})
	for i := range 5 {
		write(t, a, frame(macB, macA, etTest, fmt.Sprint(i)))
	}
	if s := b.Stats(); s.Received != 3 || s.Dropped != 2 {
		t.Fatalf("stats %+v, want 3 received and 2 dropped", s)
	}
	for i := range 3 {
		if got := read(t, b); string(got[14:]) != fmt.Sprint(i) {
			t.Fatalf("frame %d: %q", i, got[14:])
		}
	}
	// Room again after reading.
	write(t, a, frame(macB, macA, etTest, "again"))
	if got := read(t, b); string(got[14:]) != "again" {
		t.Fatalf("after draining: %q", got[14:])
	}
}

// TestHubCopies checks that a frame belongs to the hub once written, and that a short buffer truncates.
func TestHubCopies(t *testing.T) {
	a, b, err := link.Pipe(macA, macB)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	f := frame(macC, macA, etTest, "original") // not addressed to b: a pipe delivers anyway
	write(t, a, f)
	copy(f[14:], "CHANGED!")
	small := make([]byte, 16)
	n, err := b.ReadFrame(context.Background(), small)
	if err != nil || n != 16 || string(small[14:]) != "or" {
		t.Fatalf("ReadFrame into 16 bytes: %d %q %v", n, small, err)
	}
	if !bytes.Equal(a.HardwareAddr(), macA) || !bytes.Equal(b.HardwareAddr(), macB) {
		t.Errorf("addresses %v %v", a.HardwareAddr(), b.HardwareAddr())
	}
}

func TestPortContext(t *testing.T) {
	a, b, err := link.Pipe(macA, macB)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	buf := make([]byte, link.MaxFrameSize)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.ReadFrame(ctx, buf)
	checkOpError(t, err, "read", context.Canceled)
	checkOpError(t, a.WriteFrame(ctx, frame(macB, macA, etTest, "x")), "write", context.Canceled)

	// A cancelled context wins over a queued frame; the frame stays queued.
	write(t, a, frame(macB, macA, etTest, "queued"))
	_, err = b.ReadFrame(ctx, buf)
	checkOpError(t, err, "read", context.Canceled)
	if got := read(t, b); string(got[14:]) != "queued" {
		t.Fatalf("queued frame lost: %q", got)
	}

	// Cancelling a blocked read.
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := b.ReadFrame(ctx, buf)
		errc <- err
	}()
	cancel()
	checkOpError(t, <-errc, "read", context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err = b.ReadFrame(ctx, buf)
	checkOpError(t, err, "read", context.DeadlineExceeded)
	oe := err.(*net.OpError) // checked above
	if oe.Net != "memory" || oe.Addr.String() != macB.String() || oe.Addr.Network() != "ethernet" {
		t.Errorf("OpError %+v", oe)
	}
}

func TestPortClose(t *testing.T) {
	h := link.NewHub()
	a := attach(t, h, macA, nil)
	b := attach(t, h, macB, nil)
	c := attach(t, h, macC, nil)

	errc := make(chan error)
	go func() {
		_, err := b.ReadFrame(context.Background(), make([]byte, 64))
		errc <- err
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	checkOpError(t, <-errc, "read", net.ErrClosed)
	checkOpError(t, b.Close(), "close", net.ErrClosed)
	checkOpError(t, b.WriteFrame(context.Background(), frame(macA, macB, etTest, "x")), "write", net.ErrClosed)

	// The closed port is off the segment; the others still talk.
	write(t, a, frame(broadcast, macA, etTest, "after"))
	if s := b.Stats(); s.Received != 0 {
		t.Errorf("closed port received %d frames", s.Received)
	}
	if got := read(t, c); string(got[14:]) != "after" {
		t.Fatalf("c read %q", got)
	}

	// Closing the hub closes every port and refuses new ones.
	go func() {
		_, err := c.ReadFrame(context.Background(), make([]byte, 64))
		errc <- err
	}()
	h.Close()
	checkOpError(t, <-errc, "read", net.ErrClosed)
	checkOpError(t, a.WriteFrame(context.Background(), frame(macB, macA, etTest, "x")), "write", net.ErrClosed)
	_, err := h.Attach(macD, nil)
	checkOpError(t, err, "listen", net.ErrClosed)
}

func TestPortErrors(t *testing.T) {
	h := link.NewHub()
	defer h.Close()
	if _, err := h.Attach(macA[:5], nil); err == nil {
		t.Error("5-byte MAC: no error")
	}
	if _, err := h.Attach(macA, &link.PortConfig{QueueLen: -1}); err == nil {
		t.Error("negative queue: no error")
	}
	a := attach(t, h, macA, nil)
	for _, f := range [][]byte{nil, make([]byte, 13), make([]byte, link.MaxFrameSize+1)} {
		var oe *net.OpError
		if err := a.WriteFrame(context.Background(), f); !errors.As(err, &oe) || oe.Op != "write" {
			t.Errorf("%d-byte frame: %v", len(f), err)
		}
	}
	if err := a.WriteFrame(context.Background(), make([]byte, link.MaxFrameSize)); err != nil {
		t.Errorf("full-size frame: %v", err)
	}
}

// TestHubConcurrent runs writers and readers at once (for -race): every
// frame arrives exactly once and in each writer's order.
func TestHubConcurrent(t *testing.T) {
	const writers, perWriter = 4, 200
	h := link.NewHub()
	defer h.Close()
	sink := attach(t, h, macA, &link.PortConfig{QueueLen: writers * perWriter})
	var wg sync.WaitGroup
	for w := range writers {
		p := attach(t, h, net.HardwareAddr{0x02, 1, 0, 0, 0, byte(w)}, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if err := p.WriteFrame(context.Background(), frame(macA, p.HardwareAddr(), etTest, fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make(map[string]int)
	for range writers * perWriter {
		f := read(t, sink)
		src := net.HardwareAddr(f[6:12]).String()
		if string(f[14:]) != fmt.Sprint(next[src]) {
			t.Fatalf("from %s: %q, want %d", src, f[14:], next[src])
		}
		next[src]++
	}
	wg.Wait()
	if s := sink.Stats(); s.Dropped != 0 {
		t.Errorf("dropped %d", s.Dropped)
	}
}
