package v2gtp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the only protocol version ISO 15118-2 and DIN SPEC 70121 define.
const Version = 0x01

// HeaderLen is the length of a V2GTP header in bytes.
const HeaderLen = 8

// PayloadType says what a V2GTP payload holds (ISO 15118-20 Table 14).
type PayloadType uint16

// Payload types. 0x8001 carries SupportedAppProtocol, DIN SPEC 70121 and
// ISO 15118-2 documents; ISO 15118-20 gives each of its schemas its own type.
const (
	TypeEXI                 PayloadType = 0x8001 // EXI document: SAP, DIN, ISO 15118-2
	TypeISO20CommonMessages PayloadType = 0x8002 // ISO 15118-20 CommonMessages
	TypeISO20AC             PayloadType = 0x8003 // ISO 15118-20 AC
	TypeISO20DC             PayloadType = 0x8004 // ISO 15118-20 DC
	TypeISO20ACDP           PayloadType = 0x8005 // ISO 15118-20 ACDP (pantograph)
	TypeISO20WPT            PayloadType = 0x8006 // ISO 15118-20 WPT (wireless)
	TypeSDPRequest          PayloadType = 0x9000 // SECC Discovery Protocol request
	TypeSDPResponse         PayloadType = 0x9001 // SECC Discovery Protocol response
)

// String names the payload type, or gives its hex value when unknown.
func (t PayloadType) String() string {
	switch t {
	case TypeEXI:
		return "EXI"
	case TypeISO20CommonMessages:
		return "ISO20CommonMessages"
	case TypeISO20AC:
		return "ISO20AC"
	case TypeISO20DC:
		return "ISO20DC"
	case TypeISO20ACDP:
		return "ISO20ACDP"
	case TypeISO20WPT:
		return "ISO20WPT"
	case TypeSDPRequest:
		return "SDPRequest"
	case TypeSDPResponse:
		return "SDPResponse"
	}
	return fmt.Sprintf("PayloadType(0x%04x)", uint16(t))
}

// Known reports whether t is one of the payload types this package names.
func (t PayloadType) Known() bool {
	return (t >= TypeEXI && t <= TypeISO20WPT) || t == TypeSDPRequest || t == TypeSDPResponse
}

// Header is a decoded V2GTP header; the version bytes are implied.
type Header struct {
	Type   PayloadType
	Length uint32 // payload length in bytes, header excluded
}

// Errors returned by the parsers; they are wrapped with details, so test
// for them with errors.Is.
var (
	ErrShortHeader = errors.New("v2gtp: header shorter than 8 bytes")
	ErrVersion     = errors.New("v2gtp: version bytes are not 01 fe")
	ErrTruncated   = errors.New("v2gtp: payload shorter than the header's length")
	ErrTooLong     = errors.New("v2gtp: payload length above the limit")
)

// ParseHeader decodes the header at the start of b. It checks the version
// bytes but not the payload type: what to do with an unknown type is the
// caller's decision (ISO 15118-2 answers with a negative acknowledgement).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("%w: got %d", ErrShortHeader, len(b))
	}
	if b[0] != Version || b[1] != ^byte(Version) {
		if b[0] == 0x16 && b[1] == 0x03 {
			return Header{}, fmt.Errorf("%w: got %02x %02x, a TLS record (the peer expects TLS)", ErrVersion, b[0], b[1])
		}
		return Header{}, fmt.Errorf("%w: got %02x %02x", ErrVersion, b[0], b[1])
	}
	return Header{
		Type:   PayloadType(binary.BigEndian.Uint16(b[2:4])),
		Length: binary.BigEndian.Uint32(b[4:8]),
	}, nil
}

// AppendHeader appends the 8 header bytes of h to dst.
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, Version, ^byte(Version))
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.Type))
	return binary.BigEndian.AppendUint32(dst, h.Length)
}

// AppendMessage appends a header for payload, then payload, to dst. A
// payload of 4 GiB or more cannot be framed and panics.
func AppendMessage(dst []byte, t PayloadType, payload []byte) []byte {
	if uint64(len(payload)) > 0xFFFFFFFF {
		panic("v2gtp: payload longer than 4 GiB")
	}
	dst = AppendHeader(dst, Header{Type: t, Length: uint32(len(payload))})
	return append(dst, payload...)
}

// Split cuts the first message off b and returns its header, its payload
// (a sub-slice of b) and the bytes after it. It fails with ErrShortHeader
// or ErrTruncated when b ends inside the message, and with ErrVersion when
// b does not start with a header.
func Split(b []byte) (h Header, payload, rest []byte, err error) {
	h, err = ParseHeader(b)
	if err != nil {
		return Header{}, nil, b, err
	}
	if uint64(h.Length) > uint64(len(b)-HeaderLen) {
		return Header{}, nil, b, fmt.Errorf("%w: %d of %d bytes", ErrTruncated, len(b)-HeaderLen, h.Length)
	}
	end := HeaderLen + int(h.Length)
	return h, b[HeaderLen:end:end], b[end:], nil
}
