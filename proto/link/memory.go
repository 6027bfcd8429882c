package link

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultQueueLen is the number of frames a Port buffers when PortConfig.QueueLen is zero.
const DefaultQueueLen = 256

// memNet is the network name in the errors of in-memory ports.
const memNet = "memory"

// Hub is an in-memory shared Ethernet segment, like a cable with several
// stations. A frame written to one Port reaches every other Port whose
// ethertype filter accepts it and that it is addressed to: broadcast and
// multicast frames reach all, unicast frames the Ports with that MAC (and
// promiscuous Ports). The sender does not receive its own frame.
//
// Delivery never blocks the writer: each Port has a bounded queue, and a
// frame that finds it full is dropped for that Port (counted in its Stats),
// as a busy Ethernet receiver drops frames. Writes are serialised, so all
// Ports see frames in the one order they were written. A Hub starts no
// goroutines.
type Hub struct {
	mu     sync.Mutex
	ports  []*Port
	closed bool
}

// NewHub returns an empty Hub.
func NewHub() *Hub { return &Hub{} }

// PortConfig configures a Port; the zero value is a Port that receives
// frames of every ethertype addressed to it, with DefaultQueueLen.
type PortConfig struct {
	// EtherType limits the Port to frames of one ethertype; 0 or AllEtherTypes accepts all.
	EtherType uint16
	// Promiscuous also receives unicast frames addressed to other MACs.
	Promiscuous bool
	// QueueLen is the number of frames buffered for the reader before new ones are dropped.
	QueueLen int
}

// Attach adds a station with the given MAC to the hub. A nil cfg is the zero PortConfig.
func (h *Hub) Attach(mac net.HardwareAddr, cfg *PortConfig) (*Port, error) {
	addr := &Addr{HardwareAddr: slices.Clone(mac)}
	if len(mac) != 6 {
		return nil, opError("listen", memNet, addr, errors.New("hardware address must be 6 bytes"))
	}
	var c PortConfig
	if cfg != nil {
		c = *cfg
	}
	if c.EtherType == AllEtherTypes {
		c.EtherType = 0
	}
	if c.QueueLen < 0 {
		return nil, opError("listen", memNet, addr, errors.New("negative queue length"))
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	p := &Port{
		hub:   h,
		addr:  addr,
		cfg:   c,
		queue: make(chan []byte, c.QueueLen),
		done:  make(chan struct{}),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, opError("listen", memNet, addr, net.ErrClosed)
	}
	h.ports = append(h.ports, p)
	return p, nil
}

// Close closes every Port of the hub; Attach then fails.
func (h *Hub) Close() error {
	h.mu.Lock()
	ports := h.ports
	h.ports = nil
	h.closed = true
	h.mu.Unlock()
	for _, p := range ports {
		p.shut()
	}
	return nil
}

// Pipe returns the two ends of an in-memory point-to-point cable: every
// frame written to one end is read from the other, whatever its destination.
// It suits a host and the modem in front of it.
func Pipe(a, b net.HardwareAddr) (*Port, *Port, error) {
	h := NewHub()
	pa, err := h.Attach(a, &PortConfig{Promiscuous: true})
	if err != nil {
		return nil, nil, err
	}
	pb, err := h.Attach(b, &PortConfig{Promiscuous: true})
	if err != nil {
		pa.Close()
		return nil, nil, err
	}
	return pa, pb, nil
}

// Port is one station on a Hub; it implements Conn.
type Port struct {
	hub   *Hub
	addr  *Addr
	cfg   PortConfig
	queue chan []byte
	done  chan struct{}
	once  sync.Once

	received atomic.Uint64
	dropped  atomic.Uint64
}

var _ Conn = (*Port)(nil)

// PortStats counts the frames a Port was offered.
type PortStats struct {
	Received uint64 // queued for the reader
	Dropped  uint64 // lost because the queue was full
}

// Stats returns the Port's counters.
func (p *Port) Stats() PortStats {
	return PortStats{Received: p.received.Load(), Dropped: p.dropped.Load()}
}

// HardwareAddr returns the Port's MAC address.
func (p *Port) HardwareAddr() net.HardwareAddr { return p.addr.HardwareAddr }

// ReadFrame returns the next queued frame, waiting until one arrives, ctx
// ends or the Port is closed.
func (p *Port) ReadFrame(ctx context.Context, b []byte) (int, error) {
	// Checked first so a closed Port or an ended ctx wins over queued frames.
	select {
	case <-p.done:
		return 0, opError("read", memNet, p.addr, net.ErrClosed)
	default:
	}
	if err := ctx.Err(); err != nil {
		return 0, opError("read", memNet, p.addr, err)
	}
	select {
	case f := <-p.queue:
		return copy(b, f), nil
	case <-p.done:
		return 0, opError("read", memNet, p.addr, net.ErrClosed)
	case <-ctx.Done():
		return 0, opError("read", memNet, p.addr, ctx.Err())
	}
}

// WriteFrame delivers a copy of frame to the other Ports it is addressed to; it never blocks.
func (p *Port) WriteFrame(ctx context.Context, frame []byte) error {
	select {
	case <-p.done:
		return opError("write", memNet, p.addr, net.ErrClosed)
	default:
	}
	if err := ctx.Err(); err != nil {
		return opError("write", memNet, p.addr, err)
	}
	if err := checkFrame(frame); err != nil {
		return opError("write", memNet, p.addr, err)
	}
	group := frame[0]&1 == 1
	et := etherType(frame)
	h := p.hub
	h.mu.Lock() // not RLock: one write at a time gives every Port the same order
	defer h.mu.Unlock()
	for _, q := range h.ports {
		if q == p || (q.cfg.EtherType != 0 && q.cfg.EtherType != et) {
			continue
		}
		if !group && !q.cfg.Promiscuous && !slices.Equal(frame[:6], q.addr.HardwareAddr) {
			continue
		}
		select {
		case q.queue <- slices.Clone(frame):
			q.received.Add(1)
		default:
			q.dropped.Add(1)
		}
	}
	return nil
}

// Close detaches the Port from its hub; queued frames are discarded.
func (p *Port) Close() error {
	h := p.hub
	h.mu.Lock()
	if i := slices.Index(h.ports, p); i >= 0 {
		h.ports = slices.Delete(h.ports, i, i+1)
	}
	h.mu.Unlock()
	if !p.shut() {
		return opError("close", memNet, p.addr, net.ErrClosed)
	}
	return nil
}

// shut marks the Port closed; it reports whether this call did it.
func (p *Port) shut() bool {
	first := false
	p.once.Do(func() {
		close(p.done)
		first = true
	})
	return first
}
