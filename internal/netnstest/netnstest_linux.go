//go:build linux

package netnstest

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// seq makes namespace names unique within the process; the pid, across processes.
var seq atomic.Uint32

// listenFor bounds the netlink subscriptions: their goroutines end at most
// this long after the last event, since closing them cannot wake a receive.
const listenFor = 2 * time.Second

func vethPair(t testing.TB, cfg Config) (a, b *Namespace) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces; skipped")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2); skipped")
	}
	name := fmt.Sprintf("ccstest-%d-%d", os.Getpid(), seq.Add(1))
	a = &Namespace{Name: name + "a", Iface: cfg.IfaceA, MAC: cfg.MACA, tentative: cfg.TentativeA}
	b = &Namespace{Name: name + "b", Iface: cfg.IfaceB, MAC: cfg.MACB, tentative: cfg.TentativeB}
	create(t, a, b)
	addPair(t, a, b)
	return a, b
}

// addPair creates the veth pair between a and b, brings both ends up and
// waits until they are ready.
func addPair(t testing.TB, a, b *Namespace) {
	t.Helper()
	la := netlink.NewLinkAttrs()
	la.Name, la.HardwareAddr, la.Namespace = a.Iface, a.MAC, netlink.NsFd(a.handle)
	veth := &netlink.Veth{LinkAttrs: la, PeerName: b.Iface, PeerHardwareAddr: b.MAC, PeerNamespace: netlink.NsFd(b.handle)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("netnstest: veth pair %s/%s: %v", a.Iface, b.Iface, err)
	}
	var ready [2]<-chan error
	for i, n := range []*Namespace{a, b} {
		h, err := netlink.NewHandleAt(netns.NsHandle(n.handle))
		if err != nil {
			t.Fatalf("netnstest: netlink in %s: %v", n.Name, err)
		}
		defer h.Close()
		l, err := h.LinkByName(n.Iface)
		if err != nil {
			t.Fatalf("netnstest: %s in %s: %v", n.Iface, n.Name, err)
		}
		n.Index = l.Attrs().Index
		n.Do(t, func() { setDAD(t, n) })
		ready[i] = waitReady(t, n)
		if err := h.LinkSetUp(l); err != nil {
			t.Fatalf("netnstest: %s up: %v", n.Iface, err)
		}
	}
	for _, r := range ready {
		if err := <-r; err != nil {
			t.Fatalf("netnstest: %v", err)
		}
	}
}

// dadProbe is the spacing of duplicate address detection's probes on a
// tentative end (the neighbour solicitations' retransmission time).
const dadProbe = 500 * time.Millisecond

// setDAD turns duplicate address detection off on n's interface, so that
// its link-local address is usable at once instead of a second or more
// later; or on, with probes that last n.tentative.
func setDAD(t testing.TB, n *Namespace) {
	t.Helper()
	conf := map[string]string{"ipv6/conf/" + n.Iface + "/accept_dad": "0"}
	if n.tentative > 0 {
		probes := (n.tentative + dadProbe - 1) / dadProbe
		conf = map[string]string{
			"ipv6/conf/" + n.Iface + "/accept_dad":       "1",
			"ipv6/conf/" + n.Iface + "/dad_transmits":    fmt.Sprint(int(probes)),
			"ipv6/neigh/" + n.Iface + "/retrans_time_ms": fmt.Sprint(dadProbe.Milliseconds()),
		}
	}
	for k, v := range conf {
		if err := os.WriteFile("/proc/sys/net/"+k, []byte(v), 0o644); err != nil {
			t.Fatalf("netnstest: duplicate address detection on %s: %v", n.Iface, err)
		}
	}
}

func deletePair(t testing.TB, a, _ *Namespace) {
	t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(a.handle))
	if err != nil {
		t.Fatalf("netnstest: netlink in %s: %v", a.Name, err)
	}
	defer h.Close()
	l, err := h.LinkByName(a.Iface)
	if err != nil {
		t.Fatalf("netnstest: %s in %s: %v", a.Iface, a.Name, err)
	}
	if err := h.LinkDel(l); err != nil {
		t.Fatalf("netnstest: delete %s: %v", a.Iface, err)
	}
}

func recreatePair(t testing.TB, a, b *Namespace) {
	t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(a.handle))
	if err != nil {
		t.Fatalf("netnstest: netlink in %s: %v", a.Name, err)
	}
	_, err = h.LinkByName(a.Iface)
	h.Close()
	if err == nil {
		deletePair(t, a, b)
	} else if _, ok := err.(netlink.LinkNotFoundError); !ok {
		t.Fatalf("netnstest: %s in %s: %v", a.Iface, a.Name, err)
	}
	addPair(t, a, b)
}

// create makes the two named namespaces on a locked thread (making one
// moves the thread into it) and brings the thread back.
func create(t testing.TB, nss ...*Namespace) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("netnstest: current namespace: %v", err)
	}
	defer orig.Close()
	var errs []error
	for _, n := range nss {
		h, err := netns.NewNamed(n.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", n.Name, err))
			continue
		}
		n.handle = int(h)
		t.Cleanup(func() {
			h.Close()
			if err := netns.DeleteNamed(n.Name); err != nil {
				t.Errorf("netnstest: delete namespace %s: %v", n.Name, err)
			}
		})
	}
	if err := netns.Set(orig); err != nil {
		// The thread stays locked: Fatal ends the goroutine, and the runtime
		// discards the thread instead of reusing it in the wrong namespace.
		t.Fatalf("netnstest: back to the original namespace: %v", err)
	}
	runtime.UnlockOSThread()
	if len(errs) > 0 {
		t.Fatalf("netnstest: %v", errs)
	}
}

// waitReady subscribes to n's link and address changes and reports on the
// returned channel when its interface is operationally up (the kernel drops
// frames sent before) and has a link-local IPv6 address that is not
// tentative (or any, if n is to be tentative), which it stores in n.
func waitReady(t testing.TB, n *Namespace) <-chan error {
	t.Helper()
	ns := netns.NsHandle(n.handle)
	timeout := unix.NsecToTimeval(listenFor.Nanoseconds())
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{
		Namespace: &ns, ListExisting: true, ReceiveTimeout: &timeout}); err != nil {
		t.Fatalf("netnstest: subscribe to links in %s: %v", n.Name, err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{
		Namespace: &ns, ListExisting: true, ReceiveTimeout: &timeout}); err != nil {
		close(done)
		t.Fatalf("netnstest: subscribe to addresses in %s: %v", n.Name, err)
	}
	result := make(chan error, 1)
	go func() {
		defer func() {
			close(done)
			for range links { // until the subscriptions' goroutines end
			}
			for range addrs {
			}
		}()
		up, addr := false, false
		// The kernel announces an address only once it is usable: a
		// tentative one is found by asking, below.
		for !up || !addr && n.tentative == 0 {
			select {
			case u, ok := <-links:
				if !ok {
					result <- fmt.Errorf("%s in %s: no operstate UP before the subscription ended", n.Iface, n.Name)
					return
				}
				if u.Attrs().Index == n.Index && u.Attrs().OperState == netlink.OperUp {
					up = true
				}
			case u, ok := <-addrs:
				if !ok {
					result <- fmt.Errorf("%s in %s: no usable IPv6 link-local address before the subscription ended", n.Iface, n.Name)
					return
				}
				ip, isIP := netip.AddrFromSlice(u.LinkAddress.IP)
				if u.NewAddr && u.LinkIndex == n.Index && isIP && ip.Is6() && ip.IsLinkLocalUnicast() &&
					u.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
					n.LinkLocal, addr = ip.WithZone(n.Iface), true
				}
			}
		}
		if !addr {
			result <- findTentative(n)
			return
		}
		result <- nil
	}()
	return result
}

// findTentative asks for n's link-local address until it exists, tentative
// or not, and stores it in n.
func findTentative(n *Namespace) error {
	h, err := netlink.NewHandleAt(netns.NsHandle(n.handle))
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", n.Name, err)
	}
	defer h.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(listenFor)
	for time.Now().Before(end) {
		addrs, err := h.AddrList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: n.Index}}, netlink.FAMILY_V6)
		if err != nil {
			return fmt.Errorf("addresses of %s in %s: %w", n.Iface, n.Name, err)
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_DADFAILED == 0 {
				n.LinkLocal = ip.WithZone(n.Iface)
				return nil
			}
		}
		<-tick.C
	}
	return fmt.Errorf("%s in %s: no IPv6 link-local address within %v", n.Iface, n.Name, listenFor)
}

func do(t testing.TB, n *Namespace, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("netnstest: current namespace: %v", err)
	}
	defer orig.Close()
	if err := netns.Set(netns.NsHandle(n.handle)); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("netnstest: enter %s: %v", n.Name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			// Locked, the thread dies with the goroutine Fatal ends.
			t.Fatalf("netnstest: back from %s: %v", n.Name, err)
		}
		runtime.UnlockOSThread()
	}()
	fn()
}
