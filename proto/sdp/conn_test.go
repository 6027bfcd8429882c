package sdp

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// datagram is one packet of a memConn, with its peer's address.
type datagram struct {
	b    []byte
	addr *net.UDPAddr
}

// memConn is a net.PacketConn in memory: tests push datagrams into in and
// read what is written from out, so that every datagram counts and none is
// lost. Only a read deadline in the past is supported, which is what Serve
// and Discover use to stop.
type memConn struct {
	in, out chan datagram
	local   *net.UDPAddr
	reads   chan struct{} // if set, told of every ReadFrom call

	mu      sync.Mutex
	expired chan struct{} // closed while the read deadline is in the past
}

func newMemConn(local string) *memConn {
	return &memConn{
		in:      make(chan datagram, 16),
		out:     make(chan datagram, 16),
		local:   net.UDPAddrFromAddrPort(mustAddrPort(local)),
		expired: make(chan struct{}),
	}
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.reads != nil {
		c.reads <- struct{}{}
	}
	c.mu.Lock()
	expired := c.expired
	c.mu.Unlock()
	select {
	case d := <-c.in:
		return copy(b, d.b), d.addr, nil
	case <-expired:
		return 0, nil, os.ErrDeadlineExceeded
	}
}

func (c *memConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.out <- datagram{bytes.Clone(b), addr.(*net.UDPAddr)}
	return len(b), nil
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.expired:
		if t.IsZero() {
			c.expired = make(chan struct{})
		}
	default:
		if !t.IsZero() {
			if t.After(time.Now()) {
				panic("memConn: only deadlines in the past are supported")
			}
			close(c.expired)
		}
	}
	return nil
}

func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return c.local }
func (c *memConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// send queues a datagram from "from" for the conn's reader.
func (c *memConn) send(b []byte, from string) {
	c.in <- datagram{b, net.UDPAddrFromAddrPort(mustAddrPort(from))}
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
