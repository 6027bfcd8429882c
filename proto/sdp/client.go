package sdp

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/ccslink/ccslink/proto/v2gtp"
)

// The car's defaults: a request every 250 ms, 50 of them (ISO 15118-2's
// SDP retry count), so a charger has 12.5 s to answer.
const (
	DefaultInterval = 250 * time.Millisecond
	DefaultMaxTries = 50
)

// ClientConfig configures [Discover]; the zero value asks for no TLS, on
// the default schedule.
type ClientConfig struct {
	TLS       bool          // ask for TLS; the charger may still answer without
	Interface string        // the PLC interface: zone of the answer's address and of the default destination
	Interval  time.Duration // between requests; zero means DefaultInterval
	MaxTries  int           // requests before giving up; zero means DefaultMaxTries
	// After waits between requests; nil means time.After. Tests pass a
	// function returning a channel they control.
	After func(time.Duration) <-chan time.Time
	Log   *slog.Logger // nil discards
}

// Response is a charger's answer: where its SECC listens.
type Response struct {
	Addr      netip.AddrPort // the SECC's TCP address; a link-local one carries the interface as zone
	Security  byte           // v2gtp.SecurityNone or v2gtp.SecurityTLS
	Transport byte           // v2gtp.TransportTCP or v2gtp.TransportUDP
	From      netip.AddrPort // the source of the answer
}

// Discover sends SDP requests on conn to dst, or to ff02::1 port 15118 on
// cfg.Interface when dst is nil, until a charger answers, and returns the
// first valid answer. It ignores malformed datagrams. After cfg.MaxTries
// requests and one more interval without an answer it fails with
// ErrNoAnswer; it stops when ctx ends, with ctx's error. Discover does not
// close conn; it uses conn's read deadline to stop its reader.
func Discover(ctx context.Context, conn net.PacketConn, dst net.Addr, cfg ClientConfig) (Response, error) {
	if dst == nil {
		if cfg.Interface == "" {
			return Response{}, fmt.Errorf("%w: no destination: pass dst or set ClientConfig.Interface", ErrConfig)
		}
		dst = &net.UDPAddr{IP: net.IPv6linklocalallnodes, Port: Port, Zone: cfg.Interface}
	}
	interval, tries, after, log := cfg.Interval, cfg.MaxTries, cfg.After, cfg.Log
	if interval <= 0 {
		interval = DefaultInterval
	}
	if tries <= 0 {
		tries = DefaultMaxTries
	}
	if after == nil {
		after = time.After
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	req := v2gtp.SDPRequest{Security: v2gtp.SecurityNone, Transport: v2gtp.TransportTCP}
	if cfg.TLS {
		req.Security = v2gtp.SecurityTLS
	}
	msg := v2gtp.AppendMessage(nil, v2gtp.TypeSDPRequest, req.Append(nil))

	if err := ctx.Err(); err != nil {
		return Response{}, fmt.Errorf("sdp: discovery not started: %w", err)
	}
	answers := make(chan Response, 1)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		readAnswers(conn, cfg.Interface, log, answers, readErr, stop)
	}()
	defer func() {
		close(stop)
		conn.SetReadDeadline(time.Unix(1, 0))
		<-done
		conn.SetReadDeadline(time.Time{})
	}()

	sent := 0
	var sendErr error
	for i := 0; i < tries; i++ {
		if _, err := conn.WriteTo(msg, dst); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return Response{}, fmt.Errorf("%w: sending: %w", ErrIO, err)
			}
			sendErr = err
			log.Debug("SDP: request not sent", "to", dst, "err", err)
		} else {
			sent++
		}
		select {
		case r := <-answers:
			log.Debug("SDP: charger found", "addr", r.Addr, "security", r.Security, "requests", i+1)
			return r, nil
		case err := <-readErr:
			return Response{}, err
		case <-ctx.Done():
			return Response{}, fmt.Errorf("sdp: discovery stopped at request %d of %d: %w", i+1, tries, ctx.Err())
		case <-after(interval):
		}
	}
	if sent == 0 && sendErr != nil {
		return Response{}, fmt.Errorf("%w: none of the %d requests could be sent to %v: %w", ErrNoAnswer, tries, dst, sendErr)
	}
	return Response{}, fmt.Errorf("%w SDP after %d requests to %v (is SLAC matched and the charger's SDP server running?)", ErrNoAnswer, tries, dst)
}

// readAnswers reads until the first valid answer, which it sends on
// answers, or until the read fails, which it reports on errs unless stop
// is closed: then Discover has returned and set the deadline to end it.
func readAnswers(conn net.PacketConn, zone string, log *slog.Logger, answers chan<- Response, errs chan<- error, stop <-chan struct{}) {
	var buf [64]byte
	for {
		n, addr, err := conn.ReadFrom(buf[:])
		if err != nil {
			select {
			case <-stop:
			default:
				errs <- fmt.Errorf("%w: reading: %w", ErrIO, err)
			}
			return
		}
		from := addrPort(addr)
		s, why := parseResponse(buf[:n])
		if why != "" {
			log.Debug("SDP: ignored a datagram", "from", from, "reason", why, "len", n, "start", hex.EncodeToString(buf[:min(n, 12)]))
			continue
		}
		ip := s.IP
		if ip.IsLinkLocalUnicast() {
			ip = ip.WithZone(cmp.Or(zone, from.Addr().Zone()))
		}
		if zone != "" && from.Addr().IsLinkLocalUnicast() {
			// The socket's zone comes from a per-process cache of interface
			// names, wrong inside another network namespace.
			from = netip.AddrPortFrom(from.Addr().WithZone(zone), from.Port())
		}
		answers <- Response{Addr: netip.AddrPortFrom(ip, s.Port), Security: s.Security, Transport: s.Transport, From: from}
		return
	}
}
