package replay

import (
	"fmt"

	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// codec reads the V2G messages of one protocol: the car's requests (their
// SessionID rewritten for our charger) and our charger's answers. It keeps
// the last request decoded.
type codec interface {
	// decode decodes a request of the car, of payload type t; ok is false
	// when p is not a V2G message.
	decode(t v2gtp.PayloadType, p []byte) (kind message.Kind, ok bool)
	// reencode appends the last decoded request to dst with SessionID id.
	reencode(dst, id []byte) ([]byte, error)
	// carID returns the EVCCID of the last request if it is a SessionSetupReq.
	carID() ([]byte, bool)
	// cpd returns the car's values of the last request if it is a ChargeParameterDiscoveryReq.
	cpd() (record.Values, bool)
	// answer decodes our framed answer p: the SessionID a SessionSetupRes
	// gives (nil for other answers) and EVSEProcessing where the answer has one.
	answer(p []byte) (setupID []byte, processing string)
}

func newCodec(p secc.Protocol) codec {
	switch p {
	case secc.ProtocolDIN:
		return &codecOf[din.Document, din.BodyType, din.MessageKind, din.EVSEProcessingType]{unmarshal: din.Unmarshal, append: din.Append,
			body: (*din.Document).Body, sessionID: (*din.Document).SessionID, kind: (*din.BodyType).Kind, processing: (*din.BodyType).EVSEProcessing,
			setID:  func(d *din.Document, id []byte) { d.V2G_Message.Header.SessionID = id },
			evccid: func(b *din.BodyType) []byte { return b.SessionSetupReq.EVCCID },
			values: func(b *din.BodyType) record.Values { return secc.DINValues(b.ChargeParameterDiscoveryReq) }}
	case secc.ProtocolISO2:
		return &codecOf[iso2.Document, iso2.BodyType, iso2.MessageKind, iso2.EVSEProcessingType]{unmarshal: iso2.Unmarshal, append: iso2.Append,
			body: (*iso2.Document).Body, sessionID: (*iso2.Document).SessionID, kind: (*iso2.BodyType).Kind, processing: (*iso2.BodyType).EVSEProcessing,
			setID:  func(d *iso2.Document, id []byte) { d.V2G_Message.Header.SessionID = id },
			evccid: func(b *iso2.BodyType) []byte { return b.SessionSetupReq.EVCCID },
			values: func(b *iso2.BodyType) record.Values { return secc.ISO2Values(b.ChargeParameterDiscoveryReq) }}
	case secc.ProtocolISO20:
		return &iso20Codec{}
	}
	return nil
}

// codecOf is the codec of one protocol: D its Document, B its BodyType, K
// its MessageKind, P its EVSEProcessingType. Its functions are the
// package's generated ones, and what replay reads of the car's requests:
// evccid a SessionSetupReq's EVCCID, values a ChargeParameterDiscoveryReq's
// values (each called only on a body of that kind).
type codecOf[D, B any, K interface{ Message() message.Kind }, P fmt.Stringer] struct {
	unmarshal  func([]byte, *D) (int, error)
	append     func([]byte, *D) ([]byte, error)
	body       func(*D) *B // nil: not a V2G_Message
	sessionID  func(*D) []byte
	setID      func(*D, []byte)
	kind       func(*B) K
	processing func(*B) (P, bool)
	evccid     func(*B) []byte
	values     func(*B) record.Values
	req, res   D
	last       *B // the last request decoded; nil when it was not a V2G_Message
}

func (c *codecOf[D, B, K, P]) decode(t v2gtp.PayloadType, p []byte) (message.Kind, bool) {
	var zero D
	if t != v2gtp.TypeEXI {
		c.req, c.last = zero, nil
		return message.None, false
	}
	c.req, c.last = zero, nil
	if _, err := c.unmarshal(p, &c.req); err != nil {
		return message.None, false
	}
	if c.last = c.body(&c.req); c.last == nil {
		return message.None, false
	}
	return c.kind(c.last).Message(), true
}

func (c *codecOf[D, B, K, P]) reencode(dst, id []byte) ([]byte, error) {
	c.setID(&c.req, id)
	return c.append(dst, &c.req)
}

func (c *codecOf[D, B, K, P]) lastIs(k message.Kind) bool {
	return c.last != nil && c.kind(c.last).Message() == k
}

func (c *codecOf[D, B, K, P]) carID() ([]byte, bool) {
	if !c.lastIs(message.SessionSetupReq) {
		return nil, false
	}
	return c.evccid(c.last), true
}

func (c *codecOf[D, B, K, P]) cpd() (record.Values, bool) {
	if !c.lastIs(message.ChargeParameterDiscoveryReq) {
		return record.Values{}, false
	}
	return c.values(c.last), true
}

func (c *codecOf[D, B, K, P]) answer(p []byte) ([]byte, string) {
	var zero D
	c.res = zero
	_, payload, _, err := v2gtp.Split(p)
	if err != nil {
		return nil, ""
	}
	if _, err := c.unmarshal(payload, &c.res); err != nil {
		return nil, ""
	}
	b := c.body(&c.res)
	switch {
	case b == nil:
		return nil, ""
	case c.kind(b).Message() == message.SessionSetupRes:
		return c.sessionID(&c.res), ""
	}
	if proc, ok := c.processing(b); ok {
		return nil, proc.String()
	}
	return nil, ""
}

// appRequest decodes p as the car's SupportedAppProtocolReq; a whole
// document with at least one protocol, so no other document passes for one.
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

// chosen returns the protocol of the car's offer that a recorded answer
// picked by its SchemaID; ProtocolNone when it picked nothing we speak.
func chosen(req *apphand.SupportedAppProtocolReq, res *apphand.SupportedAppProtocolRes) secc.Protocol {
	if res.SchemaID == nil {
		return secc.ProtocolNone
	}
	for _, ap := range req.AppProtocol {
		if ap.SchemaID == *res.SchemaID {
			one := &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{ap}}
			o, _ := secc.Negotiate(one, []secc.Protocol{secc.ProtocolDIN, secc.ProtocolISO2, secc.ProtocolISO20})
			return o.Protocol
		}
	}
	return secc.ProtocolNone
}

// offersISO20 reports whether the car offers an ISO 15118-20 namespace.
func offersISO20(req *apphand.SupportedAppProtocolReq) bool {
	for _, ap := range req.AppProtocol {
		if message.ProtocolOf(ap.ProtocolNamespace).ISO20() {
			return true
		}
	}
	return false
}

// offers lists the car's protocols in words, e.g. "urn:din:70121:2012:MsgDef 2.0".
func offers(req *apphand.SupportedAppProtocolReq) []string {
	var s []string
	for _, ap := range req.AppProtocol {
		s = append(s, fmt.Sprintf("%s %d.%d", ap.ProtocolNamespace, ap.VersionNumberMajor, ap.VersionNumberMinor))
	}
	return s
}
