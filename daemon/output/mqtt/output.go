package mqtt

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/record"
)

// Payloads of the status topic; Offline is also the client's last will.
const (
	Online  = "online"
	Offline = "offline"
)

// publishTimeout bounds the wait for the broker to acknowledge one message.
const publishTimeout = 10 * time.Second

// Output publishes the charger's plug-ins to an MQTT broker. Its Event and
// PlugInEnded are the charger's subscriber methods; they never block.
type Output struct {
	s        settings
	client   paho.Client
	order    []string          // keys, in the order they are published
	topics   map[string]string // key -> topic
	haStatus string            // Home Assistant's birth topic; "" without discovery

	wake   chan struct{}
	quit   chan struct{}
	exited chan struct{}
	once   sync.Once

	mu       sync.Mutex
	closed   bool
	payloads map[string][]byte // the newest payload of every key but the session
	session  *record.Session   // the last car's record, nil before the first car
	dirty    map[string]bool   // keys not yet published since they changed
	state    record.State
	sub      bool          // subscribe to haStatus before the next publication
	failing  bool          // the last connection attempt failed: log the next ones quietly
	lostAt   time.Time     // when the connection was lost; zero while connected or never connected
	down     chan struct{} // closed at the next connection attempt: the connection it belongs to is gone
	tryAt    time.Time     // when the last connection attempt began
	brief    int           // connections in a row the broker dropped within briefConnection
	told     bool          // the log said that another client may use the client ID

	// A key the charge loop changed (loop) waits until UpdateInterval has
	// passed since it was last published for the loop (pacedAt); any other
	// event of the plug-in clears both, and what is held goes at once.
	loop    map[string]bool
	pacedAt map[string]time.Time
}

// briefConnection is how soon after connecting a broker's drop counts as
// brief; briefDrops brief drops in a row suggest another client with the
// same client ID, which a broker lets in by closing the older connection.
const (
	briefConnection = 5 * time.Second
	briefDrops      = 2
)

// New checks cfg and starts connecting in the background; Close stops the Output.
func New(cfg Config) (*Output, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	o := &Output{
		s:        s,
		topics:   map[string]string{},
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		exited:   make(chan struct{}),
		payloads: map[string][]byte{},
		dirty:    map[string]bool{},
		loop:     map[string]bool{},
		pacedAt:  map[string]time.Time{},
		state:    record.StateWaiting,
		down:     make(chan struct{}),
	}
	if s.discovery != "" {
		o.haStatus = s.discovery + "/status"
		topics, payloads := discoveryConfigs(s)
		for i, t := range topics {
			key := "config:" + sensors[i].topic
			o.add(key, t, payloads[i])
		}
	}
	o.add("status", s.prefix+"status", []byte(Online))
	o.add("state", s.prefix+"state", []byte(o.state))
	// No values before the first car: the broker keeps those of the last
	// car it holds from before a restart, until the next car overwrites them.
	for _, t := range valueTopics {
		o.add(t, s.prefix+t, nil)
	}
	o.add("session", s.prefix+"session", nil)

	opts := paho.NewClientOptions().
		AddBroker(s.broker.String()).
		SetClientID(s.clientID).
		SetUsername(s.username).
		SetPassword(s.password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(s.retry).
		SetMaxReconnectInterval(s.retry).
		SetConnectTimeout(10*time.Second).
		SetWriteTimeout(publishTimeout).
		SetKeepAlive(30*time.Second).
		SetOrderMatters(false).
		SetWill(s.prefix+"status", Offline, 1, true).
		// Paho sends what was in flight again after a reconnection from
		// its store, which races with a connection lost at once (as when
		// another client takes the ID): it panics. The output publishes
		// everything afresh on each connection anyway.
		SetStore(discard{}).
		SetOnConnectHandler(func(paho.Client) { o.connected() }).
		SetConnectionNotificationHandler(o.notified)
	if s.tls != nil {
		opts.SetTLSConfig(s.tls)
	}
	o.client = paho.NewClient(opts)
	o.client.Connect() // with ConnectRetry it completes only once connected: never waited on
	go o.run()
	return o, nil
}

func (o *Output) add(key, topic string, payload []byte) {
	o.order = append(o.order, key)
	o.topics[key] = topic
	o.payloads[key] = payload
	o.dirty[key] = payload != nil
}

// Topic returns the full topic of a name under the prefix, such as "soc".
func (o *Output) Topic(name string) string { return o.s.prefix + name }

// Event notes what e changed; the Output's goroutine publishes it.
func (o *Output) Event(e record.Event, s *record.Session) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.setStateLocked(o.state.Next(e))
	switch {
	case s == nil || !hadCar(s) || e.Kind == record.KindRequest:
		// A request's answer changes none of the car's values.
	case e.Kind == record.KindValues:
		// The record only when a value changed: a car in a CurrentDemand
		// loop sends its values ten times a second for hours; and both at
		// the pace of UpdateInterval.
		if o.valuesLocked(s, true) {
			o.sessionLocked(s, true)
		}
	default:
		o.releaseLocked()
		o.valuesLocked(s, false)
		o.sessionLocked(s, false)
	}
	o.wakeLocked()
}

// PlugInEnded publishes the plug-in's final record and the state after it.
func (o *Output) PlugInEnded(s *record.Session) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if s == nil {
		return
	}
	o.setStateLocked(o.state.AfterPlugIn(s))
	o.releaseLocked()
	if hadCar(s) {
		o.valuesLocked(s, false)
		o.sessionLocked(s, false)
	}
	o.wakeLocked()
}

// Late publishes the handover of a plug-in that ended before it came (the
// car left the V2G session long before the SmartEVSE charged it), and the
// SoC estimated while it charges on AC, when that plug-in's car is still
// the one the topics show.
func (o *Output) Late(e record.Event, s *record.Session) {
	if e.Kind != record.KindHandover && e.Kind != record.KindEstimate || s == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.session == nil || o.session.PlugIn != s.PlugIn {
		return
	}
	// The estimate follows the SmartEVSE's meter, at the pace of a loop.
	est := e.Kind == record.KindEstimate
	if !est {
		o.releaseLocked()
	}
	o.valuesLocked(s, est)
	o.sessionLocked(s, est)
	o.wakeLocked()
}

func (o *Output) setStateLocked(st record.State) {
	o.state = st
	o.setLocked("state", []byte(st))
}

// setLocked notes p as key's newest payload and reports whether it changed.
func (o *Output) setLocked(key string, p []byte) bool {
	if o.payloads[key] != nil && string(o.payloads[key]) == string(p) {
		return false
	}
	o.payloads[key] = p
	o.dirty[key] = true
	return true
}

// pacedTopics are the keys a charge loop changes, published at the pace of
// UpdateInterval; the others change once or twice a plug-in.
var pacedTopics = map[string]bool{"soc": true, "full_soc": true, "energy_capacity": true, "energy_request": true,
	"soc_timestamp": true, "soc_estimated": true, "soc_estimated_basis": true, "session": true}

// valuesLocked notes the car's values and reports whether one changed;
// loop says a charge loop changed them.
func (o *Output) valuesLocked(s *record.Session, loop bool) bool {
	changed := false
	for k, v := range values(s) {
		if o.setLocked(k, append([]byte{}, v...)) { // never nil: empty clears the topic
			changed = true
			o.loop[k] = o.loop[k] || loop && pacedTopics[k]
		}
	}
	return changed
}

func (o *Output) sessionLocked(s *record.Session, loop bool) {
	o.session = s.Clone()
	o.dirty["session"] = true
	o.loop["session"] = o.loop["session"] || loop
}

// releaseLocked lets what the loop changed go at once, and the next change
// of the loop too: an event that is not the loop's (a plug-in's start, its
// end, a delivery) is never held back, nor what it brings.
func (o *Output) releaseLocked() {
	clear(o.loop)
	clear(o.pacedAt)
}

// allLocked marks everything there is to say for publication.
func (o *Output) allLocked() {
	for _, k := range o.order {
		if o.payloads[k] != nil || k == "session" && o.session != nil {
			o.dirty[k] = true
		}
	}
}

func (o *Output) wakeLocked() {
	select {
	case o.wake <- struct{}{}:
	default: // awake already; it takes the newest payloads
	}
}

// connected runs on paho's goroutine after each connection: everything is
// published afresh, as the broker may have lost it.
func (o *Output) connected() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failing = false
	o.allLocked()
	o.sub = o.haStatus != ""
	if o.lostAt.IsZero() {
		o.s.log.Info("mqtt: connected to the broker", "broker", o.s.broker.Redacted(), "client_id", o.s.clientID, "prefix", o.s.prefix)
	} else {
		away := o.s.now().Sub(o.lostAt).Round(time.Second)
		log := o.s.log.Info
		if o.told {
			log = o.s.log.Debug // a fight over the client ID, said once
		}
		log("mqtt: reconnected to the broker after "+away.String()+" away; publishing everything afresh", "broker", o.s.broker.Redacted(), "away", away)
		o.lostAt = time.Time{}
	}
	o.wakeLocked()
}

// notified logs the connection's failures in plain words.
func (o *Output) notified(_ paho.Client, n paho.ConnectionNotification) {
	switch n := n.(type) {
	case paho.ConnectionNotificationConnecting:
		// Paho says this before each attempt, on its own goroutine, where
		// it says Lost on another: the loss is timed from the first.
		o.mu.Lock()
		o.tryAt = o.s.now()
		// The last connection is gone: what waits for its acknowledgement
		// gives up (paho would keep it waiting), and the next has its own.
		close(o.down)
		o.down = make(chan struct{})
		if n.IsReconnect && o.lostAt.IsZero() {
			o.lostAt = o.tryAt
		}
		o.mu.Unlock()
	case paho.ConnectionNotificationFailed:
		o.mu.Lock()
		first := !o.failing
		o.failing = true
		o.mu.Unlock()
		msg := "mqtt: cannot connect to the broker; retrying"
		if first {
			o.s.log.Warn(msg, "broker", o.s.broker.Redacted(), "err", words(n.Reason), "retry_every", o.s.retry)
		} else {
			o.s.log.Debug(msg, "broker", o.s.broker.Redacted(), "err", words(n.Reason))
		}
	case paho.ConnectionNotificationLost:
		reason := "the broker closed the connection"
		if n.Reason != nil {
			reason = words(n.Reason)
		}
		msg := "mqtt: lost the connection to the broker; reconnecting every " + o.s.retry.String() + " (the car's values wait, the newest kept)"
		switch o.lost() {
		case lostOnce:
			o.s.log.Warn(msg, "broker", o.s.broker.Redacted(), "err", reason)
		case lostSameID:
			o.s.log.Warn("mqtt: the broker keeps closing the connection right after it is made: another client may be connected with the same client ID "+quote(o.s.clientID)+
				", and each connection then ends the other's; give every daemon on the broker its own name (name: in the configuration, or --name) or set mqtt.client_id",
				"broker", o.s.broker.Redacted(), "client_id", o.s.clientID, "err", reason)
		default:
			o.s.log.Debug(msg, "broker", o.s.broker.Redacted(), "err", reason)
		}
	}
}

// How a lost connection is logged.
const (
	lostOnce   = iota // a warning
	lostSameID        // the warning that another client may use the ID
	lostAgain         // quietly: the warning was given
)

// lost counts a lost connection and says how to log it. Paho's Lost and
// Connected notifications come on goroutines of their own, in either order,
// so a connection is timed from its attempt, whose notification is in order.
func (o *Output) lost() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.s.now().Sub(o.tryAt) >= briefConnection {
		o.brief = 0
		o.told = false
		return lostOnce
	}
	o.brief++
	switch {
	case o.told:
		return lostAgain
	case o.brief >= briefDrops:
		o.told = true
		return lostSameID
	}
	return lostOnce
}

// haAnnounced republishes everything when Home Assistant comes online, so
// that a Home Assistant that started after the broker lost nothing.
func (o *Output) haAnnounced(_ paho.Client, m paho.Message) {
	if string(m.Payload()) != Online {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.allLocked()
	o.wakeLocked()
}

func (o *Output) run() {
	defer close(o.exited)
	var (
		timer clock.Timer // fires when a key held for UpdateInterval is due
		at    time.Time   // when timer fires
		fire  <-chan time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-o.quit:
			return
		case <-o.wake:
		case <-fire:
			timer, at, fire = nil, time.Time{}, nil
		}
		if due := o.publish(); !due.Equal(at) {
			// One timer for the earliest key held: a flood of changes
			// makes no flood of timers.
			if timer != nil {
				timer.Stop()
			}
			timer, at, fire = nil, due, nil
			if !due.IsZero() {
				timer = o.s.clk.NewTimer(due.Sub(o.s.clk.Now()))
				fire = timer.C()
			}
		}
	}
}

// publish sends what changed, in order, while the connection is up, and
// returns when the first key it holds back for UpdateInterval is due (zero:
// none). Anything not acknowledged stays to be published: the next
// connection publishes it all.
func (o *Output) publish() time.Time {
	if !o.client.IsConnectionOpen() {
		return time.Time{} // paho's connect handler wakes us
	}
	o.mu.Lock()
	sub := o.sub
	o.sub = false
	down := o.down
	o.mu.Unlock()
	if sub {
		// Before the configs, so that an announcement after them is not missed.
		if err := o.wait(o.client.Subscribe(o.haStatus, 1, o.haAnnounced), down); err != nil {
			o.s.log.Warn("mqtt: cannot subscribe to Home Assistant's status; discovery is republished on the next connection only",
				"broker", o.s.broker.Redacted(), "topic", o.haStatus, "err", words(err))
		}
	}
	// One time for the pass: the keys of one change go out together, and
	// are held together after.
	now := o.s.clk.Now()
	for {
		key, payload, due, ok := o.next(now)
		if !ok {
			return due
		}
		if err := o.wait(o.client.Publish(o.topics[key], 1, true, payload), down); err != nil {
			o.mu.Lock()
			o.dirty[key] = true
			o.mu.Unlock()
			o.s.log.Debug("mqtt: not published; trying again", "topic", o.topics[key], "err", words(err))
			// A new connection wakes us; a connection that stays up but
			// did not acknowledge gets another try after a while.
			time.AfterFunc(o.s.retry, func() {
				o.mu.Lock()
				defer o.mu.Unlock()
				o.wakeLocked()
			})
			return time.Time{}
		}
	}
}

// next takes the first key in order that changed and is due at now, with
// its payload; when none is, it returns when the first held back is due.
func (o *Output) next(now time.Time) (key string, payload []byte, due time.Time, ok bool) {
	o.mu.Lock()
	var s *record.Session
	for _, k := range o.order {
		if !o.dirty[k] {
			continue
		}
		if o.loop[k] && o.s.interval > 0 {
			if at := o.pacedAt[k].Add(o.s.interval); !o.pacedAt[k].IsZero() && now.Before(at) {
				if due.IsZero() || at.Before(due) {
					due = at
				}
				continue
			}
			o.pacedAt[k] = now
			delete(o.loop, k)
		}
		delete(o.dirty, k)
		if k != "session" {
			p := o.payloads[k]
			o.mu.Unlock()
			return k, p, time.Time{}, true
		}
		s = o.session
		break
	}
	o.mu.Unlock()
	if s == nil {
		return "", nil, due, false
	}
	b, err := json.Marshal(s) // s is a clone no one changes
	if err != nil {
		b = []byte(`{"error":"the record does not marshal"}`)
	}
	return "session", b, time.Time{}, true
}

var (
	errGaveUp  = errors.New("no acknowledgement from the broker in time")
	errClosing = errors.New("the output is closing")
	errLost    = errors.New("the connection was lost before the broker acknowledged")
)

// wait waits for t, at most publishTimeout, and not past Close or the
// next connection attempt (closing down).
func (o *Output) wait(t paho.Token, down <-chan struct{}) error {
	timer := time.NewTimer(publishTimeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-o.quit:
		return errClosing
	case <-down:
		return errLost
	case <-timer.C:
		return errGaveUp
	}
}

// Close publishes the offline status and disconnects, waiting at most
// about CloseTimeout for the broker; later calls do nothing. It returns nil.
func (o *Output) Close() error {
	first := false
	o.once.Do(func() { first = true })
	if !first {
		return nil
	}
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	close(o.quit)
	<-o.exited
	if o.client.IsConnectionOpen() {
		t := o.client.Publish(o.s.prefix+"status", 1, true, Offline)
		if !t.WaitTimeout(CloseTimeout) || t.Error() != nil {
			o.s.log.Warn("mqtt: could not publish offline before closing; the broker sends the last will", "broker", o.s.broker.Redacted())
		}
	}
	o.client.Disconnect(250)
	return nil
}

// words describes a connection or publication error in plain words.
func words(err error) string {
	var dns *net.DNSError
	var ne net.Error
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case err == nil:
		return "no error"
	case errors.Is(err, io.EOF):
		return "the broker closed the connection"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens there; check the broker's address and port"
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return "the broker refused the username or password; check them"
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return "the broker rejected the client ID; set another"
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return "the broker says it is unavailable"
	case errors.As(err, &dns):
		return "unknown host " + dns.Name + ": check the broker's name"
	case errors.As(err, &unknown), errors.As(err, &host):
		return "the broker's TLS certificate is not trusted: " + err.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer in time: the broker is off, out of reach or busy"
	}
	return err.Error()
}

// discard is a paho store that keeps nothing: nothing in flight is sent
// again by paho after a reconnection.
type discard struct{}

func (discard) Open()                             {}
func (discard) Put(string, packets.ControlPacket) {}
func (discard) Get(string) packets.ControlPacket  { return nil }
func (discard) All() []string                     { return nil }
func (discard) Del(string)                        {}
func (discard) Close()                            {}
func (discard) Reset()                            {}
