// Package link sends and receives the Ethernet frames of one ethertype on
// one link, with context cancellation.
//
// Conn is the small interface the protocol packages (slac, modemsim) use.
// Two implementations satisfy it:
//
//   - RawConn, from Listen: a raw AF_PACKET socket on a Linux interface
//     (github.com/mdlayher/packet). It needs only CAP_NET_RAW. On other
//     systems Listen returns a "not implemented" error, so callers build
//     everywhere.
//   - Port, from a Hub or Pipe: an in-memory Ethernet segment for tests and
//     simulations, with no goroutines of its own.
//
// Frames are whole Ethernet frames, from the destination address on, without
// the FCS. Neither implementation pads short frames; the homeplug encoder
// does. Every error is a *net.OpError naming the operation ("listen",
// "read", "write", "close"); a cancelled or expired context gives an error
// that wraps ctx.Err(), a closed Conn one that wraps net.ErrClosed.
package link
