package replay

import (
	"fmt"

	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/secc"
	"github.com/ccslink/ccslink/v2g/apphand"
	"github.com/ccslink/ccslink/v2g/din"
	"github.com/ccslink/ccslink/v2g/iso2"
	"github.com/ccslink/ccslink/v2g/message"
	"github.com/ccslink/ccslink/v2gtp"
)

// codec reads the car's requests of one protocol and rewrites their
// SessionID; it keeps the last decoded request.
type codec interface {
	// decode decodes a request of the car; ok is false when p is not a V2G_Message.
	decode(p []byte) (name string, ok bool)
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
		return &dinCodec{}
	case secc.ProtocolISO2:
		return &iso2Codec{}
	}
	return nil
}

type dinCodec struct{ req, res din.Document }

func (c *dinCodec) decode(p []byte) (string, bool) {
	c.req = din.Document{}
	if _, err := din.Unmarshal(p, &c.req); err != nil || c.req.V2G_Message == nil {
		c.req.V2G_Message = nil
		return "", false
	}
	return c.req.V2G_Message.Body.Kind().String(), true
}

func (c *dinCodec) reencode(dst, id []byte) ([]byte, error) {
	c.req.V2G_Message.Header.SessionID = id
	return din.Append(dst, &c.req)
}

func (c *dinCodec) evccid() ([]byte, bool) {
	if m := c.req.V2G_Message; m != nil && m.Body.SessionSetupReq != nil {
		return m.Body.SessionSetupReq.EVCCID, true
	}
	return nil, false
}

func (c *dinCodec) cpd() (record.Values, bool) {
	if m := c.req.V2G_Message; m != nil && m.Body.ChargeParameterDiscoveryReq != nil {
		return secc.DINValues(m.Body.ChargeParameterDiscoveryReq), true
	}
	return record.Values{}, false
}

func (c *dinCodec) answer(p []byte) ([]byte, string) {
	c.res = din.Document{}
	_, body, _, err := v2gtp.Split(p)
	if err != nil {
		return nil, ""
	}
	if _, err := din.Unmarshal(body, &c.res); err != nil || c.res.V2G_Message == nil {
		return nil, ""
	}
	m := c.res.V2G_Message
	b := &m.Body
	switch {
	case b.SessionSetupRes != nil:
		return m.Header.SessionID, ""
	case b.ChargeParameterDiscoveryRes != nil:
		return nil, b.ChargeParameterDiscoveryRes.EVSEProcessing.String()
	case b.CableCheckRes != nil:
		return nil, b.CableCheckRes.EVSEProcessing.String()
	case b.ContractAuthenticationRes != nil:
		return nil, b.ContractAuthenticationRes.EVSEProcessing.String()
	}
	return nil, ""
}

type iso2Codec struct{ req, res iso2.Document }

func (c *iso2Codec) decode(p []byte) (string, bool) {
	c.req = iso2.Document{}
	if _, err := iso2.Unmarshal(p, &c.req); err != nil || c.req.V2G_Message == nil {
		c.req.V2G_Message = nil
		return "", false
	}
	return c.req.V2G_Message.Body.Kind().String(), true
}

func (c *iso2Codec) reencode(dst, id []byte) ([]byte, error) {
	c.req.V2G_Message.Header.SessionID = id
	return iso2.Append(dst, &c.req)
}

func (c *iso2Codec) evccid() ([]byte, bool) {
	if m := c.req.V2G_Message; m != nil && m.Body.SessionSetupReq != nil {
		return m.Body.SessionSetupReq.EVCCID, true
	}
	return nil, false
}

func (c *iso2Codec) cpd() (record.Values, bool) {
	if m := c.req.V2G_Message; m != nil && m.Body.ChargeParameterDiscoveryReq != nil {
		return secc.ISO2Values(m.Body.ChargeParameterDiscoveryReq), true
	}
	return record.Values{}, false
}

func (c *iso2Codec) answer(p []byte) ([]byte, string) {
	c.res = iso2.Document{}
	_, body, _, err := v2gtp.Split(p)
	if err != nil {
		return nil, ""
	}
	if _, err := iso2.Unmarshal(body, &c.res); err != nil || c.res.V2G_Message == nil {
		return nil, ""
	}
	m := c.res.V2G_Message
	b := &m.Body
	switch {
	case b.SessionSetupRes != nil:
		return m.Header.SessionID, ""
	case b.ChargeParameterDiscoveryRes != nil:
		return nil, b.ChargeParameterDiscoveryRes.EVSEProcessing.String()
	case b.CableCheckRes != nil:
		return nil, b.CableCheckRes.EVSEProcessing.String()
	case b.AuthorizationRes != nil:
		return nil, b.AuthorizationRes.EVSEProcessing.String()
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
