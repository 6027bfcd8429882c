//go:build !linux

package link

import (
	"context"
	"errors"
	"net"
	"runtime"
)

// rawNet is the network name in the errors of raw sockets.
const rawNet = "packet"

// errUnimplemented is what Listen returns here.
var errUnimplemented = errors.New("raw Ethernet sockets are not implemented on " + runtime.GOOS)

// Config configures Listen; nil is the zero value.
type Config struct {
	// Promiscuous puts the interface in promiscuous mode for this socket.
	Promiscuous bool
	// Outgoing also delivers frames other sockets of this host send.
	Outgoing bool
}

// RawConn is a raw Ethernet socket; on this system Listen cannot open one.
type RawConn struct{}

var _ Conn = (*RawConn)(nil)

// Listen returns a "not implemented" error: raw sockets are Linux only.
func Listen(ifname string, etherType uint16, cfg *Config) (*RawConn, error) {
	return nil, opError("listen", rawNet, nil, errUnimplemented)
}

// HardwareAddr returns nil.
func (c *RawConn) HardwareAddr() net.HardwareAddr { return nil }

// ReadFrame returns a "not implemented" error.
func (c *RawConn) ReadFrame(ctx context.Context, b []byte) (int, error) {
	return 0, opError("read", rawNet, nil, errUnimplemented)
}

// WriteFrame returns a "not implemented" error.
func (c *RawConn) WriteFrame(ctx context.Context, frame []byte) error {
	return opError("write", rawNet, nil, errUnimplemented)
}

// Close returns a "not implemented" error.
func (c *RawConn) Close() error { return opError("close", rawNet, nil, errUnimplemented) }
