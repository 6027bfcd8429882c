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
	// decode decodes a request of the car; ok is false when p is not a V2G_Message.
	decode(p []byte) (kind message.Kind, ok bool)
	// reencode appends the last decoded request to dst with SessionID id.
	reencode(dst, id []byte) ([]byte, error)
	// evccid returns the EVCCID of the last request if it is a SessionSetupReq.
	evccid() ([]byte, bool)
	// cpd returns the car's values of the last request if it is a ChargeParameterDiscoveryReq.
	cpd() (record.Values, bool)
	// answer decodes our framed answer p: the SessionID a SessionSetupRes
	// gives (nil for other answers) and EVSEProcessing where the answer has one.
	answer(p []byte) (setupID []byte, processing string)
}

func newCodec(p secc.Protocol) codec {
	switch p {
	case secc.ProtocolDIN:
		return &codecOf[din.Document]{unmarshal: din.Unmarshal, append: din.Append, read: dinFacts,
			setID: func(d *din.Document, id []byte) { d.V2G_Message.Header.SessionID = id }}
	case secc.ProtocolISO2:
		return &codecOf[iso2.Document]{unmarshal: iso2.Unmarshal, append: iso2.Append, read: iso2Facts,
			setID: func(d *iso2.Document, id []byte) { d.V2G_Message.Header.SessionID = id }}
	}
	return nil
}

// facts are what replay reads of one V2G message, whatever its protocol.
type facts struct {
	kind      message.Kind
	sessionID []byte // the header's
	setup     bool   // a SessionSetupReq, with evccid
	evccid    []byte
	cpd       *record.Values // a ChargeParameterDiscoveryReq's values
	// processing is an answer's EVSEProcessing, where it has one.
	processing string
}

// codecOf is the codec of one protocol's Document type D; read takes the
// facts out of a decoded document (ok false when it holds no V2G_Message),
// setID sets its SessionID.
type codecOf[D any] struct {
	unmarshal func([]byte, *D) (int, error)
	append    func([]byte, *D) ([]byte, error)
	read      func(*D) (facts, bool)
	setID     func(*D, []byte)
	req, res  D
	last      facts
	ok        bool
}

func (c *codecOf[D]) decode(p []byte) (message.Kind, bool) {
	var zero D
	c.req, c.last, c.ok = zero, facts{}, false
	if _, err := c.unmarshal(p, &c.req); err != nil {
		return message.None, false
	}
	c.last, c.ok = c.read(&c.req)
	return c.last.kind, c.ok
}

func (c *codecOf[D]) reencode(dst, id []byte) ([]byte, error) {
	c.setID(&c.req, id)
	return c.append(dst, &c.req)
}

func (c *codecOf[D]) evccid() ([]byte, bool) { return c.last.evccid, c.ok && c.last.setup }

func (c *codecOf[D]) cpd() (record.Values, bool) {
	if !c.ok || c.last.cpd == nil {
		return record.Values{}, false
	}
	return *c.last.cpd, true
}

func (c *codecOf[D]) answer(p []byte) ([]byte, string) {
	var zero D
	c.res = zero
	_, body, _, err := v2gtp.Split(p)
	if err != nil {
		return nil, ""
	}
	if _, err := c.unmarshal(body, &c.res); err != nil {
		return nil, ""
	}
	f, ok := c.read(&c.res)
	if !ok {
		return nil, ""
	}
	if f.kind == message.SessionSetupRes {
		return f.sessionID, ""
	}
	return nil, f.processing
}

func dinFacts(d *din.Document) (facts, bool) {
	m := d.V2G_Message
	if m == nil {
		return facts{}, false
	}
	b := &m.Body
	f := facts{kind: b.Kind().Message(), sessionID: m.Header.SessionID}
	switch {
	case b.SessionSetupReq != nil:
		f.setup, f.evccid = true, b.SessionSetupReq.EVCCID
	case b.ChargeParameterDiscoveryReq != nil:
		f.cpd = ptr(secc.DINValues(b.ChargeParameterDiscoveryReq))
	case b.ChargeParameterDiscoveryRes != nil:
		f.processing = b.ChargeParameterDiscoveryRes.EVSEProcessing.String()
	case b.CableCheckRes != nil:
		f.processing = b.CableCheckRes.EVSEProcessing.String()
	case b.ContractAuthenticationRes != nil:
		f.processing = b.ContractAuthenticationRes.EVSEProcessing.String()
	}
	return f, true
}

func iso2Facts(d *iso2.Document) (facts, bool) {
	m := d.V2G_Message
	if m == nil {
		return facts{}, false
	}
	b := &m.Body
	f := facts{kind: b.Kind().Message(), sessionID: m.Header.SessionID}
	switch {
	case b.SessionSetupReq != nil:
		f.setup, f.evccid = true, b.SessionSetupReq.EVCCID
	case b.ChargeParameterDiscoveryReq != nil:
		f.cpd = ptr(secc.ISO2Values(b.ChargeParameterDiscoveryReq))
	case b.ChargeParameterDiscoveryRes != nil:
		f.processing = b.ChargeParameterDiscoveryRes.EVSEProcessing.String()
	case b.CableCheckRes != nil:
		f.processing = b.CableCheckRes.EVSEProcessing.String()
	case b.AuthorizationRes != nil:
		f.processing = b.AuthorizationRes.EVSEProcessing.String()
	}
	return f, true
}

func ptr[T any](v T) *T { return &v }

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
			o, _ := secc.Negotiate(one, []secc.Protocol{secc.ProtocolDIN, secc.ProtocolISO2})
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
