package secc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ccslink/ccslink/internal/ratelog"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// CloseWait is how long the charger waits, after SessionStop or a FAILED
// answer, for the car to close the connection: VW cars ignore PWM changes
// until replugged when the charger closes first.
const CloseWait = 5 * time.Second

// Server accepts the car's TCP connections and runs a Session on each. A
// car that opens a second connection is served on the new one and the
// old one is closed: the car has given up on it. With an Owner, only the
// car's connections are served and replace one another; anyone else's is
// closed at once, emits nothing and leaves the car's session alone.
type Server struct {
	cfg     Config
	emit    func(record.Event)
	peerLog *ratelog.Limiter // bounds the warnings about each peer
	refused refusals

	mu      sync.Mutex
	open    int        // connections accepted and not yet closed
	ids     sessionIDs // the plug-in's SessionID, kept across reconnects
	cur     net.Conn
	curID   uint64
	curDone chan struct{} // closed when the current connection's session has ended
	dropped bool          // Drop closed the current connection
	wg      sync.WaitGroup

	// For tests: clock, if set, is the sessions' clock (answers with a
	// timestamp get known bytes); handshakeCtx, if set, bounds a TLS
	// handshake instead of HandshakeTimeout; started, if set, sees each
	// connection's Conn as its session starts.
	clock        func() time.Time
	handshakeCtx func(context.Context) (context.Context, context.CancelFunc)
	started      func(*Conn)
}

// NewServer returns a server for cfg; emit receives every event of every
// connection, from the connection's goroutine (nil: nobody listens).
func NewServer(cfg Config, emit func(record.Event)) *Server {
	if emit == nil {
		emit = func(record.Event) {}
	}
	return &Server{cfg: cfg.withDefaults(), emit: emit, peerLog: newPeerLog(), refused: refusals{lines: ratelog.New(refusalLogEvery, 1, nil)}}
}

// Reset forgets the SessionID of the last plug-in; call it before the next car.
func (s *Server) Reset() {
	s.mu.Lock()
	s.ids = sessionIDs{}
	s.mu.Unlock()
}

// Drop closes the car's connection, if one is open, and waits until its
// session has ended (its KindEnded event emitted): the car is gone, and
// nothing of it may reach the next plug-in.
func (s *Server) Drop() {
	s.mu.Lock()
	c, done := s.cur, s.curDone
	s.dropped = c != nil
	s.mu.Unlock()
	if c != nil {
		c.Close()
		<-done
	}
}

// Serve accepts connections on ln until ctx ends or ln fails; it closes ln
// and every connection before it returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer s.wg.Wait()
	defer ln.Close()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return &ListenError{Op: "accept", Err: err}
		}
		s.mu.Lock()
		full := s.open >= s.cfg.MaxConns
		if !full {
			s.open++
		}
		s.mu.Unlock()
		if full {
			s.refused.log(s.cfg.Log, addrPort(c.RemoteAddr()).Addr(), "too many connections open at once")
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.ServeConn(ctx, c)
			s.mu.Lock()
			s.open--
			s.mu.Unlock()
		}()
	}
}

// ListenError reports a failure of the TCP listener.
type ListenError struct {
	Op   string
	Addr string
	Err  error
}

func (e *ListenError) Error() string {
	if e.Addr != "" {
		return fmt.Sprintf("V2G server: %s %s: %v", e.Op, e.Addr, e.Err)
	}
	return fmt.Sprintf("V2G server: %s: %v", e.Op, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// ServeConn runs one session on c until the car closes it, it times out,
// ctx ends or a newer connection replaces it; it closes c and returns how
// the session ended (also emitted as a KindEnded event). A connection the
// Owner says is not the car's is closed at once, unread, emits nothing and
// returns EndError with why; so is a TLS connection (a *tls.Conn, as
// tls.NewListener's Accept returns) whose handshake fails or does not end
// within HandshakeTimeout.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) (record.End, string) {
	info := ConnInfo{Peer: addrPort(c.RemoteAddr()), Local: addrPort(c.LocalAddr())}
	from := info.Peer.Addr()
	if why := s.admit(ctx, from.WithZone("")); why != "" {
		s.refused.log(s.cfg.Log, from, why)
		c.Close()
		return record.EndError, "refused: " + why
	}
	if tc, ok := c.(*tls.Conn); ok {
		// Before the connection replaces the car's current one: a
		// handshake that fails must not cost the car its session.
		st, err := s.handshake(ctx, tc, info.Peer)
		if err != nil && ctx.Err() != nil {
			c.Close()
			return record.EndStopped, "the charger stopped"
		}
		if err != nil {
			s.logPeer(s.cfg.Log, slog.LevelWarn, c.RemoteAddr(), "closed a V2G connection whose TLS handshake failed", "err", err)
			c.Close()
			return record.EndError, err.Error()
		}
		info.TLS = &st
	}
	s.mu.Lock()
	if s.cur != nil {
		s.cfg.Log.Info("the car opened a new connection; closing its old one", "old", s.cur.RemoteAddr(), "new", c.RemoteAddr())
		s.cur.Close()
	}
	s.curID++
	id := s.curID
	done := make(chan struct{})
	s.cur, s.curDone, s.dropped = c, done, false
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.curID == id {
			s.cur, s.curDone = nil, nil
		}
		s.mu.Unlock()
		c.Close()
		close(done)
	}()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()

	// The connection's number tells the record which connection an event came from.
	emit := func(e record.Event) {
		e.Conn = id
		s.emit(e)
	}
	x := NewConn(s.cfg, s.now(), info, emit)
	s.mu.Lock()
	x.sess.ids = &s.ids
	s.mu.Unlock()
	if s.started != nil {
		s.started(x)
	}
	cause := s.run(ctx, c, x)
	s.mu.Lock()
	if s.curID == id && s.dropped {
		cause = &Hangup{End: record.EndLinkLost, Detail: "the car left during its V2G session"}
	}
	s.mu.Unlock()
	return x.End(s.now(), cause)
}

// HandshakeTimeout bounds a TLS handshake: a client that connects and
// never completes one is closed then. Meanwhile it holds one of MaxConns'
// places, never the accept loop or the car's current connection.
const HandshakeTimeout = 5 * time.Second

// HandshakeError reports a TLS handshake that failed or did not end in time.
type HandshakeError struct {
	Peer netip.AddrPort
	Err  error
}

func (e *HandshakeError) Error() string {
	var plain tls.RecordHeaderError
	switch {
	case errors.Is(e.Err, context.DeadlineExceeded):
		return fmt.Sprintf("TLS handshake with %v: not completed within %v (the client connected and said nothing, or too little)", e.Peer, HandshakeTimeout)
	case errors.As(e.Err, &plain):
		return fmt.Sprintf("TLS handshake with %v failed: the client does not speak TLS (%v); a car that asks SDP for no TLS is told the plain TCP port", e.Peer, e.Err)
	}
	return fmt.Sprintf("TLS handshake with %v failed: %v", e.Peer, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// handshake runs c's TLS handshake, bounded by HandshakeTimeout (or the
// test's handshakeCtx), on the connection's own goroutine.
func (s *Server) handshake(ctx context.Context, c *tls.Conn, peer netip.AddrPort) (tls.ConnectionState, error) {
	var cancel context.CancelFunc
	if s.handshakeCtx != nil {
		ctx, cancel = s.handshakeCtx(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, HandshakeTimeout)
	}
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx) // DeadlineExceeded when the time ran out
		}
		return tls.ConnectionState{}, &HandshakeError{Peer: peer, Err: err}
	}
	return c.ConnectionState(), nil
}

// now is the sessions' clock.
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// run serves x on c until reading or writing fails; it returns why, for x.End.
func (s *Server) run(ctx context.Context, c net.Conn, x *Conn) error {
	log := s.cfg.Log.With("car", c.RemoteAddr().String())
	r := v2gtp.NewReader(c)
	out := make([]byte, 0, 1024)
	tap := s.cfg.Tap
	var tapBuf []byte
	info := x.Session().ConnInfo()
	for {
		deadline := x.Deadline()
		if s.clock != nil {
			// The sessions' clock is not the sockets': keep the wait.
			deadline = time.Now().Add(deadline.Sub(s.clock()))
		}
		c.SetReadDeadline(deadline)
		h, payload, err := r.Next()
		if err != nil {
			if ctx.Err() != nil {
				return &Hangup{End: record.EndStopped, Detail: "the charger stopped"}
			}
			if errors.Is(err, v2gtp.ErrVersion) || errors.Is(err, v2gtp.ErrTooLong) {
				s.logPeer(log, slog.LevelWarn, c.RemoteAddr(), "bad V2GTP message; closing the connection", "err", err)
			}
			return err
		}
		start := time.Now()
		if tap != nil {
			tapBuf = append(v2gtp.AppendHeader(tapBuf[:0], h), payload...)
			tap(start, true, info.Peer, info.Local, tapBuf)
		}
		var step Step
		out, step, err = x.Handle(s.now(), h, payload, out[:0])
		if len(out) > 0 {
			c.SetWriteDeadline(start.Add(2 * time.Second))
			if _, werr := c.Write(out); werr != nil {
				return &WriteError{Request: step.Request, Err: werr}
			}
		}
		took := time.Since(start)
		if tap != nil && len(out) > 0 {
			tap(start.Add(took), false, info.Peer, info.Local, out)
		}
		x.Sent(took)
		if step.Request != message.None && len(out) > 0 {
			log.Debug("answered", "request", step.Request, "code", step.Code, "took", took)
		}
		if err != nil {
			var re *RequestError
			if errors.As(err, &re) && re.Hex != "" {
				s.logPeer(log, slog.LevelWarn, c.RemoteAddr(), "the car's request failed", "err", err)
			} else {
				s.logPeer(log, slog.LevelInfo, c.RemoteAddr(), "the car's request failed", "err", err)
			}
			if len(out) == 0 {
				return err
			}
		}
	}
}

// addrPort is a TCP address as a netip.AddrPort (zero for other kinds of net.Addr).
func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// Listen opens the V2G TCP port on addr (an IPv6 link-local address with
// its zone, e.g. "[fe80::1%eth1]:15118", or a port 0 for any free one).
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Op: "listen", Addr: addr, Err: err}
	}
	return ln, nil
}
