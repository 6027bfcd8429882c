package sdp

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccslink/ccslink/internal/ratelog"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// Answer rate limit per source address: a car repeats every 250 ms, so a
// burst of 5 and one answer per 100 ms never delay a real one, while a
// flooding source gets at most 10 answers a second.
const (
	answerBurst = 5
	answerEvery = 100 * time.Millisecond
	maxSources  = 256 // sources the limiter remembers
)

// A server that knows its car (ServerConfig.Asked) answers everyone else
// together at most 10 at once, then 50 a second: each answer to a new
// address costs the kernel a neighbour entry, and a flood from thousands
// of sources would fill its table (1024 entries), so that the answer to
// the car itself could not be sent.
const (
	othersBurst = 10
	othersEvery = 20 * time.Millisecond
)

// queueLen bounds the answers waiting to be sent; beyond it requests are
// dropped rather than delaying the read loop. The car's requests (see
// ServerConfig.Asked) wait in a queue of their own, answered first, so a
// flood from many sources fills only the strangers' queue.
const (
	queueLen    = 16
	carQueueLen = 4
)

// ServerConfig configures an SDP server; Addr and Port are required.
type ServerConfig struct {
	Addr netip.Addr // the address to announce, the PLC interface's link-local one; a zone is dropped
	Port uint16     // the TCP port the SECC listens on
	// TLSPort, if not 0, offers TLS: a car that asks for TLS is answered
	// with this port (the SECC's TLS listener) and Security TLS; a car that
	// asks for none still gets Port. 0 offers no TLS: every car gets Port.
	TLSPort uint16
	Log     *slog.Logger // nil discards
	// OnRequest, if set, is called for each request about to be answered,
	// just before its answer is sent: evidence that a car is on the link,
	// told before anything the car does once it has the answer (it may
	// connect at once). It runs on the goroutine that sends answers, so it
	// should return quickly.
	OnRequest func(from netip.AddrPort, req v2gtp.SDPRequest)
	// Asked, if set, is told of each valid request within its source's
	// rate limit as it is read, before it is answered (the source's zone
	// dropped); it returns whether the request is the car's, to be answered
	// ahead of everyone else's. It runs on the reading goroutine, so it
	// must return quickly.
	Asked func(from netip.Addr) (car bool)
	// Now is the clock of the rate limit; nil means time.Now.
	Now func() time.Time
}

// Stats counts what a Server did with the datagrams it read.
type Stats struct {
	Answered    uint64 // requests answered
	TLSDeclined uint64 // answered requests that asked for TLS and were answered without
	Malformed   uint64 // datagrams that are not a valid SDP request, ignored
	Limited     uint64 // requests over their source's rate limit, or the strangers' shared one, ignored
	Dropped     uint64 // requests ignored because too many answers were waiting
	SendErrors  uint64 // answers the socket refused to send
}

// Server answers SDP requests with one charger's address. Its counters are
// safe to read while it serves.
type Server struct {
	cfg    ServerConfig
	log    *slog.Logger
	lines  *ratelog.Limiter // bounds the lines a source's requests cause
	answer []byte           // the whole response datagram, the same for every car
	tls    []byte           // the answer to a car asking for TLS when it is offered, else nil

	answered, tlsDeclined, malformed, limited, dropped, sendErrors atomic.Uint64
}

// NewServer checks cfg and returns a server for it.
func NewServer(cfg ServerConfig) (*Server, error) {
	if !cfg.Addr.Is6() || cfg.Addr.Is4In6() || cfg.Addr.IsUnspecified() || cfg.Addr.IsMulticast() {
		return nil, fmt.Errorf("%w: ServerConfig.Addr %v is not a unicast IPv6 address (use LinkLocal of the PLC interface)", ErrConfig, cfg.Addr)
	}
	if cfg.Port == 0 {
		return nil, fmt.Errorf("%w: ServerConfig.Port is 0; give the SECC's TCP port", ErrConfig)
	}
	if cfg.TLSPort != 0 && cfg.TLSPort == cfg.Port {
		return nil, fmt.Errorf("%w: ServerConfig.TLSPort is Port (%d); TLS needs a listener of its own, on another port", ErrConfig, cfg.Port)
	}
	s := &Server{cfg: cfg, log: cfg.Log, lines: ratelog.New(logEvery, 0, nil)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	res := v2gtp.SDPResponse{IP: cfg.Addr, Port: cfg.Port, Security: v2gtp.SecurityNone, Transport: v2gtp.TransportTCP}
	s.answer = v2gtp.AppendMessage(nil, v2gtp.TypeSDPResponse, res.Append(nil))
	if cfg.TLSPort != 0 {
		res.Port, res.Security = cfg.TLSPort, v2gtp.SecurityTLS
		s.tls = v2gtp.AppendMessage(nil, v2gtp.TypeSDPResponse, res.Append(nil))
	}
	return s, nil
}

// Serve runs a server for cfg on conn; see [Server.Serve].
func Serve(ctx context.Context, conn net.PacketConn, cfg ServerConfig) error {
	s, err := NewServer(cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx, conn)
}

// Stats returns the server's counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		Answered:    s.answered.Load(),
		TLSDeclined: s.tlsDeclined.Load(),
		Malformed:   s.malformed.Load(),
		Limited:     s.limited.Load(),
		Dropped:     s.dropped.Load(),
		SendErrors:  s.sendErrors.Load(),
	}
}

// job is one answer to send.
type job struct {
	to   netip.AddrPort
	addr net.Addr // as read, for a conn without the AddrPort methods
	req  v2gtp.SDPRequest
}

// udpConn is what *net.UDPConn offers beyond net.PacketConn: reads and
// writes without allocating an address per datagram.
type udpConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// Serve answers the requests arriving on conn until ctx ends, then returns
// nil; it returns early, with ErrIO, if reading fails. Every valid request
// gets the no-TLS answer, unless it asks for TLS and ServerConfig.TLSPort
// offers it, sent unicast to its source, at most 5 at once and then one per 100 ms to each source address
// (a car asks every 250 ms); anything else is ignored and counted. Serve
// does not close conn; it uses conn's read deadline to stop.
//
// One goroutine reads and one sends: per datagram the reader does a fixed,
// small amount of work and never waits for the sender, so a flood delays
// no one but itself.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	if err := ctx.Err(); err != nil {
		return nil
	}
	jobs, carJobs := make(chan job, queueLen), make(chan job, carQueueLen)
	var wg sync.WaitGroup
	wg.Go(func() { s.send(conn, carJobs, jobs) })
	defer wg.Wait()
	defer close(jobs)
	defer close(carJobs)

	quit := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			conn.SetReadDeadline(time.Unix(1, 0)) // unblocks the read
		case <-quit:
		}
	}()
	defer func() {
		close(quit)
		<-stopped
		conn.SetReadDeadline(time.Time{})
	}()

	uc, _ := conn.(udpConn)
	lim := limiter{seen: make(map[netip.Addr]time.Time)}
	var others time.Time // the strangers' theoretical arrival time (GCRA)
	debug := s.log.Enabled(ctx, slog.LevelDebug)
	var buf [64]byte // longer datagrams are malformed; a truncated one still is
	for {
		var (
			n    int
			from netip.AddrPort
			addr net.Addr
			err  error
		)
		if uc != nil {
			n, from, err = uc.ReadFromUDPAddrPort(buf[:])
		} else if n, addr, err = conn.ReadFrom(buf[:]); err == nil {
			from = addrPort(addr)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("%w: reading: %w (someone else set the socket's read deadline)", ErrIO, err)
			}
			return fmt.Errorf("%w: reading: %w", ErrIO, err)
		}
		req, why := parseRequest(buf[:n])
		if why != "" {
			s.malformed.Add(1)
			if debug {
				s.log.Debug("SDP: ignored a datagram", "from", from, "reason", why, "len", n, "start", hex.EncodeToString(buf[:min(n, 12)]))
			}
			continue
		}
		now := s.cfg.Now()
		if !lim.allow(from.Addr(), now) {
			s.limited.Add(1)
			if debug {
				s.log.Debug("SDP: request over the rate limit ignored", "from", from)
			}
			continue
		}
		q := jobs
		if s.cfg.Asked != nil {
			if s.cfg.Asked(from.Addr().WithZone("")) {
				q = carJobs
			} else {
				if others.Before(now) {
					others = now
				}
				if others.Sub(now) > (othersBurst-1)*othersEvery {
					s.limited.Add(1)
					if debug {
						s.log.Debug("SDP: request over the strangers' shared rate limit ignored", "from", from)
					}
					continue
				}
				others = others.Add(othersEvery)
			}
		}
		select {
		case q <- job{to: from, addr: addr, req: req}:
		default:
			s.dropped.Add(1)
			if debug {
				s.log.Debug("SDP: request dropped, answers backed up", "from", from)
			}
		}
	}
}

// send writes the answers queued, the car's first, until both queues are closed.
func (s *Server) send(conn net.PacketConn, car, jobs <-chan job) {
	uc, _ := conn.(udpConn)
	debug := s.log.Enabled(context.Background(), slog.LevelDebug) // boxing the arguments allocates
	for car != nil || jobs != nil {
		var (
			j     job
			ok    bool
			stray bool
		)
		select {
		case j, ok = <-car:
		default:
			select {
			case j, ok = <-car:
			case j, ok = <-jobs:
				stray = true
			}
		}
		switch {
		case !ok && stray:
			jobs = nil
		case !ok:
			car = nil
		default:
			s.answer1(conn, uc, debug, j)
		}
	}
}

// answer1 sends one answer. It is counted, and OnRequest told, before it
// is sent: once the car has it, the car's next step may come first.
func (s *Server) answer1(conn net.PacketConn, uc udpConn, debug bool, j job) {
	s.answered.Add(1)
	answer, withTLS, declined := s.answer, false, false
	if j.req.Security == v2gtp.SecurityTLS {
		if s.tls != nil {
			answer, withTLS = s.tls, true
		} else {
			declined = true
			s.tlsDeclined.Add(1)
		}
	}
	if s.cfg.OnRequest != nil {
		s.cfg.OnRequest(j.to, j.req)
	}
	var err error
	if j.addr == nil && uc != nil {
		_, err = uc.WriteToUDPAddrPort(answer, j.to)
	} else {
		addr := j.addr
		if addr == nil {
			addr = net.UDPAddrFromAddrPort(j.to)
		}
		_, err = conn.WriteTo(answer, addr)
	}
	if err != nil {
		// Not answered after all: counted as a send error instead.
		s.answered.Add(^uint64(0))
		if declined {
			s.tlsDeclined.Add(^uint64(0))
		}
		s.sendErrors.Add(1)
		s.logOnce(slog.LevelWarn, "SDP: cannot send the answer", j.to, "err", err)
		return
	}
	if declined {
		s.logOnce(slog.LevelInfo, "SDP: the car asked for TLS; answered without TLS, which is all this charger offers", j.to)
	} else if debug && withTLS {
		s.log.Debug("SDP: answered with TLS", "to", j.to, "addr", s.cfg.Addr, "port", s.cfg.TLSPort)
	} else if debug {
		s.log.Debug("SDP: answered", "to", j.to, "addr", s.cfg.Addr, "port", s.cfg.Port)
	}
	if j.req.Transport == v2gtp.TransportUDP {
		s.logOnce(slog.LevelInfo, "SDP: the car asked for UDP transport; answered with TCP", j.to)
	}
}

// logOnce logs msg about the source to at most once per logEvery per
// source: a flood of such requests cannot fill the log.
func (s *Server) logOnce(level slog.Level, msg string, to netip.AddrPort, args ...any) {
	ok, held := s.lines.Allow(to.Addr().String() + " " + msg)
	if !ok {
		return
	}
	args = append([]any{"to", to}, args...)
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	s.log.Log(context.Background(), level, msg, args...)
}

// logEvery spaces the lines about one source's requests.
const logEvery = 10 * time.Second

// addrPort converts a net.Addr from ReadFrom; anything but a UDP address
// gives the zero AddrPort, which is fine for the limiter and the logs.
func addrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// limiter allows answerBurst answers at once per source, then one per
// answerEvery (a GCRA: seen holds each source's theoretical arrival time).
// Its memory is bounded: beyond maxSources it forgets idle sources first.
type limiter struct {
	seen map[netip.Addr]time.Time
}

func (l *limiter) allow(src netip.Addr, now time.Time) bool {
	tat, ok := l.seen[src]
	if !ok && len(l.seen) >= maxSources {
		l.evict(now)
	}
	if tat.Before(now) {
		tat = now
	}
	if tat.Sub(now) > (answerBurst-1)*answerEvery {
		return false
	}
	l.seen[src] = tat.Add(answerEvery)
	return true
}

// evict forgets the sources whose allowance is full again, or one source
// when none is: a flood from many addresses must not lock a car out.
func (l *limiter) evict(now time.Time) {
	for a, tat := range l.seen {
		if !tat.After(now) {
			delete(l.seen, a)
		}
	}
	if len(l.seen) < maxSources {
		return
	}
	for a := range l.seen {
		delete(l.seen, a)
		return
	}
}
