//go:build linux

package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Watcher follows one interface through the kernel's link and address
// notifications (RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR).
type Watcher struct {
	name string
	ns   netns.NsHandle

	mu      sync.Mutex
	st      state
	changed chan struct{} // closed and replaced at every change

	done chan struct{}
	wg   sync.WaitGroup
}

// startNS is the network namespace the process started in (package
// initialisation runs on the main thread, before any test moves a thread).
var startNS, _ = netns.Get()

// resubscribe is the pause before the watcher subscribes again after the
// kernel ended a subscription (its socket's buffer overflowed).
const resubscribe = 100 * time.Millisecond

// Watch starts watching the interface called name, in the network
// namespace of the calling thread. Close ends it.
func Watch(name string) (*Watcher, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("netif: the network namespace: %w", err)
	}
	// Entering a namespace takes CAP_SYS_ADMIN, which the daemon does not
	// have: only a thread moved into another namespace than the one the
	// process started in (as tests do) names it to netlink.
	if ns.Equal(startNS) {
		ns.Close()
		ns = netns.None()
	}
	w := &Watcher{name: name, ns: ns, changed: make(chan struct{}), done: make(chan struct{})}
	sub, err := w.subscribe()
	if err != nil {
		ns.Close()
		return nil, err
	}
	w.wg.Add(1)
	go w.run(sub)
	return w, nil
}

// Close stops watching.
func (w *Watcher) Close() error {
	select {
	case <-w.done:
		return nil
	default:
	}
	close(w.done)
	w.wg.Wait()
	if !w.ns.IsOpen() {
		return nil
	}
	return w.ns.Close()
}

// subscription is one pair of netlink subscriptions.
type subscription struct {
	links chan netlink.LinkUpdate
	addrs chan netlink.AddrUpdate
	stop  chan struct{}
}

// end stops the subscriptions and waits for their goroutines.
func (s *subscription) end() {
	close(s.stop)
	for range s.links {
	}
	for range s.addrs {
	}
}

// subscribe subscribes to the link and address notifications, then reads
// the current state: a change between the two arrives as a notification.
func (w *Watcher) subscribe() (*subscription, error) {
	s := &subscription{links: make(chan netlink.LinkUpdate, 64), addrs: make(chan netlink.AddrUpdate, 64), stop: make(chan struct{})}
	lo, ao := netlink.LinkSubscribeOptions{}, netlink.AddrSubscribeOptions{}
	if w.ns.IsOpen() {
		lo.Namespace, ao.Namespace = &w.ns, &w.ns
	}
	if err := netlink.LinkSubscribeWithOptions(s.links, s.stop, lo); err != nil {
		close(s.stop)
		return nil, fmt.Errorf("netif: watching the interfaces (netlink): %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(s.addrs, s.stop, ao); err != nil {
		close(s.stop)
		for range s.links {
		}
		return nil, fmt.Errorf("netif: watching the addresses (netlink): %w", err)
	}
	st, err := w.read()
	if err != nil {
		s.end()
		return nil, err
	}
	w.set(func(s *state) { *s = st })
	return s, nil
}

// read asks the kernel for the interface and every link-local address.
func (w *Watcher) read() (state, error) {
	st := state{lls: map[int]map[netip.Addr]uint32{}}
	h, err := netlink.NewHandleAt(w.ns)
	if err != nil {
		return st, fmt.Errorf("netif: netlink: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(w.name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return st, fmt.Errorf("netif: reading interface %s: %w", w.name, err)
	default:
		st.link(l.Attrs())
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_V6)
	if err != nil {
		return st, fmt.Errorf("netif: reading the IPv6 addresses: %w", err)
	}
	for _, a := range addrs {
		st.addr(a.LinkIndex, a.IP, uint32(a.Flags), true)
	}
	return st, nil
}

// refresh asks the kernel for the interface's link-local addresses, which
// it announces only once usable: so a tentative one is seen.
func (w *Watcher) refresh() {
	w.mu.Lock()
	index := w.st.index
	w.mu.Unlock()
	if index == 0 {
		return
	}
	h, err := netlink.NewHandleAt(w.ns)
	if err != nil {
		return // the notifications still tell
	}
	defer h.Close()
	addrs, err := h.AddrList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: index}}, netlink.FAMILY_V6)
	if err != nil {
		return
	}
	w.set(func(st *state) {
		if st.index != index {
			return
		}
		delete(st.lls, index)
		for _, a := range addrs {
			st.addr(index, a.IP, uint32(a.Flags), true)
		}
	})
}

// run applies the notifications until Close, subscribing again whenever
// the kernel ends a subscription.
func (w *Watcher) run(s *subscription) {
	defer w.wg.Done()
	for {
		if s != nil && w.follow(s) {
			s.end()
			return
		}
		if s != nil {
			s.end()
		}
		select {
		case <-time.After(resubscribe):
		case <-w.done:
			return
		}
		s, _ = w.subscribe() // nil: try again after the pause
	}
}

// follow applies notifications until a subscription ends (false) or Close (true).
func (w *Watcher) follow(s *subscription) bool {
	for {
		select {
		case u, ok := <-s.links:
			if !ok {
				return false
			}
			w.set(func(st *state) {
				a := u.Attrs()
				switch {
				case u.Header.Type == unix.RTM_DELLINK:
					delete(st.lls, a.Index)
					if a.Index == st.index {
						st.gone()
					}
				case a.Name == w.name:
					st.link(a)
				case a.Index == st.index:
					st.gone() // renamed
				}
			})
		case u, ok := <-s.addrs:
			if !ok {
				return false
			}
			w.set(func(st *state) { st.addr(u.LinkIndex, u.LinkAddress.IP, uint32(u.Flags), u.NewAddr) })
		case <-w.done:
			return true
		}
	}
}

// set changes the state and wakes the waiters.
func (w *Watcher) set(f func(*state)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.st)
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *Watcher) look() (Link, *NotReadyError, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, why := w.st.usable(w.name)
	return l, why, w.changed
}

func (w *Watcher) gone(l Link) (bool, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st.index != l.Index, w.changed
}

func (s *state) link(a *netlink.LinkAttrs) {
	if a.Index != s.index {
		s.gone()
		s.index = a.Index
	}
	s.up = a.Flags&net.FlagUp != 0
	s.carrier = a.RawFlags&unix.IFF_LOWER_UP != 0
	s.mac = append(s.mac[:0:0], a.HardwareAddr...)
}

func (s *state) gone() {
	s.index, s.up, s.carrier, s.mac = 0, false, false, nil
}

func (s *state) addr(index int, ip []byte, flags uint32, add bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || !a.Is6() || a.Is4In6() || !a.IsLinkLocalUnicast() {
		return
	}
	if s.lls == nil {
		s.lls = map[int]map[netip.Addr]uint32{}
	}
	m := s.lls[index]
	if !add {
		delete(m, a)
		return
	}
	if m == nil {
		m = map[netip.Addr]uint32{}
		s.lls[index] = m
	}
	m[a] = flags
}
