// Package netnstest gives tests two fresh network namespaces joined by a
// veth pair: a cable between two hosts on one machine, for raw sockets
// (SLAC), UDP (SDP) and TCP (V2G) over IPv6 link-local addresses.
//
//	a, b := netnstest.VethPair(t) // skips unless root with iproute2
//	var ln net.Listener
//	a.Do(t, func() { ln, err = net.Listen("tcp6", "[::]:15118") })
//	b.Do(t, func() { c, err = net.Dial("tcp6", b.PeerAddr(a, 15118).String()) })
//	out, err := b.Command(ctx, bin, "slac", "--iface", b.Iface).CombinedOutput()
//
// A socket belongs to the namespace of the thread that opened it, so open
// sockets inside Do; use them from any goroutine after. Name lookups (an
// interface's name, a zone "%veth0") also happen in the calling thread's
// namespace: do them inside Do too, or use the numeric Index. Everything
// is removed by t.Cleanup.
package netnstest

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"
)

// Namespace is one end of the pair: a named network namespace and the veth
// interface in it, up, with its IPv6 link-local address ready.
type Namespace struct {
	// Name is the namespace's name, as ip netns lists it.
	Name string
	// Iface is the veth interface's name inside the namespace.
	Iface string
	// Index is the interface's index inside the namespace, usable as a zone.
	Index int
	// MAC is the interface's hardware address.
	MAC net.HardwareAddr
	// LinkLocal is the interface's fe80:: address, zoned with Iface. Duplicate
	// address detection is off unless Config asked for it, so it is usable
	// (not tentative) at once.
	LinkLocal netip.Addr

	handle    int           // the namespace's file descriptor (netns.NsHandle)
	tentative time.Duration // Config.TentativeA or TentativeB
}

// Config sets what VethPair otherwise chooses; zero fields take defaults.
type Config struct {
	// IfaceA and IfaceB name the two ends; empty means "veth0" and "veth1".
	IfaceA, IfaceB string
	// MACA and MACB are their addresses; nil means 02:cc:00:00:00:0a and
	// 02:cc:00:00:00:0b.
	MACA, MACB net.HardwareAddr
	// TentativeA and TentativeB keep that end's link-local address
	// tentative for at least this long after the link comes up (duplicate
	// address detection on, its probes spaced to last that long; the
	// kernel adds a random delay of up to 1 s). Zero turns detection off:
	// the address is usable at once. NewVethPair and RecreatePair wait
	// only for the address to exist on such an end, not to be usable.
	TentativeA, TentativeB time.Duration
}

// VethPair creates two fresh namespaces joined by a veth pair with the
// default Config, and returns their ends; see NewVethPair.
func VethPair(t testing.TB) (a, b *Namespace) {
	t.Helper()
	return NewVethPair(t, Config{})
}

// NewVethPair creates two fresh network namespaces joined by a veth pair
// configured by cfg: both ends up (operstate UP, so frames pass), with IPv6
// link-local addresses ready. It skips the test unless it runs as root on
// Linux with the ip command (iproute2), and removes everything in
// t.Cleanup.
func NewVethPair(t testing.TB, cfg Config) (a, b *Namespace) {
	t.Helper()
	if cfg.IfaceA == "" {
		cfg.IfaceA = "veth0"
	}
	if cfg.IfaceB == "" {
		cfg.IfaceB = "veth1"
	}
	if cfg.MACA == nil {
		cfg.MACA = net.HardwareAddr{0x02, 0xcc, 0, 0, 0, 0x0a}
	}
	if cfg.MACB == nil {
		cfg.MACB = net.HardwareAddr{0x02, 0xcc, 0, 0, 0, 0x0b}
	}
	return vethPair(t, cfg)
}

// PeerAddr returns the address at which n reaches port on peer: peer's
// link-local address, zoned with n's interface (a link-local destination
// names the interface it leaves by).
func (n *Namespace) PeerAddr(peer *Namespace, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(peer.LinkLocal.WithZone(n.Iface), port)
}

// Do runs fn on a thread in the namespace and returns when fn does.
// Sockets fn opens stay in the namespace. fn must not start goroutines
// that need the namespace: they run on other threads.
func (n *Namespace) Do(t testing.TB, fn func()) {
	t.Helper()
	do(t, n, fn)
}

// Command returns a command that runs name with args inside the namespace,
// through ip netns exec (which also mounts the namespace's /sys).
func (n *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// DeletePair deletes the veth pair (both ends go, as a veth's do), as a
// modem's driver that is unloaded or reset deletes its interface.
func DeletePair(t testing.TB, a, b *Namespace) {
	t.Helper()
	deletePair(t, a, b)
}

// RecreatePair creates the veth pair again between a and b, with the names,
// addresses and duplicate address detection of NewVethPair's Config, as a
// reloaded driver creates its interface again: same name and MAC, a new
// index, which it stores in a and b. It deletes the pair first if it is
// still there, and returns when both ends are ready as NewVethPair's are.
func RecreatePair(t testing.TB, a, b *Namespace) {
	t.Helper()
	recreatePair(t, a, b)
}

// IP runs the ip command with args in the namespace (ip -n Name args...)
// and fails the test if it fails.
func (n *Namespace) IP(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %v: %v\n%s", n.Name, args, err, out)
	}
}
