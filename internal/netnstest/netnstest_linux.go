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
	a = &Namespace{Name: name + "a", Iface: cfg.IfaceA, MAC: cfg.MACA}
	b = &Namespace{Name: name + "b", Iface: cfg.IfaceB, MAC: cfg.MACB}
	create(t, a, b)

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
		// No duplicate address detection: the link-local address is usable
		// at once instead of a second or more later.
		n.Do(t, func() {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+n.Iface+"/accept_dad", []byte("0"), 0o644); err != nil {
				t.Fatalf("netnstest: DAD off on %s: %v", n.Iface, err)
			}
		})
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
	return a, b
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
// tentative, which it stores in n.
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
		for !up || !addr {
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
		result <- nil
	}()
	return result
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
