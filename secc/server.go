package secc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/ccslink/ccslink/internal/ratelog"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/v2g/message"
	"github.com/ccslink/ccslink/v2gtp"
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
// Owner says is not the car's is closed at once, emits nothing and returns
// EndError with why.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) (record.End, string) {
	from := addrPort(c.RemoteAddr()).Addr()
	if why := s.admit(ctx, from.WithZone("")); why != "" {
		s.refused.log(s.cfg.Log, from, why)
		c.Close()
		return record.EndError, "refused: " + why
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
	end, detail := s.run(ctx, c, emit)
	s.mu.Lock()
	if s.curID == id && s.dropped {
		end, detail = record.EndLinkLost, "the car left during its V2G session"
	}
	s.mu.Unlock()
	emit(record.Event{Kind: record.KindEnded, At: time.Now(), End: end, Detail: detail})
	return end, detail
}

func (s *Server) run(ctx context.Context, c net.Conn, emit func(record.Event)) (record.End, string) {
	log := s.cfg.Log.With("car", c.RemoteAddr().String())
	emit(record.Event{Kind: record.KindConnected, At: time.Now()})
	sess := NewSession(s.cfg, time.Now(), emit)
	s.mu.Lock()
	sess.ids = &s.ids
	s.mu.Unlock()
	r := v2gtp.NewReader(c)
	out := make([]byte, 0, 1024)
	tap := s.cfg.Tap
	var tapBuf []byte
	car, charger := addrPort(c.RemoteAddr()), addrPort(c.LocalAddr())
	var last Step
	for {
		deadline := sess.Deadline()
		if sess.Done() {
			deadline = time.Now().Add(CloseWait)
		}
		c.SetReadDeadline(deadline)
		h, payload, err := r.Next()
		if err != nil {
			return s.readEnd(ctx, sess, last, err, log, c.RemoteAddr())
		}
		start := time.Now()
		if tap != nil {
			tapBuf = append(v2gtp.AppendHeader(tapBuf[:0], h), payload...)
			tap(start, true, car, charger, tapBuf)
		}
		var step Step
		out, step, err = sess.Handle(start, h, payload, out[:0])
		if len(out) > 0 {
			c.SetWriteDeadline(start.Add(2 * time.Second))
			if _, werr := c.Write(out); werr != nil {
				return record.EndCarClosed, fmt.Sprintf("writing the answer to %s: %v", step.Request, werr)
			}
		}
		took := time.Since(start)
		if tap != nil && len(out) > 0 {
			tap(start.Add(took), false, car, charger, out)
		}
		if step.Request != message.None && len(out) > 0 {
			last = step
			emit(record.Event{Kind: record.KindRequest, At: start, Message: step.Request, Code: step.Code, Took: took})
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
				// Nothing to answer with: the stream can't go on.
				return record.EndError, err.Error()
			}
		}
	}
}

// readEnd says how a connection ended when reading the car's next message failed.
func (s *Server) readEnd(ctx context.Context, sess *Session, last Step, err error, log *slog.Logger, peer net.Addr) (record.End, string) {
	switch {
	case ctx.Err() != nil:
		return record.EndStopped, "the charger stopped"
	case sess.Done() && last.Request == message.SessionStopReq:
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return record.EndSessionStop, fmt.Sprintf("the car kept the connection open %v after SessionStop", CloseWait)
		}
		return record.EndSessionStop, ""
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		if sess.Done() {
			return record.EndCarClosed, fmt.Sprintf("after %s answered %s", last.Request, last.Code)
		}
		return record.EndCarClosed, ""
	case errors.Is(err, os.ErrDeadlineExceeded):
		if sess.Done() {
			return record.EndCarClosed, fmt.Sprintf("the car kept the connection open %v after %s answered %s", CloseWait, last.Request, last.Code)
		}
		return record.EndTimeout, fmt.Sprintf("no request within %v after %s", s.cfg.SequenceTimeout, afterRequest(last.Request))
	case errors.Is(err, v2gtp.ErrVersion), errors.Is(err, v2gtp.ErrTooLong):
		s.logPeer(log, slog.LevelWarn, peer, "bad V2GTP message; closing the connection", "err", err)
		return record.EndError, fmt.Sprintf("bad V2GTP message: %v", err)
	}
	return record.EndCarClosed, err.Error()
}

// addrPort is a TCP address as a netip.AddrPort (zero for other kinds of net.Addr).
func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// afterRequest names what came last on a connection: its last request, or its opening.
func afterRequest(k message.Kind) string {
	if k == message.None {
		return "the connection opened"
	}
	return k.String()
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
