package sdp

import (
	"errors"

	"github.com/ccslink/ccslink/proto/v2gtp"
)

// Port is the UDP port of SDP.
const Port = 15118

// Datagram lengths: a V2GTP header and the payload, nothing else.
const (
	requestLen  = v2gtp.HeaderLen + v2gtp.SDPRequestLen
	responseLen = v2gtp.HeaderLen + v2gtp.SDPResponseLen
)

// Errors of this package; they are wrapped with details, so test for them
// with errors.Is.
var (
	ErrConfig      = errors.New("sdp: invalid configuration")
	ErrNoInterface = errors.New("sdp: no such network interface")
	ErrNoLinkLocal = errors.New("sdp: no IPv6 link-local address on the interface")
	ErrPermission  = errors.New("sdp: not permitted to open the SDP socket")
	ErrInUse       = errors.New("sdp: UDP port already in use on the interface")
	ErrSocket      = errors.New("sdp: cannot open the SDP socket")
	ErrIO          = errors.New("sdp: the SDP socket failed")
	ErrNoAnswer    = errors.New("sdp: no charger answered")
)

// Reasons a datagram is ignored, as logged; constant so that a flood of
// garbage costs no allocation.
const (
	badHeader    = "not a V2GTP header"
	badType      = "wrong payload type"
	badLength    = "wrong length"
	badSecurity  = "unknown security"
	badTransport = "unknown transport"
	badAddress   = "unusable address"
)

// parseRequest decodes one SDP request datagram, or says why it is not
// one: exactly a V2GTP header of type SDPRequest with length 2 and the two
// payload bytes, each of a value ISO 15118-2 defines.
func parseRequest(b []byte) (v2gtp.SDPRequest, string) {
	switch {
	case len(b) < v2gtp.HeaderLen:
		return v2gtp.SDPRequest{}, badLength
	case b[0] != v2gtp.Version || b[1] != ^byte(v2gtp.Version):
		return v2gtp.SDPRequest{}, badHeader // checked here: ParseHeader's error allocates
	}
	h, _ := v2gtp.ParseHeader(b)
	switch {
	case h.Type != v2gtp.TypeSDPRequest:
		return v2gtp.SDPRequest{}, badType
	case h.Length != v2gtp.SDPRequestLen || len(b) != requestLen:
		return v2gtp.SDPRequest{}, badLength
	}
	q, _ := v2gtp.ParseSDPRequest(b[v2gtp.HeaderLen:])
	if q.Security != v2gtp.SecurityTLS && q.Security != v2gtp.SecurityNone {
		return v2gtp.SDPRequest{}, badSecurity
	}
	if q.Transport != v2gtp.TransportTCP && q.Transport != v2gtp.TransportUDP {
		return v2gtp.SDPRequest{}, badTransport
	}
	return q, ""
}

// parseResponse decodes one SDP response datagram, or says why it is not
// one a car could use: besides the framing, the address must be a unicast
// IPv6 address and the port non-zero.
func parseResponse(b []byte) (v2gtp.SDPResponse, string) {
	switch {
	case len(b) < v2gtp.HeaderLen:
		return v2gtp.SDPResponse{}, badLength
	case b[0] != v2gtp.Version || b[1] != ^byte(v2gtp.Version):
		return v2gtp.SDPResponse{}, badHeader // checked here: ParseHeader's error allocates
	}
	h, _ := v2gtp.ParseHeader(b)
	switch {
	case h.Type != v2gtp.TypeSDPResponse:
		return v2gtp.SDPResponse{}, badType
	case h.Length != v2gtp.SDPResponseLen || len(b) != responseLen:
		return v2gtp.SDPResponse{}, badLength
	}
	s, _ := v2gtp.ParseSDPResponse(b[v2gtp.HeaderLen:])
	switch {
	case s.Security != v2gtp.SecurityTLS && s.Security != v2gtp.SecurityNone:
		return v2gtp.SDPResponse{}, badSecurity
	case s.Transport != v2gtp.TransportTCP && s.Transport != v2gtp.TransportUDP:
		return v2gtp.SDPResponse{}, badTransport
	case s.Port == 0 || s.IP.IsUnspecified() || s.IP.IsMulticast() || s.IP.Is4In6():
		return v2gtp.SDPResponse{}, badAddress
	}
	return s, ""
}
