package message

// Protocol is the V2G protocol a namespace of SupportedAppProtocolReq
// stands for: the schema set whose messages follow the handshake.
type Protocol uint8

// The protocols of the namespaces cars offer.
const (
	ProtocolUnknown   Protocol = iota // a namespace of no schema set here
	ProtocolDIN                       // DIN SPEC 70121 (Tesla's namespace too)
	ProtocolISO2                      // ISO 15118-2:2013
	ProtocolISO20                     // ISO 15118-20 common messages
	ProtocolISO20AC                   // ISO 15118-20 AC
	ProtocolISO20DC                   // ISO 15118-20 DC
	ProtocolISO20ACDP                 // ISO 15118-20 ACDP
	ProtocolISO20WPT                  // ISO 15118-20 WPT
)

// The namespaces of SupportedAppProtocolReq.
const (
	NamespaceDIN       = "urn:din:70121:2012:MsgDef"
	NamespaceTesla     = "urn:tesla:din:2018:MsgDef" // Tesla's own, offered beside DIN; it speaks DIN
	NamespaceISO2      = "urn:iso:15118:2:2013:MsgDef"
	NamespaceISO20     = "urn:iso:std:iso:15118:-20:CommonMessages"
	NamespaceISO20AC   = "urn:iso:std:iso:15118:-20:AC"
	NamespaceISO20DC   = "urn:iso:std:iso:15118:-20:DC"
	NamespaceISO20ACDP = "urn:iso:std:iso:15118:-20:ACDP"
	NamespaceISO20WPT  = "urn:iso:std:iso:15118:-20:WPT"
)

// namespaces is the one table of namespace -> protocol.
var namespaces = [...]struct {
	ns string
	p  Protocol
}{
	{NamespaceDIN, ProtocolDIN},
	{NamespaceTesla, ProtocolDIN},
	{NamespaceISO2, ProtocolISO2},
	{NamespaceISO20, ProtocolISO20},
	{NamespaceISO20AC, ProtocolISO20AC},
	{NamespaceISO20DC, ProtocolISO20DC},
	{NamespaceISO20ACDP, ProtocolISO20ACDP},
	{NamespaceISO20WPT, ProtocolISO20WPT},
}

// ProtocolOf returns the protocol of a namespace a car offers, whatever
// version it gives; ProtocolUnknown for any other namespace (the draft
// urn:iso:15118:2:2010:MsgDef among them, whose schema is not ISO-2's).
func ProtocolOf(namespace string) Protocol {
	for _, n := range namespaces {
		if n.ns == namespace {
			return n.p
		}
	}
	return ProtocolUnknown
}

var protocolNames = [...]string{"unknown", "DIN 70121", "ISO 15118-2", "ISO 15118-20 CommonMessages",
	"ISO 15118-20 AC", "ISO 15118-20 DC", "ISO 15118-20 ACDP", "ISO 15118-20 WPT"}

// String names the protocol as a reader knows it, e.g. "DIN 70121" or
// "ISO 15118-20 DC".
func (p Protocol) String() string {
	if int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return "unknown"
}

// ISO20 reports whether p is one of ISO 15118-20's namespaces.
func (p Protocol) ISO20() bool { return p >= ProtocolISO20 && p <= ProtocolISO20WPT }
