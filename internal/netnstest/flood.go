package netnstest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
)

// UDP6Frame returns an Ethernet frame carrying payload in UDP over IPv6
// from src to dst, checksum included: what a host with any address would
// send, for floods from many sources through a Flood.
func UDP6Frame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, payload []byte) []byte {
	udpLen := 8 + len(payload)
	b := append(append(append([]byte(nil), dstMAC...), srcMAC...), 0x86, 0xdd)
	b = append(b, 0x60, 0, 0, 0, byte(udpLen>>8), byte(udpLen), 17, 255)
	b = append(b, src.Addr().AsSlice()...)
	b = append(b, dst.Addr().AsSlice()...)
	udp := binary.BigEndian.AppendUint16(nil, src.Port())
	udp = binary.BigEndian.AppendUint16(udp, dst.Port())
	udp = binary.BigEndian.AppendUint16(udp, uint16(udpLen))
	udp = append(udp, 0, 0)
	udp = append(udp, payload...)
	var sum uint32 // over the pseudo-header, the UDP header and the payload
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
		if len(p)%2 == 1 {
			sum += uint32(p[len(p)-1]) << 8
		}
	}
	add(src.Addr().AsSlice())
	add(dst.Addr().AsSlice())
	add([]byte{0, 0, byte(udpLen >> 8), byte(udpLen), 0, 0, 0, 17})
	add(udp)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(udp[6:], ^uint16(sum))
	return append(b, udp...)
}

// Flood is raw Ethernet frames sent round after round from a namespace's
// interface, at a steady rate, until Stop.
type Flood struct {
	// Sent counts the frames sent so far.
	Sent atomic.Int64

	stop, done chan struct{}
}

// StartFlood sends frames, one after another and round after round, about
// rate a second (at least 100) on n's interface through a raw socket,
// until Stop or the end of the test.
func StartFlood(t testing.TB, n *Namespace, frames [][]byte, rate int) *Flood {
	t.Helper()
	f := &Flood{stop: make(chan struct{}), done: make(chan struct{})}
	startFlood(t, n, f, frames, max(rate/100, 1))
	t.Cleanup(func() { f.Stop() })
	return f
}

// Stop ends the flood and returns how many frames it sent.
func (f *Flood) Stop() int64 {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
	return f.Sent.Load()
}
