package mqtt

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// bound is how long a test waits for something that takes milliseconds;
// only a broken build reaches it.
const bound = 20 * time.Second

// broker is an embedded mochi broker on 127.0.0.1.
type broker struct {
	srv   *mochi.Server
	pubs  *publishes
	addr  string
	close func() // stops the broker; later calls do nothing
}

// startBroker starts a broker that lets anyone in on addr ("127.0.0.1:0" for a free port).
func startBroker(t *testing.T, addr string) *broker {
	t.Helper()
	return startBrokerAuth(t, addr, new(auth.AllowHook), nil)
}

// startBrokerAuth starts a broker with the authentication hook given, and
// any further listeners.
func startBrokerAuth(t *testing.T, addr string, authHook mochi.Hook, authConfig any, more ...listeners.Listener) *broker {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(authHook, authConfig); err != nil {
		t.Fatal(err)
	}
	pubs := &publishes{}
	if err := srv.AddHook(pubs, nil); err != nil {
		t.Fatal(err)
	}
	for _, l := range append([]listeners.Listener{listeners.NewNet("test", ln)}, more...) {
		if err := srv.AddListener(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	b := &broker{srv: srv, pubs: pubs, addr: ln.Addr().String(), close: sync.OnceFunc(func() { srv.Close() })}
	t.Cleanup(b.close)
	return b
}

func (b *broker) url() string { return "tcp://" + b.addr }

// publishes is a broker hook that notes the topic of every PUBLISH each client sends.
type publishes struct {
	mochi.HookBase
	mu     sync.Mutex
	topics map[string][]string // client ID -> topics
}

func (h *publishes) ID() string           { return "publishes" }
func (h *publishes) Provides(b byte) bool { return b == mochi.OnPublish }
func (h *publishes) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.topics == nil {
		h.topics = map[string][]string{}
	}
	h.topics[cl.ID] = append(h.topics[cl.ID], pk.TopicName)
	return pk, nil
}

// of returns the topics client id published, in order.
func (h *publishes) of(id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.topics[id]...)
}

// message is one message a subscriber received.
type message struct {
	topic, payload string
	retained       bool
}

// subscriber is a plain MQTT client that records everything it receives.
type subscriber struct {
	client paho.Client
	mu     sync.Mutex
	msgs   []message
	more   chan struct{} // closed and replaced on every message
}

// mosquitto is Debian's broker, run by mosquittotest.Start: its URL.
type mosquitto string

func (m mosquitto) url() string { return string(m) }

func subscribe(t *testing.T, b interface{ url() string }, filters ...string) *subscriber {
	t.Helper()
	s := &subscriber{more: make(chan struct{})}
	opts := paho.NewClientOptions().AddBroker(b.url()).SetClientID(fmt.Sprintf("test-%p", s)).SetAutoReconnect(false)
	s.client = paho.NewClient(opts)
	if tok := s.client.Connect(); !tok.WaitTimeout(bound) || tok.Error() != nil {
		t.Fatalf("test subscriber cannot connect to %s: %v", b.url(), tok.Error())
	}
	for _, f := range filters {
		tok := s.client.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			s.mu.Lock()
			s.msgs = append(s.msgs, message{m.Topic(), string(m.Payload()), m.Retained()})
			close(s.more)
			s.more = make(chan struct{})
			s.mu.Unlock()
		})
		if !tok.WaitTimeout(bound) || tok.Error() != nil {
			t.Fatalf("test subscriber cannot subscribe to %s: %v", f, tok.Error())
		}
	}
	t.Cleanup(func() { s.client.Disconnect(0) })
	// The broker handles one client's packets in order, and sends a
	// SUBSCRIBE's retained messages after its SUBACK: the SUBACK of one
	// more SUBSCRIBE says they are all sent. Waiting for it keeps the test
	// from publishing while mochi scans its retained messages, a race
	// inside mochi (mochi-mqtt/server#200), not in the client under test.
	if tok := s.client.Subscribe(readyTopic, 0, nil); !tok.WaitTimeout(bound) || tok.Error() != nil {
		t.Fatalf("test subscriber cannot subscribe to %s: %v", readyTopic, tok.Error())
	}
	return s
}

// readyTopic is the filter of a test subscriber's last SUBSCRIBE, which
// nothing publishes to.
const readyTopic = "ccslink-test/ready"

// waitFrom returns the index just past the first message at or after from
// on topic with payload want.
func (s *subscriber) waitFrom(t *testing.T, from int, topic, want string) int {
	t.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i := from; i < len(s.msgs); i++ {
			if m := s.msgs[i]; m.topic == topic && m.payload == want {
				s.mu.Unlock()
				return i + 1
			}
		}
		more := s.more
		s.mu.Unlock()
		select {
		case <-more:
		case <-deadline.C:
			t.Fatalf("no %s = %q within %v; last: %q", topic, want, bound, s.last(topic))
		}
	}
}

// wait waits until topic's newest payload is want.
func (s *subscriber) wait(t *testing.T, topic, want string) {
	t.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		more := s.more
		s.mu.Unlock()
		if s.last(topic) == want {
			return
		}
		select {
		case <-more:
		case <-deadline.C:
			t.Fatalf("%s is %q, not %q, after %v", topic, s.last(topic), want, bound)
		}
	}
}

// waitCount waits until topic got n messages, and returns them.
func (s *subscriber) waitCount(t *testing.T, topic string, n int) []message {
	t.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		var got []message
		for _, m := range s.msgs {
			if m.topic == topic {
				got = append(got, m)
			}
		}
		more := s.more
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-more:
		case <-deadline.C:
			t.Fatalf("%d messages on %s, want %d, after %v", len(got), topic, n, bound)
		}
	}
}

// last returns the newest payload on topic, or "<none>".
func (s *subscriber) last(topic string) string {
	m, ok := s.lastMessage(topic)
	if !ok {
		return "<none>"
	}
	return m.payload
}

func (s *subscriber) lastMessage(topic string) (message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if s.msgs[i].topic == topic {
			return s.msgs[i], true
		}
	}
	return message{}, false
}

func (s *subscriber) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// logs is a slog handler that hands each record's text to a channel.
type logs struct {
	ch chan string
}

func newLogs() *logs { return &logs{ch: make(chan string, 1024)} }

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	select {
	case l.ch <- b.String():
	default:
	}
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

// waitLog returns the first log line that holds every one of parts.
func (l *logs) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	for {
		select {
		case line := <-l.ch:
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return line
			}
		case <-deadline.C:
			t.Fatalf("no log line with %q within %v", parts, bound)
		}
	}
}

// proxy passes TCP connections to a broker, and cuts them on demand: the
// broker then sees the client's connection break as on a network failure.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   bool
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, open: true}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) url() string { return "tcp://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if !p.open {
			p.mu.Unlock()
			c.Close()
			continue
		}
		d, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, d)
		p.mu.Unlock()
		go func() { io.Copy(d, c); d.Close(); c.Close() }()
		go func() { io.Copy(c, d); d.Close(); c.Close() }()
	}
}

// cut closes every connection and refuses new ones until mend.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = false
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// mend lets connections through again.
func (p *proxy) mend() {
	p.mu.Lock()
	p.open = true
	p.mu.Unlock()
}
