// Package mdns resolves .local host names by multicast DNS (RFC 6762), the
// way a SmartEVSE announces itself (smartevse-1234.local). Go's own
// resolver does not, and a static binary has no system resolver to ask.
//
// A lookup is a one-shot query (RFC 6762 §5.1): the name's A and AAAA
// questions in one packet with the QU bit set, sent from an ephemeral port
// to 224.0.0.251:5353 and [ff02::fb]:5353 on every interface that is up
// and does multicast, and sent again while no answer came. Responders
// answer such a query by unicast to its source. The first valid answer for
// exactly that name wins; answers for other names, from off the link, or
// that do not parse are ignored. An answer is kept for its TTL, at most
// MaxCache.
package mdns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
)

const (
	// DefaultTimeout bounds a lookup when Resolver.Timeout is zero.
	DefaultTimeout = 2 * time.Second
	// MaxCache bounds how long an answer is kept, whatever its TTL: a
	// charger that got a new address is found again within a minute.
	MaxCache = time.Minute
	// maxPacket is the largest multicast DNS message (RFC 6762 §17);
	// what is longer is cut there and then fails to parse.
	maxPacket = 9000
	// firstResend is the wait before the query is sent again; each
	// later wait doubles.
	firstResend = 250 * time.Millisecond
)

// The groups and port of multicast DNS.
var (
	group4 = netip.AddrPortFrom(netip.AddrFrom4([4]byte{224, 0, 0, 251}), 5353)
	group6 = netip.AddrPortFrom(netip.MustParseAddr("ff02::fb"), 5353)
)

// NoAnswerError is a name no responder answered for in time.
type NoAnswerError struct {
	Name    string        // as asked, e.g. smartevse-1234.local
	Timeout time.Duration // how long the lookup waited
}

func (e *NoAnswerError) Error() string {
	return "no answer for " + e.Name + " by multicast DNS: check the name, or use the charger's IP address"
}

// ErrNoInterface means no interface could carry the query: none is up
// with multicast and an address, or every send failed.
var ErrNoInterface = errors.New("the query could not be sent: is a network interface up, with an address?")

// QueryError is a query that could not be sent at all.
type QueryError struct {
	Name string
	Err  error // ErrNoInterface, or the socket's error
}

func (e *QueryError) Error() string {
	return "cannot ask for " + e.Name + " by multicast DNS: " + e.Err.Error()
}

func (e *QueryError) Unwrap() error { return e.Err }

// IsLocal reports whether host is a name multicast DNS answers for: one
// that ends in .local (an IP address never does).
func IsLocal(host string) bool {
	host = strings.TrimSuffix(host, ".")
	return len(host) > len(".local") && strings.EqualFold(host[len(host)-len(".local"):], ".local")
}

// Resolver looks .local names up by multicast DNS. Its zero value is ready
// to use; it is safe for concurrent use.
type Resolver struct {
	// Timeout bounds a lookup; zero means DefaultTimeout.
	Timeout time.Duration
	// Server, if set, is asked by unicast instead of the multicast groups:
	// a responder of a test's own on the loopback.
	Server netip.AddrPort
	// Clock times the cache; nil means clock.Real.
	Clock clock.Clock

	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	addrs   []netip.Addr
	expires time.Time
}

func (r *Resolver) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// Lookup returns the addresses of host, a .local name: IPv4 first. An
// answer in the cache is returned at once. No answer within the timeout
// (or before ctx's deadline) is a *NoAnswerError.
func (r *Resolver) Lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	name := canonical(host)
	r.mu.Lock()
	if e, ok := r.cache[name]; ok {
		if r.now().Before(e.expires) {
			r.mu.Unlock()
			return slices.Clone(e.addrs), nil
		}
		delete(r.cache, name)
	}
	r.mu.Unlock()

	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	ans, err := r.ask(ctx, name, timeout)
	if err != nil {
		if errors.Is(err, errNoAnswer) {
			return nil, &NoAnswerError{Name: strings.TrimSuffix(host, "."), Timeout: timeout}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &QueryError{Name: strings.TrimSuffix(host, "."), Err: err}
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]entry{}
	}
	r.cache[name] = entry{addrs: ans.addrs, expires: r.now().Add(min(ans.ttl, MaxCache))}
	r.mu.Unlock()
	return slices.Clone(ans.addrs), nil
}

// Forget drops what the cache holds for host, so the next lookup asks
// again: the addresses it gave led nowhere.
func (r *Resolver) Forget(host string) {
	r.mu.Lock()
	delete(r.cache, canonical(host))
	r.mu.Unlock()
}

// DialContext returns a dial function for an http.Transport: an address
// whose host is a .local name is looked up by r and its addresses dialed
// in turn by d; any other address goes to d as it is.
func (r *Resolver) DialContext(d *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil || !IsLocal(host) {
			return d.DialContext(ctx, network, address)
		}
		addrs, err := r.Lookup(ctx, host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		var first error
		for _, a := range addrs {
			if strings.HasSuffix(network, "4") && !a.Is4() || strings.HasSuffix(network, "6") && !a.Is6() {
				continue
			}
			c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
		}
		r.Forget(host)
		if first == nil {
			first = &net.OpError{Op: "dial", Net: network, Err: errors.New("no " + network + " address for " + host)}
		}
		return nil, first
	}
}

func canonical(host string) string {
	host = strings.ToLower(host)
	if !strings.HasSuffix(host, ".") {
		host += "."
	}
	return host
}

// errNoAnswer is a lookup's time running out.
var errNoAnswer = errors.New("mdns: no answer")

// ask sends the query until a valid answer comes or timeout passes.
func (r *Resolver) ask(ctx context.Context, name string, timeout time.Duration) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id := newID()
	query, err := newQuery(name, id)
	if err != nil {
		return answer{}, err
	}
	var socks []*socket
	if r.Server.IsValid() {
		s, err := unicastSocket(r.Server)
		if err != nil {
			return answer{}, err
		}
		socks = []*socket{s}
	} else {
		socks, err = multicastSockets()
		if err != nil {
			return answer{}, err
		}
	}
	answers := make(chan answer, len(socks))
	var wg sync.WaitGroup
	for _, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, ok := s.await(name, id); ok {
				answers <- a
			}
		}()
	}
	defer func() {
		for _, s := range socks {
			s.conn.Close()
		}
		wg.Wait()
	}()

	wait := firstResend
	for first := true; ; first = false {
		sent := false
		for _, s := range socks {
			sent = s.send(query) || sent
		}
		if first && !sent {
			return answer{}, ErrNoInterface // later, a send that fails may be an interface going; an answer may still come
		}
		t := time.NewTimer(wait)
		select {
		case a := <-answers:
			t.Stop()
			return a, nil
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return answer{}, errNoAnswer
			}
			return answer{}, ctx.Err()
		case <-t.C:
			wait *= 2
		}
	}
}

// socket is one UDP socket a query goes out on, and what it may hear.
type socket struct {
	conn *net.UDPConn
	// targets sends the query: to one address, or to a group on each interface.
	targets []target
	// from reports whether an answer from this source may be taken.
	from func(src netip.AddrPort) bool
}

type target struct {
	to  netip.AddrPort
	ifi *net.Interface // nil: a unicast target
	set func(*net.Interface) error
}

// send sends the query to every target, and reports whether one took it.
func (s *socket) send(q []byte) bool {
	ok := false
	for _, t := range s.targets {
		if t.set != nil && t.set(t.ifi) != nil {
			continue
		}
		if _, err := s.conn.WriteToUDPAddrPort(q, t.to); err == nil {
			ok = true
		}
	}
	return ok
}

// await reads until the socket is closed or a valid answer for name comes.
func (s *socket) await(name string, id uint16) (answer, bool) {
	buf := make([]byte, maxPacket)
	for {
		n, src, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return answer{}, false
			}
			continue // an ICMP error for one of the sends, or a truncated read
		}
		if !s.from(src) {
			continue
		}
		if a, ok := parseAnswer(buf[:n], name, id, src.Addr()); ok {
			return a, true
		}
	}
}
