//go:build linux

package netif_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/netif"
	"github.com/ccslink/ccslink/internal/netnstest"
)

var pair = netnstest.Config{IfaceA: "plc0", MACA: net.HardwareAddr{2, 0, 0, 0, 0xe5, 1}, IfaceB: "ev0", MACB: net.HardwareAddr{2, 0, 0, 0, 0xca, 1}}

// watch starts a Watcher in n's namespace.
func watch(t *testing.T, n *netnstest.Namespace, name string) *netif.Watcher {
	t.Helper()
	var w *netif.Watcher
	var err error
	n.Do(t, func() { w, err = netif.Watch(name) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// TestGoneAndBack: the interface deleted and created again, as a reset
// modem driver does: WaitGone returns, and Ready returns it under its new
// index with the same link-local address.
func TestGoneAndBack(t *testing.T) {
	a, b := netnstest.NewVethPair(t, pair)
	w := watch(t, a, a.Iface)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := w.Ready(ctx, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "plc0" || l.Index != a.Index || l.MAC.String() != "02:00:00:00:e5:01" || l.LinkLocal.String() != "fe80::ff:fe00:e501%plc0" {
		t.Fatalf("Ready: %+v", l)
	}
	gone := make(chan error, 1)
	go func() { gone <- w.WaitGone(ctx, l) }()
	select {
	case err := <-gone:
		t.Fatalf("WaitGone returned %v while the interface is there", err)
	default:
	}
	netnstest.DeletePair(t, a, b)
	if err := <-gone; err != nil {
		t.Fatal(err)
	}

	var reasons []netif.Reason
	back := make(chan netif.Link, 1)
	waiting := make(chan struct{}) // Ready told its first reason
	go func() {
		l, err := w.Ready(ctx, 30*time.Second, func(e *netif.NotReadyError) {
			reasons = append(reasons, e.Reason)
			if len(reasons) == 1 {
				close(waiting)
			}
		})
		if err != nil {
			t.Error(err)
		}
		back <- l
	}()
	// The interface comes back only once Ready has seen it missing.
	select {
	case <-waiting:
	case l := <-back:
		t.Fatalf("Ready returned %+v while the interface is missing", l)
	}
	old := a.Index
	netnstest.RecreatePair(t, a, b)
	l2 := <-back
	if l2.Index != a.Index || l2.Index == old || l2.LinkLocal != l.LinkLocal || l2.MAC.String() != l.MAC.String() {
		t.Fatalf("back: %+v, was %+v (index now %d)", l2, l, a.Index)
	}
	if len(reasons) == 0 || reasons[0] != netif.Missing {
		t.Fatalf("reasons while waiting: %v, want missing first", reasons)
	}
	// The new interface is not gone.
	short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
	defer stop()
	if err := w.WaitGone(short, l2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitGone on the new interface: %v", err)
	}
}

// TestRenamedIsGone: an interface renamed no longer answers to its name.
func TestRenamedIsGone(t *testing.T) {
	a, _ := netnstest.NewVethPair(t, pair)
	w := watch(t, a, a.Iface)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := w.Ready(ctx, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.IP(t, "link", "set", "plc0", "down")
	a.IP(t, "link", "set", "plc0", "name", "plc9")
	if err := w.WaitGone(ctx, l); err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
	defer stop()
	var e *netif.NotReadyError
	if _, err := w.Ready(short, 50*time.Millisecond, nil); !errors.As(err, &e) || e.Reason != netif.Missing || e.Waited != 50*time.Millisecond {
		t.Fatalf("Ready after the rename: %v", err)
	}
}

// TestReadyWaitsForTentative: with duplicate address detection on, Ready
// reports the tentative address and returns once it is usable.
func TestReadyWaitsForTentative(t *testing.T) {
	cfg := pair
	cfg.TentativeA = 1500 * time.Millisecond
	a, _ := netnstest.NewVethPair(t, cfg)
	w := watch(t, a, a.Iface)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var waited []*netif.NotReadyError
	start := time.Now()
	l, err := w.Ready(ctx, 20*time.Second, func(e *netif.NotReadyError) { waited = append(waited, e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(waited) != 1 || waited[0].Reason != netif.Tentative || waited[0].Addr.WithZone("").String() != "fe80::ff:fe00:e501" || waited[0].Waited != 0 {
		t.Fatalf("waited for %+v", waited)
	}
	if l.LinkLocal.String() != "fe80::ff:fe00:e501%plc0" || l.Index != a.Index {
		t.Fatalf("Ready: %+v", l)
	}
	t.Logf("tentative for %v more", time.Since(start))
}

// TestReadyGivesUp: an address still tentative when the bound ends, an
// interface down, one that does not exist: each a NotReadyError that says so.
func TestReadyGivesUp(t *testing.T) {
	cfg := pair
	cfg.TentativeA = 5 * time.Second
	a, _ := netnstest.NewVethPair(t, cfg)
	w := watch(t, a, a.Iface)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var e *netif.NotReadyError
	_, err := w.Ready(ctx, 200*time.Millisecond, nil)
	if !errors.As(err, &e) || e.Reason != netif.Tentative || e.Addr.WithZone("").String() != "fe80::ff:fe00:e501" || e.Waited != 200*time.Millisecond {
		t.Fatalf("tentative: %v", err)
	}

	a.IP(t, "link", "set", "plc0", "down")
	if _, err := w.Ready(ctx, 200*time.Millisecond, nil); !errors.As(err, &e) || e.Reason != netif.Down {
		t.Fatalf("down: %v", err)
	}

	none := watch(t, a, "nosuch0")
	if _, err := none.Ready(ctx, 10*time.Millisecond, nil); !errors.As(err, &e) || e.Reason != netif.Missing || e.Name != "nosuch0" {
		t.Fatalf("missing: %v", err)
	}
	cancel()
	if _, err := none.Ready(ctx, time.Minute, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
