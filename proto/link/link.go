package link

import (
	"context"
	"fmt"
	"net"
)

// Conn sends and receives Ethernet frames. ReadFrame and WriteFrame may be
// called from different goroutines; Close unblocks both.
type Conn interface {
	// ReadFrame waits for the next frame and copies it into b, returning its
	// length; a frame longer than b is truncated. Use a MaxFrameSize buffer.
	ReadFrame(ctx context.Context, b []byte) (int, error)
	// WriteFrame sends one frame, Ethernet header included.
	WriteFrame(ctx context.Context, frame []byte) error
	// HardwareAddr returns the Conn's own MAC address; do not modify it.
	HardwareAddr() net.HardwareAddr
	// Close releases the Conn; pending and later calls fail with net.ErrClosed.
	Close() error
}

// AllEtherTypes selects frames of every ethertype (Linux's ETH_P_ALL).
const AllEtherTypes uint16 = 0x0003

// MaxFrameSize is the largest frame on a 1500-byte-MTU Ethernet link, header included.
const MaxFrameSize = 1514

// minFrameSize is an Ethernet header: destination, source, ethertype.
const minFrameSize = 14

// Addr is the hardware address of a Conn, reported in its errors.
type Addr struct {
	HardwareAddr net.HardwareAddr
}

// Network returns "ethernet".
func (a *Addr) Network() string { return "ethernet" }

// String returns the MAC address.
func (a *Addr) String() string {
	if a == nil {
		return "<nil>"
	}
	return a.HardwareAddr.String()
}

// opError wraps err in a *net.OpError; nil stays nil.
func opError(op, network string, addr net.Addr, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: network, Addr: addr, Err: err}
}

// checkFrame rejects frames no Ethernet link can carry.
func checkFrame(frame []byte) error {
	if len(frame) < minFrameSize {
		return fmt.Errorf("frame of %d bytes is shorter than an Ethernet header", len(frame))
	}
	if len(frame) > MaxFrameSize {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(frame), MaxFrameSize)
	}
	return nil
}

// etherType returns the ethertype of a frame checked by checkFrame.
func etherType(frame []byte) uint16 { return uint16(frame[12])<<8 | uint16(frame[13]) }

// NotEthernetError is returned by Listen for an interface without a 6-byte
// hardware address (loopback, a tunnel): HomePlug frames need Ethernet.
type NotEthernetError struct{ Iface string }

func (e *NotEthernetError) Error() string { return e.Iface + " is not an Ethernet interface" }
