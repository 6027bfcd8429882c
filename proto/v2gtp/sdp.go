package v2gtp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrSDPLength reports an SDP payload of the wrong length; ISO 15118-2
// ignores such datagrams.
var ErrSDPLength = errors.New("v2gtp: SDP payload of the wrong length")

// SDP security and transport bytes of the SECC Discovery Protocol.
const (
	SecurityTLS  byte = 0x00 // secured with TLS
	SecurityNone byte = 0x10 // no transport layer security
	TransportTCP byte = 0x00 // V2G messages over TCP
	TransportUDP byte = 0x10 // reserved for UDP
)

// SDP payload lengths; ISO 15118-2 ignores requests of any other length.
const (
	SDPRequestLen  = 2
	SDPResponseLen = 20
)

// SDPRequest is the payload the car multicasts to find a charger.
type SDPRequest struct {
	Security  byte // SecurityTLS or SecurityNone
	Transport byte // TransportTCP or TransportUDP
}

// ParseSDPRequest decodes an SDP request payload of exactly 2 bytes.
func ParseSDPRequest(p []byte) (SDPRequest, error) {
	if len(p) != SDPRequestLen {
		return SDPRequest{}, fmt.Errorf("%w: request of %d bytes, want %d", ErrSDPLength, len(p), SDPRequestLen)
	}
	return SDPRequest{Security: p[0], Transport: p[1]}, nil
}

// Append appends the 2 payload bytes of q to dst, without a V2GTP header.
func (q SDPRequest) Append(dst []byte) []byte {
	return append(dst, q.Security, q.Transport)
}

// SDPResponse is the payload the charger answers with: where to connect.
type SDPResponse struct {
	IP        netip.Addr // the charger's IPv6 address, usually link-local
	Port      uint16     // the charger's TCP port
	Security  byte       // SecurityTLS or SecurityNone
	Transport byte       // TransportTCP or TransportUDP
}

// ParseSDPResponse decodes an SDP response payload of exactly 20 bytes.
func ParseSDPResponse(p []byte) (SDPResponse, error) {
	if len(p) != SDPResponseLen {
		return SDPResponse{}, fmt.Errorf("%w: response of %d bytes, want %d", ErrSDPLength, len(p), SDPResponseLen)
	}
	return SDPResponse{
		IP:        netip.AddrFrom16([16]byte(p[:16])),
		Port:      binary.BigEndian.Uint16(p[16:18]),
		Security:  p[18],
		Transport: p[19],
	}, nil
}

// Append appends the 20 payload bytes of s to dst, without a V2GTP header.
// The address is written in its 16-byte form: an IPv4 address becomes
// IPv4-mapped, an invalid one ::, and a zone is dropped.
func (s SDPResponse) Append(dst []byte) []byte {
	ip := s.IP.As16()
	dst = append(dst, ip[:]...)
	dst = binary.BigEndian.AppendUint16(dst, s.Port)
	return append(dst, s.Security, s.Transport)
}
