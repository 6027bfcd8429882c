package timeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/tools/capture"
	"github.com/ccslink/ccslink/tools/tlsread"
)

// Kind says which protocol an event belongs to.
type Kind string

// Kinds of events.
const (
	KindCapture   Kind = "capture"   // the capture file itself: damaged or cut short
	KindSLAC      Kind = "slac"      // HomePlug Green PHY management messages
	KindSDP       Kind = "sdp"       // SECC Discovery Protocol
	KindHandshake Kind = "handshake" // SupportedAppProtocol
	KindV2G       Kind = "v2g"       // DIN 70121, ISO 15118-2 and -20 messages
	KindStream    Kind = "stream"    // a TCP stream that cannot be cut into messages
)

// Dir is the direction of a message.
type Dir string

// Directions; modem messages between a host and its own modem have none.
const (
	CarToCharger Dir = "car->charger"
	ChargerToCar Dir = "charger->car"
	NoDir        Dir = ""
)

// Errors of events, usable with errors.Is on Event.Err.
var (
	// ErrEncrypted: a TCP stream is TLS; its messages cannot be read.
	ErrEncrypted = errors.New("the V2G stream is encrypted (TLS): its messages cannot be decoded")
	// ErrTruncated: the capture ends inside a message or a frame.
	ErrTruncated = errors.New("the capture is cut short")
	// ErrGap: segments of a TCP stream are missing from the capture.
	ErrGap = errors.New("segments of the TCP stream are missing from the capture")
	// ErrUnreadable: File could not read the capture at all.
	ErrUnreadable = errors.New("cannot read the capture (a pcap or pcapng file is needed)")
	// ErrUndecodable: a message could not be decoded.
	ErrUndecodable = errors.New("the message could not be decoded")
)

// EncryptedError is the error of a TLS stream that was not read: Err is
// nil when no key log was given, else the tlsread error that stopped it.
// errors.Is(err, ErrEncrypted) holds.
type EncryptedError struct {
	Bytes int
	Err   error
}

func (e *EncryptedError) Error() string {
	var nk *tlsread.NoKeyError
	switch {
	case e.Err == nil:
		return fmt.Sprintf("TLS: %d bytes encrypted; give a key log (ccslink pcap --keylog FILE) to read it", e.Bytes)
	case errors.As(e.Err, &nk):
		return fmt.Sprintf("TLS: %d bytes encrypted; no key for this session in the key log: was it written during this capture?", e.Bytes)
	}
	return fmt.Sprintf("TLS: %d bytes encrypted, not read: %v", e.Bytes, e.Err)
}

func (e *EncryptedError) Is(target error) bool { return target == ErrEncrypted }

func (e *EncryptedError) Unwrap() error { return e.Err }

// Field is one key value of a message. Value is a string, an int, a
// float64 (with Unit when it is a physical value) or a bool.
type Field struct {
	Name  string
	Value any
	Unit  string // "V", "A", "W", "Wh", "s", "%" or ""
}

// String formats f as name=value unit.
func (f Field) String() string {
	if f.Unit != "" {
		return fmt.Sprintf("%s=%v %s", f.Name, f.Value, f.Unit)
	}
	return fmt.Sprintf("%s=%v", f.Name, f.Value)
}

// Event is one line of the timeline.
type Event struct {
	T     time.Duration // since the first frame of the capture
	Frame int           // index of its (first) frame; for a capture cut short, of the frame cut
	Kind  Kind
	Dir   Dir
	Msg   string // e.g. "CM_SLAC_PARM.REQ", "ChargeParameterDiscoveryReq"
	// Message is the kind of a V2G message (Kind KindHandshake or KindV2G);
	// Msg is its name. None for other events.
	Message message.Kind
	Fields  []Field
	// Count is how many frames the event stands for: more than 1 for a
	// burst of sounds folded into one event.
	Count int
	// Answer is set on an answer to a request of the other side; Took is
	// the time from that request.
	Answer bool
	Took   time.Duration
	// Session is the index in Timeline.Sessions of the session the event
	// belongs to, or -1.
	Session int
	// Err says what could not be decoded; nil when all was.
	Err error
}

// Field returns the value of the field called name, or nil.
func (e *Event) Field(name string) any {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}

// Timeline is what a capture holds, in order.
type Timeline struct {
	Start    time.Time // the time of the first frame
	Events   []Event
	Sessions []Summary
}

// Summary is what one session told: a plug-in (from its SLAC run) or a V2G
// session without SLAC in the capture. Values the car did not send are nil.
type Summary struct {
	Start, Stop time.Duration // its first and last event
	CarMAC      string        // "04:65:65:00:64:c3"
	RunID       string        // hex
	NID         string        // hex, from CM_SLAC_MATCH.CNF
	Matched     bool          // SLAC matched (CM_SLAC_MATCH.CNF seen)
	Protocol    string        // "DIN 70121", "ISO 15118-2", "ISO 15118-20 DC", ...
	EVCCID      string        // hex for DIN and ISO-2, as sent for ISO-20
	SoC         *int          // at the first ChargeParameterDiscoveryReq, else the first sent
	FullSOC     *int
	BulkSOC     *int
	// EnergyCapacityWh and EnergyRequestWh have the multiplier applied.
	EnergyCapacityWh *float64
	EnergyRequestWh  *float64
	Requests         int           // V2G requests of the car, the handshake included
	MaxTook          time.Duration // the slowest answer
	Encrypted        bool          // a V2G stream was TLS
	End              string        // how it ended, in words
}

// File reads the capture at path. A damaged or cut capture gives the
// frames before the damage and a KindCapture event saying so; the error is
// set only when the file cannot be read at all.
func File(path string) (*Timeline, error) { return FileKeys(path, nil) }

// FileKeys is File that reads TLS streams with the secrets of keys.
func FileKeys(path string, keys *tlsread.KeyLog) (*Timeline, error) {
	c, err := capture.Open(path)
	if c == nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	t := ReadKeys(c.Frames(), keys)
	if err != nil {
		e := Event{Kind: KindCapture, Msg: "capture cut short", Session: -1, Count: 1, Frame: len(c.Frames()),
			Err: fmt.Errorf("%w: %w", ErrTruncated, err)}
		if n := len(c.Frames()); n > 0 {
			e.T = c.Frames()[n-1].Time.Sub(t.Start)
		}
		t.Events = append(t.Events, e)
	}
	return t, nil
}
