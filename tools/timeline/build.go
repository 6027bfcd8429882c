package timeline

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/tools/capture"
	"github.com/ccslink/ccslink/tools/tlsread"
)

// Read builds the timeline of a capture's frames.
func Read(frames []capture.Frame) *Timeline { return ReadKeys(frames, nil) }

// ReadKeys is Read that reads TLS streams with the secrets of keys.
func ReadKeys(frames []capture.Frame, keys *tlsread.KeyLog) *Timeline {
	b := &builder{frames: frames, t: &Timeline{}, cur: -1, conns: map[connKey]*conn{}, bursts: map[burstKey]int{}}
	if len(frames) > 0 {
		b.t.Start = frames[0].Time
	}
	msgs, streams := capture.V2GTPKeys(frames, keys)
	mi := 0
	for i, f := range frames {
		if len(f.Data) >= 14 && binary.BigEndian.Uint16(f.Data[12:]) == capture.EtherTypeHomePlugAV {
			b.homePlug(i, f.Data)
		} else if len(f.Data) >= 18 && binary.BigEndian.Uint16(f.Data[12:]) != 0x0800 && binary.BigEndian.Uint16(f.Data[12:]) != 0x86DD {
			for _, h := range capture.HomePlug(frames[i : i+1]) { // VLAN-tagged
				b.homePlug(i, h.Data)
			}
		}
		for ; mi < len(msgs) && msgs[mi].Frame == i; mi++ {
			b.message(&msgs[mi])
		}
	}
	b.streams(streams)
	b.finish()
	return b.t
}

type connKey struct{ car, charger netip.AddrPort }

// conn is one V2G connection: the car is the TCP client.
type conn struct {
	car, charger netip.AddrPort
	sess         int
	offers       []offer
	schema       string // codec of payload type 0x8001 after the handshake: "din", "iso2", or "" (guess)
	protocol     string
	pending      bool // a request of the car awaits its answer
	pendAt       time.Time
}

type offer struct {
	namespace string
	id        int
}

type burstKey struct {
	t   homeplug.MMType
	src homeplug.MAC
}

// session is a Summary being built.
type session struct {
	Summary
	started    bool
	carIP      netip.Addr
	conns      int
	socFromCPD bool
	cpdSeen    bool
	stopped    bool         // SessionStop seen
	last       string       // last V2G message, as shown
	lastKind   message.Kind // its kind; None for a root element that is no message
	lastCode   string       // its ResponseCode
}

type builder struct {
	frames []capture.Frame
	t      *Timeline
	sess   []*session
	cur    int
	conns  map[connKey]*conn
	bursts map[burstKey]int // open bursts: event index
}

func (b *builder) at(frame int) time.Duration { return b.frames[frame].Time.Sub(b.t.Start) }

func (b *builder) add(e Event) int {
	if e.Count == 0 {
		e.Count = 1
	}
	e.T = b.at(e.Frame)
	b.t.Events = append(b.t.Events, e)
	if e.Session >= 0 {
		s := b.sess[e.Session]
		if !s.started {
			s.Start, s.started = e.T, true
		}
		s.Stop = e.T
	}
	return len(b.t.Events) - 1
}

func (b *builder) newSession() int {
	b.sess = append(b.sess, &session{})
	b.cur = len(b.sess) - 1
	return b.cur
}

func (b *builder) homePlug(i int, data []byte) {
	f, err := homeplug.Decode(data)
	if err != nil {
		b.add(Event{Frame: i, Kind: KindSLAC, Msg: f.MMType.String(), Session: b.cur,
			Err: fmt.Errorf("%w: HomePlug frame: %w", ErrUndecodable, err)})
		return
	}
	t := f.MMType
	dir := slacDir(t)
	if p, ok := f.Message.(*homeplug.SlacParmReq); ok {
		if b.cur < 0 || b.sess[b.cur].RunID != p.RunID.String() {
			b.newSession()
			s := b.sess[b.cur]
			s.RunID, s.CarMAC = p.RunID.String(), f.Src.String()
		}
	} else if dir != NoDir && b.cur < 0 {
		b.newSession()
	}
	if m, ok := f.Message.(*homeplug.SlacMatchCnf); ok && b.cur >= 0 {
		s := b.sess[b.cur]
		s.Matched, s.NID = true, m.NID.String()
		if s.CarMAC == "" {
			s.CarMAC = m.PEVMAC.String()
		}
	}
	_, raw := f.Message.(*homeplug.RawMessage)
	if !burst(t) && !raw {
		if strings.HasPrefix(t.String(), "CM_") {
			clear(b.bursts)
		}
	} else if ei, ok := b.bursts[burstKey{t, f.Src}]; ok {
		e := &b.t.Events[ei]
		e.Count++
		if _, ok := f.Message.(*homeplug.AttenProfileInd); ok {
			e.Fields = slacFields(f) // the latest sound's attenuation
		}
		if b.cur >= 0 {
			b.sess[b.cur].Stop = b.at(i)
		}
		return
	}
	sess := b.cur
	if dir == NoDir && t.Base() != homeplug.CMAttenProfileInd.Base() && t.Base() != homeplug.CMSetKeyReq.Base() {
		sess = -1 // the modem's own traffic belongs to no plug-in
	}
	ei := b.add(Event{Frame: i, Kind: KindSLAC, Dir: dir, Msg: t.String(), Fields: slacFields(f), Session: sess})
	if burst(t) || raw {
		b.bursts[burstKey{t, f.Src}] = ei
	}
}

// message handles one V2GTP message.
func (b *builder) message(m *capture.Message) {
	if m.Transport == "udp" {
		b.sdp(m)
		return
	}
	switch m.Header.Type {
	case v2gtp.TypeEXI, v2gtp.TypeISO20CommonMessages, v2gtp.TypeISO20AC, v2gtp.TypeISO20DC, v2gtp.TypeISO20ACDP, v2gtp.TypeISO20WPT:
	default:
		c := b.conns[connKey{m.Src, m.Dst}]
		if c == nil {
			c = b.conns[connKey{m.Dst, m.Src}]
		}
		s := -1
		if c != nil {
			s = c.sess
		}
		b.add(Event{Frame: m.Frame, Kind: KindV2G, Msg: m.Header.Type.String(), Session: s,
			Err: fmt.Errorf("%w: V2GTP payload type %v carries no V2G message", ErrUndecodable, m.Header.Type)})
		return
	}
	if m.Header.Type == v2gtp.TypeEXI {
		if req, ok := appRequest(m.Payload); ok {
			b.handshakeReq(m, req)
			return
		}
	}
	c, car := b.conns[connKey{m.Src, m.Dst}], true
	if c == nil {
		c, car = b.conns[connKey{m.Dst, m.Src}], false
	}
	if c != nil && !car && c.schema == "" && m.Header.Type == v2gtp.TypeEXI {
		if res, ok := appResponse(m.Payload); ok {
			b.handshakeRes(m, c, res)
			return
		}
	}
	b.v2g(m, c, car)
}

func (b *builder) sdp(m *capture.Message) {
	switch m.Header.Type {
	case v2gtp.TypeSDPRequest:
		if b.cur < 0 {
			b.newSession()
		}
		e := Event{Frame: m.Frame, Kind: KindSDP, Dir: CarToCharger, Msg: "SDP request", Session: b.cur}
		q, err := v2gtp.ParseSDPRequest(m.Payload)
		if err != nil {
			e.Err = fmt.Errorf("%w: SDP request: %w", ErrUndecodable, err)
		} else {
			e.Fields = []Field{{Name: "Security", Value: security(q.Security)}, {Name: "Transport", Value: transport(q.Transport)}}
		}
		b.add(e)
	case v2gtp.TypeSDPResponse:
		e := Event{Frame: m.Frame, Kind: KindSDP, Dir: ChargerToCar, Msg: "SDP response", Session: b.cur}
		r, err := v2gtp.ParseSDPResponse(m.Payload)
		if err != nil {
			e.Err = fmt.Errorf("%w: SDP response: %w", ErrUndecodable, err)
		} else {
			e.Fields = []Field{{Name: "Address", Value: r.IP.String()}, {Name: "Port", Value: int(r.Port)},
				{Name: "Security", Value: security(r.Security)}, {Name: "Transport", Value: transport(r.Transport)}}
		}
		b.add(e)
	default:
		b.add(Event{Frame: m.Frame, Kind: KindSDP, Msg: m.Header.Type.String(), Session: b.cur,
			Err: fmt.Errorf("%w: V2GTP payload type %v on the SDP port", ErrUndecodable, m.Header.Type)})
	}
}

func security(s byte) string {
	switch s {
	case v2gtp.SecurityTLS:
		return "TLS"
	case v2gtp.SecurityNone:
		return "none"
	}
	return fmt.Sprintf("0x%02x", s)
}

func transport(t byte) string {
	switch t {
	case v2gtp.TransportTCP:
		return "TCP"
	case v2gtp.TransportUDP:
		return "UDP"
	}
	return fmt.Sprintf("0x%02x", t)
}

// sessionFor returns the session a new V2G connection of car joins: the
// current one unless it already has another car's connection.
func (b *builder) sessionFor(car netip.AddrPort) int {
	if b.cur >= 0 {
		s := b.sess[b.cur]
		if s.conns == 0 || s.carIP == car.Addr() {
			return b.cur
		}
	}
	return b.newSession()
}

// joined records a new connection in its session.
func (b *builder) joined(c *conn, frame int) {
	s := b.sess[c.sess]
	s.conns++
	s.carIP = c.car.Addr()
	if s.CarMAC == "" && len(b.frames[frame].Data) >= 12 {
		s.CarMAC = homeplug.MAC(b.frames[frame].Data[6:12]).String()
	}
}
