package timeline

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/iso20/acdp"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/iso20/wpt"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/tools/capture"
)

// appRequest decodes p as a car's SupportedAppProtocolReq: a whole document
// with at least one protocol, so that no other document passes for one.
func appRequest(p []byte) (*apphand.SupportedAppProtocolReq, bool) {
	var d apphand.Document
	n, err := apphand.Unmarshal(p, &d)
	if err != nil || n != len(p) || d.SupportedAppProtocolReq == nil || len(d.SupportedAppProtocolReq.AppProtocol) == 0 {
		return nil, false
	}
	return d.SupportedAppProtocolReq, true
}

// appResponse decodes p as a charger's SupportedAppProtocolRes.
func appResponse(p []byte) (*apphand.SupportedAppProtocolRes, bool) {
	var d apphand.Document
	n, err := apphand.Unmarshal(p, &d)
	if err != nil || n != len(p) || d.SupportedAppProtocolRes == nil {
		return nil, false
	}
	return d.SupportedAppProtocolRes, true
}

// schemaOf returns the codec of payload type 0x8001 and the protocol's
// name for a namespace; ISO-20 has payload types of its own.
func schemaOf(ns string) (codec, protocol string) {
	switch p := message.ProtocolOf(ns); p {
	case message.ProtocolDIN:
		if ns == message.NamespaceTesla {
			return "din", ns // beside DIN's own offer, which would read the same
		}
		return "din", p.String()
	case message.ProtocolISO2:
		return "iso2", p.String()
	case message.ProtocolUnknown:
		return "", ns
	default:
		return "", p.String()
	}
}

func (b *builder) handshakeReq(m *capture.Message, req *apphand.SupportedAppProtocolReq) {
	c := &conn{car: m.Src, charger: m.Dst}
	c.sess = b.sessionFor(c.car)
	b.conns[connKey{c.car, c.charger}] = c
	b.joined(c, m.Frame)
	var fs []Field
	for i, ap := range req.AppProtocol {
		c.offers = append(c.offers, offer{ap.ProtocolNamespace, int(ap.SchemaID)})
		_, name := schemaOf(ap.ProtocolNamespace)
		fs = append(fs, Field{Name: fmt.Sprintf("Offer%d", i+1),
			Value: fmt.Sprintf("%s %d.%d (SchemaID %d, priority %d)", name, ap.VersionNumberMajor, ap.VersionNumberMinor, ap.SchemaID, ap.Priority)})
	}
	s := b.sess[c.sess]
	s.Requests++
	s.lastKind, s.last, s.lastCode = message.SupportedAppProtocolReq, message.SupportedAppProtocolReq.String(), ""
	b.request(c, m)
	b.add(Event{Frame: m.Frame, Kind: KindHandshake, Dir: CarToCharger, Msg: message.SupportedAppProtocolReq.String(), Message: message.SupportedAppProtocolReq,
		Fields: fs, Session: c.sess})
}

func (b *builder) handshakeRes(m *capture.Message, c *conn, res *apphand.SupportedAppProtocolRes) {
	fs := []Field{{Name: "ResponseCode", Value: res.ResponseCode.String()}}
	if res.SchemaID != nil {
		fs = append(fs, Field{Name: "SchemaID", Value: int(*res.SchemaID)})
		for _, o := range c.offers {
			if o.id == int(*res.SchemaID) {
				c.schema, c.protocol = schemaOf(o.namespace)
				fs = append(fs, Field{Name: "Chosen", Value: c.protocol})
				b.sess[c.sess].Protocol = c.protocol
				break
			}
		}
	}
	e := Event{Frame: m.Frame, Kind: KindHandshake, Dir: ChargerToCar, Msg: message.SupportedAppProtocolRes.String(), Message: message.SupportedAppProtocolRes,
		Fields: fs, Session: c.sess}
	s := b.sess[c.sess]
	s.lastKind, s.last, s.lastCode = e.Message, e.Msg, res.ResponseCode.String()
	b.answer(c, &e, m)
	b.add(e)
}

// request notes a request of the car that awaits its answer.
func (b *builder) request(c *conn, m *capture.Message) {
	c.pending, c.pendAt = true, m.Time
}

// answer marks e as the answer to the car's pending request: the time from
// the request's last byte to the answer's, as the capture saw them.
func (b *builder) answer(c *conn, e *Event, m *capture.Message) {
	if !c.pending {
		return
	}
	c.pending = false
	e.Answer, e.Took = true, max(m.Time.Sub(c.pendAt), 0)
	if s := b.sess[c.sess]; e.Took > s.MaxTook {
		s.MaxTook = e.Took
	}
}

// codecs returns the codecs to try on a message of payload type t.
func codecs(c *conn, t v2gtp.PayloadType) []string {
	switch t {
	case v2gtp.TypeISO20CommonMessages:
		return []string{"iso20"}
	case v2gtp.TypeISO20AC:
		return []string{"iso20ac", "iso20"}
	case v2gtp.TypeISO20DC:
		return []string{"iso20dc", "iso20"}
	case v2gtp.TypeISO20ACDP:
		return []string{"iso20acdp", "iso20"}
	case v2gtp.TypeISO20WPT:
		return []string{"iso20wpt", "iso20"}
	}
	if c != nil && c.schema != "" {
		return []string{c.schema}
	}
	return []string{"din", "iso2"}
}

// decoder decodes p into a new document of one schema set.
type decoder func(p []byte) (doc any, err error)

func decoderOf[D any](unmarshal func([]byte, *D) (int, error)) decoder {
	return func(p []byte) (any, error) {
		d := new(D)
		_, err := unmarshal(p, d)
		return d, err
	}
}

// decoders are the V2G schema sets by the names v2g.Lookup knows them by.
var decoders = map[string]decoder{
	"din":       decoderOf(din.Unmarshal),
	"iso2":      decoderOf(iso2.Unmarshal),
	"iso20":     decoderOf(iso20.Unmarshal),
	"iso20ac":   decoderOf(ac.Unmarshal),
	"iso20dc":   decoderOf(dc.Unmarshal),
	"iso20acdp": decoderOf(acdp.Unmarshal),
	"iso20wpt":  decoderOf(wpt.Unmarshal),
}

// decode decodes a V2G message: its kind, its name (the root element's
// for a document whose root is no message) and the decoded body element.
func decode(names []string, p []byte) (codec string, kind message.Kind, msg string, body reflect.Value, err error) {
	for _, name := range names {
		doc, derr := decoders[name](p)
		if err = derr; err != nil {
			continue
		}
		msg, body = root(reflect.ValueOf(doc))
		if msg == "V2G_Message" {
			msg, body = root(body.Elem().FieldByName("Body"))
		}
		if msg == "" {
			err = fmt.Errorf("%s document with no message", name)
			continue
		}
		if kind = messageOf(doc); kind != message.None {
			msg = kind.String()
		}
		return name, kind, msg, body, nil
	}
	return "", message.None, "", reflect.Value{}, err
}

// messageOf returns the kind of message a decoded document holds, by its
// codec's own mapping.
func messageOf(doc any) message.Kind {
	switch d := doc.(type) {
	case *din.Document:
		if d.V2G_Message != nil {
			return d.V2G_Message.Body.Kind().Message()
		}
	case *iso2.Document:
		if d.V2G_Message != nil {
			return d.V2G_Message.Body.Kind().Message()
		}
	case interface{ Message() message.Kind }: // the ISO-20 codecs
		return d.Message()
	}
	return message.None
}

// root returns the one set pointer field of a document or body struct.
func root(v reflect.Value) (string, reflect.Value) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", v
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return "", v
	}
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			return t.Field(i).Name, f
		}
	}
	return "", v
}

var protocolOfCodec = map[string]string{
	"din": "DIN 70121", "iso2": "ISO 15118-2", "iso20": "ISO 15118-20", "iso20ac": "ISO 15118-20 AC",
	"iso20dc": "ISO 15118-20 DC", "iso20acdp": "ISO 15118-20 ACDP", "iso20wpt": "ISO 15118-20 WPT",
}

// v2g handles a V2G message on connection c (nil: a connection whose
// handshake the capture missed); car says whether the car sent it.
func (b *builder) v2g(m *capture.Message, c *conn, car bool) {
	cd, kind, name, body, err := decode(codecs(c, m.Header.Type), m.Payload)
	if c == nil && err == nil {
		// The capture missed the handshake: a request tells who the car is.
		c = &conn{car: m.Src, charger: m.Dst}
		if !kind.IsRequest() {
			c.car, c.charger = m.Dst, m.Src
		}
		car = c.car == m.Src
		c.sess = b.sessionFor(c.car)
		b.conns[connKey{c.car, c.charger}] = c
		b.joined(c, m.Frame)
	}
	if c != nil && (cd == "din" || cd == "iso2") {
		c.schema = cd // a guess that worked holds for the connection
	}
	e := Event{Frame: m.Frame, Kind: KindV2G, Dir: ChargerToCar, Session: -1}
	if car {
		e.Dir = CarToCharger
	}
	if c != nil {
		e.Session = c.sess
	}
	if err != nil {
		e.Msg = m.Header.Type.String()
		e.Err = fmt.Errorf("%w: %d bytes of %v: %w", ErrUndecodable, len(m.Payload), m.Header.Type, err)
		b.add(e)
		return
	}
	e.Msg, e.Message = name, kind
	e.Fields = collect(nil, body, "", 0)
	unitsByName(e.Fields)
	s := b.sess[c.sess]
	if car {
		s.Requests++
		b.request(c, m)
	} else {
		b.answer(c, &e, m)
	}
	if s.Protocol == "" || c.protocol == "" {
		c.protocol = protocolOfCodec[cd]
		if s.Protocol == "" || !strings.HasPrefix(s.Protocol, c.protocol) {
			s.Protocol = c.protocol
		}
	}
	b.values(s, &e)
	b.add(e)
}

// unitsByName gives ISO-20's unitless rational numbers their unit.
func unitsByName(fs []Field) {
	for i := range fs {
		f := &fs[i]
		if _, ok := f.Value.(float64); !ok || f.Unit != "" {
			continue
		}
		switch {
		case strings.Contains(f.Name, "Power"):
			f.Unit = "W"
		case strings.Contains(f.Name, "Current"):
			f.Unit = "A"
		case strings.Contains(f.Name, "Voltage"):
			f.Unit = "V"
		case strings.Contains(f.Name, "Energy"):
			f.Unit = "Wh"
		}
	}
}

// values folds the car's values of a message into its session's summary.
func (b *builder) values(s *session, e *Event) {
	s.last, s.lastKind = e.Msg, e.Message
	s.lastCode, _ = e.Field("ResponseCode").(string)
	if e.Message.Request() == message.SessionStopReq {
		s.stopped = true
	}
	if e.Dir != CarToCharger {
		return
	}
	if e.Message == message.SessionSetupReq && s.EVCCID == "" {
		s.EVCCID, _ = e.Field("EVCCID").(string)
	}
	if e.Message == message.ScheduleExchangeReq && s.EnergyRequestWh == nil {
		// ISO-20 asks for energy here, not in its ChargeParameterDiscoveryReq.
		if v, ok := e.Field("EVTargetEnergyRequest").(float64); ok {
			s.EnergyRequestWh = &v
		}
	}
	cpd := isCPD(e.Message)
	if cpd && s.cpdSeen {
		return
	}
	soc := e.Field("EVRESSSOC")
	if soc == nil {
		soc = e.Field("PresentSOC")
	}
	if v, ok := soc.(int); ok && (s.SoC == nil || cpd && !s.socFromCPD) {
		s.SoC, s.socFromCPD = &v, cpd
	}
	if !cpd {
		return
	}
	s.cpdSeen = true
	if v, ok := e.Field("FullSOC").(int); ok {
		s.FullSOC = &v
	}
	if v, ok := e.Field("BulkSOC").(int); ok {
		s.BulkSOC = &v
	}
	if v, ok := e.Field("EVEnergyCapacity").(float64); ok {
		s.EnergyCapacityWh = &v
	}
	for _, n := range []string{"EVEnergyRequest", "EAmount", "EVTargetEnergyRequest"} {
		if v, ok := e.Field(n).(float64); ok {
			s.EnergyRequestWh = &v
			break
		}
	}
}

// isCPD reports whether k is a ChargeParameterDiscoveryReq: DIN's and
// ISO-2's, or one of ISO-20's, one per kind of energy transfer.
func isCPD(k message.Kind) bool {
	switch k {
	case message.ChargeParameterDiscoveryReq, message.AC_ChargeParameterDiscoveryReq,
		message.DC_ChargeParameterDiscoveryReq, message.WPT_ChargeParameterDiscoveryReq:
		return true
	}
	return false
}

// streams adds one event per TCP connection that could not be read whole.
func (b *builder) streams(streams []capture.Stream) {
	seen := map[connKey]bool{}
	for _, st := range streams {
		if st.Transport != "tcp" || st.Reason == "" && st.TLS == "" {
			continue
		}
		k := connKey{st.Src, st.Dst}
		if seen[k] || seen[connKey{st.Dst, st.Src}] && (st.Reason == capture.ReasonTLS || st.TLS != "") {
			continue
		}
		seen[k] = true
		var err error
		switch st.Reason {
		case capture.ReasonTLS:
			err = &EncryptedError{Bytes: st.Bytes, Err: st.TLSErr}
		case capture.ReasonTruncated:
			err = fmt.Errorf("%w inside a V2GTP message", ErrTruncated)
		case capture.ReasonGap:
			err = ErrGap
		case "": // a TLS stream read with the key log
			err = nil
		case capture.ReasonNotV2GTP:
			err = nil // other traffic: said, but not an error
		default:
			err = fmt.Errorf("%w: %s", ErrUndecodable, st.Reason)
		}
		f := capture.FirstFrame(b.frames, st)
		if f < 0 {
			f = 0
		}
		sess := b.sessionAt(f)
		if c := b.conns[k]; c != nil {
			sess = c.sess // the connection's messages told whose it is
		}
		if sess >= 0 && (st.Reason == capture.ReasonTLS || st.TLS != "") {
			b.sess[sess].Encrypted = true
		}
		content := st.Reason
		if st.TLS != "" {
			content = "TLS " + st.TLS + " read with the key log"
		}
		e := Event{Frame: f, Kind: KindStream, Msg: "TCP " + st.Src.String() + " -> " + st.Dst.String(), Session: sess,
			Fields: []Field{{Name: "Content", Value: content}, {Name: "Bytes", Value: st.Bytes}, {Name: "Skipped", Value: st.Skipped}},
			Err:    err}
		b.insert(e)
	}
}

// sessionAt returns the session that was current at frame f: the last one
// that started before it.
func (b *builder) sessionAt(f int) int {
	s := -1
	for _, e := range b.t.Events {
		if e.Frame > f {
			break
		}
		if e.Session >= 0 {
			s = e.Session
		}
	}
	return s
}

// insert adds e in frame order.
func (b *builder) insert(e Event) {
	e.T, e.Count = b.at(e.Frame), 1
	i := len(b.t.Events)
	for i > 0 && b.t.Events[i-1].Frame > e.Frame {
		i--
	}
	b.t.Events = append(b.t.Events, Event{})
	copy(b.t.Events[i+1:], b.t.Events[i:])
	b.t.Events[i] = e
}

// finish writes each session's end.
func (b *builder) finish() {
	for _, s := range b.sess {
		switch {
		case s.Encrypted && s.last == "":
			s.End = "the V2G session is encrypted (TLS)"
		case s.stopped:
			s.End = "the car ended the session (SessionStop)"
		case s.lastKind.IsResponse() && strings.HasPrefix(s.lastCode, "FAILED"):
			s.End = fmt.Sprintf("the charger answered %s with %s", s.lastKind.Request(), s.lastCode)
		case s.last != "":
			s.End = "the capture ends after " + s.last
		case s.RunID != "" && !s.Matched:
			s.End = "SLAC did not match"
		case s.Matched:
			s.End = "matched; no V2G session in the capture"
		default:
			s.End = "no V2G session in the capture"
		}
		b.t.Sessions = append(b.t.Sessions, s.Summary)
	}
}
