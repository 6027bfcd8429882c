package secc

import (
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

// Namespaces of SupportedAppProtocolReq.
const (
	NamespaceDIN   = message.NamespaceDIN
	NamespaceISO2  = message.NamespaceISO2
	NamespaceTesla = message.NamespaceTesla // Tesla's own, offered beside DIN; it speaks DIN
	// NamespaceISO20AC and NamespaceISO20DC are what a car offers for ISO
	// 15118-20 AC and DC; the CommonMessages namespace
	// (message.NamespaceISO20) is no protocol of its own.
	NamespaceISO20AC = message.NamespaceISO20AC
	NamespaceISO20DC = message.NamespaceISO20DC
)

// Offer is the protocol the charger picked from a car's offer.
type Offer struct {
	Protocol  Protocol
	Namespace string
	SchemaID  uint8
	Minor     bool // the car's minor version differs: OK_SuccessfulNegotiationWithMinorDeviation
}

// protocolOf returns the protocol of an offer the charger speaks: version
// 2 of DIN's or ISO-2's namespace, version 1 of ISO-20 AC's or DC's, or Tesla's
// namespace whatever its version (0.7 in real cars).
func protocolOf(ns string, major uint32) Protocol {
	switch message.ProtocolOf(ns) {
	case message.ProtocolDIN:
		if major == 2 || ns == NamespaceTesla {
			return ProtocolDIN
		}
	case message.ProtocolISO2:
		if major == 2 {
			return ProtocolISO2
		}
	case message.ProtocolISO20AC, message.ProtocolISO20DC:
		if major == 1 {
			return ProtocolISO20
		}
	}
	return ProtocolNone
}

// Negotiate picks the protocol of a SupportedAppProtocolReq: the first of
// pref the car offers (among the car's entries for it, its highest priority,
// i.e. lowest Priority value). ok is false when nothing fits. DIN's own
// namespace wins over Tesla's whatever their priorities, as every charger
// in the captures answers a Tesla: Tesla's namespace (version 0.7 in real
// cars) is taken as DIN only when a car offers nothing else.
func Negotiate(req *apphand.SupportedAppProtocolReq, pref []Protocol) (o Offer, ok bool) {
	if pref == nil {
		pref = Config{}.withDefaults().Preference
	}
	for _, want := range pref {
		best := -1
		for i, ap := range req.AppProtocol {
			if !fits(ap, want) {
				continue
			}
			if best < 0 || rank(ap) < rank(req.AppProtocol[best]) {
				best = i
			}
		}
		if best >= 0 {
			ap := req.AppProtocol[best]
			minor := ap.VersionNumberMinor != 0 && ap.ProtocolNamespace != NamespaceTesla
			return Offer{Protocol: protocolOf(ap.ProtocolNamespace, ap.VersionNumberMajor), Namespace: ap.ProtocolNamespace, SchemaID: ap.SchemaID, Minor: minor}, true
		}
	}
	return Offer{}, false
}

// fits says whether a car's entry is what a preference entry asks for.
func fits(ap apphand.AppProtocolType, want Protocol) bool {
	p := protocolOf(ap.ProtocolNamespace, ap.VersionNumberMajor)
	switch want {
	case ProtocolISO20AC:
		return p == ProtocolISO20 && message.ProtocolOf(ap.ProtocolNamespace) == message.ProtocolISO20AC
	case ProtocolISO20DC:
		return p == ProtocolISO20 && message.ProtocolOf(ap.ProtocolNamespace) == message.ProtocolISO20DC
	}
	return p == want
}

// rank orders a car's entries for one protocol: Tesla's namespace last, then by Priority.
func rank(ap apphand.AppProtocolType) int {
	r := int(ap.Priority)
	if ap.ProtocolNamespace == NamespaceTesla {
		r += 1 << 8
	}
	return r
}

// answerAppHand builds the SupportedAppProtocolRes for an offer.
func answerAppHand(o Offer, ok bool) *apphand.Document {
	res := &apphand.SupportedAppProtocolRes{ResponseCode: apphand.ResponseCodeFailed_NoNegotiation}
	if ok {
		id := o.SchemaID
		res.SchemaID = &id
		res.ResponseCode = apphand.ResponseCodeOK_SuccessfulNegotiation
		if o.Minor {
			res.ResponseCode = apphand.ResponseCodeOK_SuccessfulNegotiationWithMinorDeviation
		}
	}
	return &apphand.Document{SupportedAppProtocolRes: res}
}
