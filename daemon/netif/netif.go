// Package netif watches one network interface by its name: whether it is
// there and under which index, and whether its IPv6 link-local address is
// usable yet. A modem's driver that is reset (a module reload, an SPI
// fault) deletes its interface and creates it again under a new index;
// sockets bound to the old one hear nothing more, so a daemon waits for
// the interface to be gone (WaitGone) and then for it to be back and
// usable (Ready) before it opens its sockets again.
package netif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Link is an interface that is there, up, with a usable link-local address.
type Link struct {
	Name  string
	Index int
	MAC   net.HardwareAddr
	// LinkLocal is the interface's IPv6 link-local address, zoned with
	// Name: not tentative, so a socket can be bound to it.
	LinkLocal netip.Addr
}

// Reason says why an interface is not usable.
type Reason uint8

// Reasons an interface is not usable, from the first one that applies.
const (
	Missing     Reason = iota + 1 // no interface of that name
	Down                          // administratively down
	NoCarrier                     // up, but no link below it
	NoLinkLocal                   // no IPv6 link-local address
	Tentative                     // the link-local address is in duplicate address detection
	DADFailed                     // duplicate address detection found the address in use
)

var reasonNames = [...]string{"", "not there", "down", "no carrier", "no IPv6 link-local address yet",
	"its link-local address is tentative (duplicate address detection, usually 1-2 s)", "duplicate link-local address"}

// String says the reason in a few words.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// NotReadyError says why an interface cannot be used, and what to do.
type NotReadyError struct {
	Name   string
	Reason Reason
	// Addr is the link-local address, for Tentative and DADFailed.
	Addr netip.Addr
	// Waited is how long Ready waited before it gave up; 0 while it waits.
	Waited time.Duration
}

func (e *NotReadyError) Error() string {
	var s string
	n := e.Name
	switch e.Reason {
	case Missing:
		s = fmt.Sprintf("there is no interface %s (is the modem's driver loaded? `ip link` lists the interfaces)", n)
	case Down:
		s = fmt.Sprintf("%s is down: bring it up (`ip link set %s up`, or in the network configuration)", n, n)
	case NoCarrier:
		s = fmt.Sprintf("%s is up but has no link below it (no carrier): is the modem powered and answering its driver?", n)
	case NoLinkLocal:
		s = fmt.Sprintf("%s has no IPv6 link-local address: enable IPv6 on it (sysctl net.ipv6.conf.%s.disable_ipv6=0, and addr_gen_mode other than 1)", n, n)
	case Tentative:
		s = fmt.Sprintf("%s's link-local address %s is still tentative (duplicate address detection has not finished); if this lasts, turn detection off for it: sysctl net.ipv6.conf.%s.accept_dad=0", n, e.Addr.WithZone(""), n)
	case DADFailed:
		s = fmt.Sprintf("%s's link-local address %s failed duplicate address detection: another host on the link has it (the same MAC address?); give %s another MAC address, or turn detection off (sysctl net.ipv6.conf.%s.accept_dad=0) and set it down and up", n, e.Addr.WithZone(""), n, n)
	default:
		s = fmt.Sprintf("%s is not usable (%v)", n, e.Reason)
	}
	if e.Waited > 0 {
		s = fmt.Sprintf("%s not usable after %v: %s", n, e.Waited, s)
	}
	return s
}

// ErrUnsupported is returned by Watch where interfaces cannot be watched.
var ErrUnsupported = errors.New("netif: watching network interfaces needs Linux")

// Ready waits until the interface is there, up, with a usable link-local
// address, for at most within, and returns it. While it waits, onWait (if
// not nil) hears each new reason it has to. A duplicate address ends the
// wait at once: it does not resolve by itself. The error is a
// *NotReadyError, or ctx's.
func (w *Watcher) Ready(ctx context.Context, within time.Duration, onWait func(*NotReadyError)) (Link, error) {
	t := time.NewTimer(within)
	defer t.Stop()
	// The kernel announces a link-local address only once duplicate
	// address detection has passed: while there is none, or a tentative
	// one, the watcher asks.
	poll := time.NewTicker(addrPoll)
	defer poll.Stop()
	var last Reason
	asked := false
	for {
		l, why, changed := w.look()
		if why == nil {
			return l, nil
		}
		if why.Reason == NoLinkLocal && !asked {
			w.refresh()
			asked = true
			continue
		}
		asked = false
		if why.Reason == DADFailed {
			return Link{}, why
		}
		if why.Reason != last && onWait != nil {
			onWait(why)
		}
		last = why.Reason
		var pollC <-chan time.Time
		if why.Reason == NoLinkLocal || why.Reason == Tentative {
			pollC = poll.C
		}
		select {
		case <-changed:
		case <-pollC:
			w.refresh()
		case <-t.C:
			why.Waited = within
			return Link{}, why
		case <-ctx.Done():
			return Link{}, ctx.Err()
		}
	}
}

// addrPoll is how often Ready asks for the addresses of an interface that
// has no usable link-local address yet.
const addrPoll = 100 * time.Millisecond

// WaitGone returns nil when l is gone: its index deleted, or its name now
// on another interface (the driver made it anew) or on none. It returns
// ctx's error if ctx ends first.
func (w *Watcher) WaitGone(ctx context.Context, l Link) error {
	for {
		gone, changed := w.gone(l)
		if gone {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// state is what the watcher knows of the interfaces.
type state struct {
	index   int // of the interface called name; 0: none
	up      bool
	carrier bool
	mac     net.HardwareAddr
	// lls holds the IPv6 link-local addresses of every interface, by index,
	// with their IFA_F_* flags: an address may be reported before the
	// interface it belongs to is known by name.
	lls map[int]map[netip.Addr]uint32
}

// Address flags of the kernel (IFA_F_*), the same on every Linux.
const (
	flagDADFailed = 0x08
	flagTentative = 0x40
)

// usable reports the interface as a Link, or why it cannot be used.
func (s *state) usable(name string) (Link, *NotReadyError) {
	if s.index == 0 {
		return Link{}, &NotReadyError{Name: name, Reason: Missing}
	}
	var best, tentative, failed netip.Addr
	for a, f := range s.lls[s.index] {
		switch {
		case f&flagDADFailed != 0:
			failed = a
		case f&flagTentative != 0:
			if !tentative.IsValid() || a.Less(tentative) {
				tentative = a
			}
		default:
			if !best.IsValid() || a.Less(best) {
				best = a
			}
		}
	}
	if best.IsValid() {
		return Link{Name: name, Index: s.index, MAC: s.mac, LinkLocal: best.WithZone(name)}, nil
	}
	why := &NotReadyError{Name: name}
	switch {
	case !s.up:
		why.Reason = Down
	case tentative.IsValid():
		why.Reason, why.Addr = Tentative, tentative
	case failed.IsValid():
		why.Reason, why.Addr = DADFailed, failed
	case !s.carrier:
		why.Reason = NoCarrier
	default:
		why.Reason = NoLinkLocal
	}
	return Link{}, why
}
