//go:build linux

package link

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// rawNet is the network name in the errors of raw sockets.
const rawNet = "packet"

// Config configures Listen; nil is the zero value.
type Config struct {
	// Promiscuous puts the interface in promiscuous mode for this socket, so
	// unicast frames for other MACs arrive too (a real NIC filters them).
	Promiscuous bool
	// Outgoing also delivers frames that other sockets and the kernel of
	// this host send on the interface, as a modem emulator in front of the
	// host's own stack needs. A socket never receives its own frames.
	Outgoing bool
}

// RawConn is a raw AF_PACKET socket bound to one interface and ethertype; it implements Conn.
type RawConn struct {
	c    *packet.Conn
	addr *Addr

	rmu, wmu sync.Mutex // one reader and one writer at a time: each owns a deadline
	rd, wd   deadline
	closed   atomic.Bool
}

var _ Conn = (*RawConn)(nil)

// Listen opens a raw socket on the named interface for frames of etherType
// (AllEtherTypes for every frame). It needs CAP_NET_RAW. Unless
// cfg.Outgoing is set, the socket returns only frames that arrive on the
// link, never the ones this host sends.
func Listen(ifname string, etherType uint16, cfg *Config) (*RawConn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, opError("listen", rawNet, nil, err)
	}
	addr := &Addr{HardwareAddr: ifi.HardwareAddr}
	if len(ifi.HardwareAddr) != 6 {
		return nil, opError("listen", rawNet, addr, &NotEthernetError{Iface: ifname})
	}
	var pcfg packet.Config
	if !cfg.Outgoing {
		pcfg.Filter = dropOutgoing
	}
	c, err := packet.Listen(ifi, packet.Raw, int(etherType), &pcfg)
	if err != nil {
		return nil, opError("listen", rawNet, addr, unwrapOp(err))
	}
	if cfg.Promiscuous {
		if err := c.SetPromiscuous(true); err != nil {
			c.Close()
			return nil, opError("listen", rawNet, addr, unwrapOp(err))
		}
	}
	return &RawConn{c: c, addr: addr}, nil
}

// dropOutgoing is a BPF program that drops frames the host sent: Linux
// shows other sockets' frames to ETH_P_ALL sockets, and a reader of the
// link (link-up detection: the first IPv6 frame from the car) wants only
// what arrives.
var dropOutgoing = func() []bpf.RawInstruction {
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 1},
		bpf.RetConstant{Val: 1 << 18},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		panic(err) // a constant program: cannot fail
	}
	return prog
}()

// HardwareAddr returns the interface's MAC address.
func (c *RawConn) HardwareAddr() net.HardwareAddr { return c.addr.HardwareAddr }

// ReadFrame waits for the next frame until ctx ends; cancellation works
// through the socket's read deadline.
func (c *RawConn) ReadFrame(ctx context.Context, b []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, opError("read", rawNet, c.addr, err)
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	stop := c.rd.watch(ctx, c.c.SetReadDeadline)
	defer stop()
	for {
		n, _, err := c.c.ReadFrom(b)
		if err == nil {
			return n, nil
		}
		if err := c.ctxErr(ctx, err); err != nil {
			return 0, opError("read", rawNet, c.addr, err)
		}
		// A deadline that belonged to no one: set ours again.
		c.rd.reset(ctx, c.c.SetReadDeadline)
	}
}

// WriteFrame sends one frame; ctx bounds the wait for room in the socket's send buffer.
func (c *RawConn) WriteFrame(ctx context.Context, frame []byte) error {
	if err := ctx.Err(); err != nil {
		return opError("write", rawNet, c.addr, err)
	}
	if err := checkFrame(frame); err != nil {
		return opError("write", rawNet, c.addr, err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	stop := c.wd.watch(ctx, c.c.SetWriteDeadline)
	defer stop()
	// SOCK_RAW sends the frame as it is; the address only has to be valid.
	dst := &packet.Addr{HardwareAddr: net.HardwareAddr(frame[:6])}
	for {
		_, err := c.c.WriteTo(frame, dst)
		if err == nil {
			return nil
		}
		if err := c.ctxErr(ctx, err); err != nil {
			return opError("write", rawNet, c.addr, err)
		}
		c.wd.reset(ctx, c.c.SetWriteDeadline)
	}
}

// ctxErr maps a socket error to the error to return, or nil for a deadline
// that expired although ctx has not: then the caller retries.
func (c *RawConn) ctxErr(ctx context.Context, err error) error {
	if c.closed.Load() {
		// Whatever the socket said (EBADF, "use of closed file"), the Conn is closed.
		return net.ErrClosed
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return unwrapOp(err)
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		// The socket's deadline fired a moment before ctx's timer.
		return context.DeadlineExceeded
	}
	return nil
}

// Close closes the socket; a blocked ReadFrame or WriteFrame returns net.ErrClosed.
func (c *RawConn) Close() error {
	if c.closed.Swap(true) {
		return opError("close", rawNet, c.addr, net.ErrClosed)
	}
	return opError("close", rawNet, c.addr, unwrapOp(c.c.Close()))
}

// unwrapOp strips the *net.OpError of the packet package, so ours is the only one.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}

// deadline turns a context into a socket deadline. Each watch gets a
// generation; a cancellation that arrives after its watch ended finds a newer
// generation and leaves the deadline alone.
type deadline struct {
	mu  sync.Mutex
	gen uint64
}

// longAgo is a deadline in the past: it wakes a blocked call at once.
var longAgo = time.Unix(1, 0)

// watch sets the deadline from ctx and moves it to the past when ctx is
// cancelled; the returned stop ends the watch.
func (d *deadline) watch(ctx context.Context, set func(time.Time) error) (stop func()) {
	t, _ := ctx.Deadline()
	d.mu.Lock()
	d.gen++
	gen := d.gen
	set(t)
	d.mu.Unlock()
	if ctx.Done() == nil {
		return func() {}
	}
	stopAfter := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen {
			set(longAgo)
		}
	})
	return func() {
		stopAfter()
		d.mu.Lock()
		d.gen++
		d.mu.Unlock()
	}
}

// reset sets the deadline of the current watch to ctx's again, or to the
// past if ctx is already done (its cancellation may have just moved it).
func (d *deadline) reset(ctx context.Context, set func(time.Time) error) {
	t, _ := ctx.Deadline()
	d.mu.Lock()
	defer d.mu.Unlock()
	if ctx.Err() != nil {
		t = longAgo
	}
	set(t)
}
