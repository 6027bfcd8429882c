package homeplug

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
)

// EtherType is the Ethernet type of HomePlug AV and Green PHY management messages.
const EtherType = 0x88E1

// MinFrameLen is the Ethernet minimum frame length without the FCS; AppendFrame pads to it.
const MinFrameLen = 60

// MaxFrameLen is the largest Ethernet frame (without FCS and VLAN tag) Decode accepts.
const MaxFrameLen = 1514

// Management message versions (MMV).
const (
	MMV10 uint8 = 0x00 // HomePlug 1.0.1 format: no fragmentation fields; Qualcomm vendor messages use it
	MMV11 uint8 = 0x01 // HomePlug AV 1.1: the SLAC messages use it
	MMV20 uint8 = 0x02 // HomePlug AV 2.0
)

const (
	ethHeaderLen = 14
	offMMV       = 14
)

// ErrNotHomePlug is returned (wrapped) by Decode for a frame of another ethertype.
var ErrNotHomePlug = errors.New("homeplug: not a HomePlug frame")

// ErrTruncated is returned (wrapped) when a frame or payload is shorter than its layout.
var ErrTruncated = errors.New("homeplug: truncated")

// MAC is an Ethernet address as a comparable value, usable as a map key.
type MAC [6]byte

// BroadcastMAC is the Ethernet broadcast address.
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// LocalModemMAC addresses any local Qualcomm modem on the host's Ethernet/SPI link.
var LocalModemMAC = MAC{0x00, 0xb0, 0x52, 0x00, 0x00, 0x01}

// MACFrom converts a 6-byte net.HardwareAddr to a MAC.
func MACFrom(a net.HardwareAddr) (MAC, error) {
	var m MAC
	if len(a) != len(m) {
		return m, fmt.Errorf("homeplug: hardware address %v is %d bytes, want 6", a, len(a))
	}
	copy(m[:], a)
	return m, nil
}

// HardwareAddr returns m as a newly allocated net.HardwareAddr.
func (m MAC) HardwareAddr() net.HardwareAddr { return net.HardwareAddr(append([]byte(nil), m[:]...)) }

// String formats m as colon-separated lower-case hex, like net.HardwareAddr.
func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// IsGroup reports whether m is a broadcast or multicast address.
func (m MAC) IsGroup() bool { return m[0]&1 == 1 }

// OUI is an IEEE organisationally unique identifier, the first field of a vendor-specific MME.
type OUI [3]byte

// QualcommOUI identifies Qualcomm Atheros vendor messages (00:B0:52).
var QualcommOUI = OUI{0x00, 0xb0, 0x52}

// String formats o as colon-separated hex.
func (o OUI) String() string { return net.HardwareAddr(o[:]).String() }

// RunID identifies one SLAC matching run; the EV chooses it and every answer echoes it.
type RunID [8]byte

// String formats r as hex.
func (r RunID) String() string { return hex.EncodeToString(r[:]) }

// Header is the Ethernet and MME header of a HomePlug frame.
type Header struct {
	Dst, Src MAC
	// MMV is the management message version; see MMV10, MMV11 and NewHeader.
	MMV uint8
	// MMType is the decoded message type; AppendFrame takes it from the Message instead.
	MMType MMType
	// FMI holds the fragment count and fragment number nibbles (MMV 1.1 and later); zero when unfragmented.
	FMI uint8
	// FMSN is the fragmentation message sequence number (MMV 1.1 and later).
	FMSN uint8
	// OUI is the vendor of a vendor-specific message (MMTYPE 0xA000-0xBFFF); unused otherwise.
	OUI OUI
}

// NewHeader returns the header a host uses to send a message of type t:
// MMV 1.1 for standard messages, MMV 1.0 and the Qualcomm OUI for vendor messages.
func NewHeader(dst, src MAC, t MMType) Header {
	h := Header{Dst: dst, Src: src, MMV: MMV11, MMType: t}
	if t.IsVendor() {
		h.MMV = MMV10
		h.OUI = QualcommOUI
	}
	return h
}

// Len returns the encoded length of h: Ethernet header, MME header and, for vendor messages, the OUI.
func (h Header) Len() int {
	n := ethHeaderLen + 3
	if h.MMV != MMV10 {
		n += 2
	}
	if h.MMType.IsVendor() {
		n += 3
	}
	return n
}

// DecodeHeader decodes the header of a HomePlug frame and returns the payload after it.
// The payload includes any Ethernet padding.
func DecodeHeader(frame []byte) (Header, []byte, error) {
	var h Header
	if len(frame) < ethHeaderLen {
		return h, nil, fmt.Errorf("homeplug: frame too short for Ethernet header: %d bytes: %w", len(frame), ErrTruncated)
	}
	if len(frame) > MaxFrameLen {
		return h, nil, fmt.Errorf("homeplug: frame too long: %d bytes, max %d", len(frame), MaxFrameLen)
	}
	if et := binary.BigEndian.Uint16(frame[12:14]); et != EtherType {
		return h, nil, fmt.Errorf("%w: ethertype 0x%04x", ErrNotHomePlug, et)
	}
	copy(h.Dst[:], frame[0:6])
	copy(h.Src[:], frame[6:12])
	if len(frame) < offMMV+3 {
		return h, nil, fmt.Errorf("homeplug: frame too short for MME header: %d bytes: %w", len(frame), ErrTruncated)
	}
	h.MMV = frame[offMMV]
	if h.MMV > MMV20 {
		return h, nil, fmt.Errorf("homeplug: unsupported MMV 0x%02x", h.MMV)
	}
	h.MMType = MMType(binary.LittleEndian.Uint16(frame[offMMV+1:]))
	n := h.Len()
	if len(frame) < n {
		return h, nil, fmt.Errorf("homeplug: frame too short for %v header: %d bytes, need %d: %w", h.MMType, len(frame), n, ErrTruncated)
	}
	if h.MMV != MMV10 {
		h.FMI = frame[offMMV+3]
		h.FMSN = frame[offMMV+4]
	}
	if h.MMType.IsVendor() {
		copy(h.OUI[:], frame[n-3:n])
	}
	return h, frame[n:], nil
}

// AppendHeader appends the encoded h to b; AppendFrame uses it.
func AppendHeader(b []byte, h Header) ([]byte, error) {
	if h.MMV > MMV20 {
		return b, fmt.Errorf("homeplug: unsupported MMV 0x%02x", h.MMV)
	}
	b = append(b, h.Dst[:]...)
	b = append(b, h.Src[:]...)
	b = binary.BigEndian.AppendUint16(b, EtherType)
	b = append(b, h.MMV)
	b = binary.LittleEndian.AppendUint16(b, uint16(h.MMType))
	if h.MMV != MMV10 {
		b = append(b, h.FMI, h.FMSN)
	}
	if h.MMType.IsVendor() {
		b = append(b, h.OUI[:]...)
	}
	return b, nil
}

// Message is one HomePlug management message payload.
// The pointer types in this package (*SlacParmReq, ..., *RawMessage) implement it.
type Message interface {
	// MMType returns the message type, including the REQ/CNF/IND/RSP bits.
	MMType() MMType
	// AppendPayload appends the encoded payload (after the header and OUI) to b.
	AppendPayload(b []byte) ([]byte, error)
	// DecodePayload decodes p, which may carry trailing padding; slices alias p.
	DecodePayload(p []byte) error
}

// qualcommMessage marks the Qualcomm vendor messages, whose OUI is fixed.
type qualcommMessage interface{ qualcomm() }

// Frame is one decoded HomePlug frame.
type Frame struct {
	Header
	Message Message
}

// Decode decodes a HomePlug Ethernet frame. Messages this package does not
// model, vendor messages of other vendors and fragments decode to *RawMessage.
// Byte slices in the result alias frame.
func Decode(frame []byte) (Frame, error) {
	h, p, err := DecodeHeader(frame)
	if err != nil {
		return Frame{Header: h}, err
	}
	m := newMessage(h)
	if err := m.DecodePayload(p); err != nil {
		return Frame{Header: h}, err
	}
	return Frame{Header: h, Message: m}, nil
}

// newMessage returns an empty message of the type h announces.
func newMessage(h Header) Message {
	if h.FMI != 0 {
		// A fragment carries only part of a payload; we do not reassemble.
		return &RawMessage{Type: h.MMType}
	}
	if h.MMType.IsVendor() && h.OUI != QualcommOUI {
		return &RawMessage{Type: h.MMType}
	}
	switch h.MMType {
	case CMSetKeyReq:
		return new(SetKeyReq)
	case CMSetKeyCnf:
		return new(SetKeyCnf)
	case CMSlacParmReq:
		return new(SlacParmReq)
	case CMSlacParmCnf:
		return new(SlacParmCnf)
	case CMStartAttenCharInd:
		return new(StartAttenCharInd)
	case CMMnbcSoundInd:
		return new(MnbcSoundInd)
	case CMAttenProfileInd:
		return new(AttenProfileInd)
	case CMAttenCharInd:
		return new(AttenCharInd)
	case CMAttenCharRsp:
		return new(AttenCharRsp)
	case CMValidateReq:
		return new(ValidateReq)
	case CMValidateCnf:
		return new(ValidateCnf)
	case CMSlacMatchReq:
		return new(SlacMatchReq)
	case CMSlacMatchCnf:
		return new(SlacMatchCnf)
	case VSSwVerReq:
		return new(SwVerReq)
	case VSSwVerCnf:
		return new(SwVerCnf)
	case VSPlLnkStatusReq:
		return new(PlLnkStatusReq)
	case VSPlLnkStatusCnf:
		return new(PlLnkStatusCnf)
	case VSRsDevReq:
		return new(RsDevReq)
	case VSRsDevCnf:
		return new(RsDevCnf)
	}
	return &RawMessage{Type: h.MMType}
}

// AppendFrame appends the Ethernet frame carrying m to b, padded to
// MinFrameLen with zeros. The MMTYPE comes from m, not h.MMType; Qualcomm
// messages always carry QualcommOUI. It does not allocate when b has room.
func AppendFrame(b []byte, h Header, m Message) ([]byte, error) {
	if m == nil {
		return b, errors.New("homeplug: nil message")
	}
	h.MMType = m.MMType()
	if _, ok := m.(qualcommMessage); ok {
		h.OUI = QualcommOUI
	}
	start := len(b)
	b, err := AppendHeader(b, h)
	if err != nil {
		return b[:start], err
	}
	b, err = m.AppendPayload(b)
	if err != nil {
		return b[:start], err
	}
	if len(b)-start > MaxFrameLen {
		return b[:start], fmt.Errorf("homeplug: %v frame too long: %d bytes, max %d", h.MMType, len(b)-start, MaxFrameLen)
	}
	if n := len(b) - start; n < MinFrameLen {
		b = append(b, zeros[:MinFrameLen-n]...)
	}
	return b, nil
}

// zeros is the padding source.
var zeros [MinFrameLen]byte

// AppendBinary appends the encoded frame to b; it implements encoding.BinaryAppender.
func (f *Frame) AppendBinary(b []byte) ([]byte, error) { return AppendFrame(b, f.Header, f.Message) }

// MarshalBinary encodes the frame; it implements encoding.BinaryMarshaler.
func (f *Frame) MarshalBinary() ([]byte, error) {
	return AppendFrame(make([]byte, 0, 128), f.Header, f.Message)
}

// RawMessage is a message this package does not model, kept byte for byte.
type RawMessage struct {
	Type MMType
	// Payload is everything after the header (and OUI), padding included.
	Payload []byte
}

// MMType returns the message type.
func (m *RawMessage) MMType() MMType { return m.Type }

// DecodePayload keeps p as the payload without copying it.
func (m *RawMessage) DecodePayload(p []byte) error {
	m.Payload = p
	return nil
}

// AppendPayload appends the payload unchanged.
func (m *RawMessage) AppendPayload(b []byte) ([]byte, error) { return append(b, m.Payload...), nil }

// short returns the error for a payload shorter than its layout.
func short(t MMType, got, need int) error {
	return fmt.Errorf("homeplug: %v payload too short: %d bytes, need %d: %w", t, got, need, ErrTruncated)
}

// getMAC reads a MAC at p[off:].
func getMAC(p []byte, off int) (m MAC) {
	copy(m[:], p[off:off+6])
	return m
}
