package evcc

import (
	"fmt"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

// codec is one protocol's codec as the car's exchanges use it: D is its
// Document, B its BodyType, K its MessageKind and C its ResponseCodeType.
// Its functions are the package's generated ones, so that an exchange is
// written once for DIN and ISO-2.
type codec[D, B any, K codecKind, C responseCode] struct {
	name      string // in errors: "does not decode as DIN"
	failed    C      // the first FAILED code; every code from it on is one
	timeout   func(K) time.Duration
	request   func(sid []byte, b *B) *D
	append    func([]byte, *D) ([]byte, error)
	unmarshal func([]byte, *D) (int, error)
	body      func(*D) *B
	sessionID func(*D) []byte
	kind      func(*B) K
	code      func(*B) (C, bool)
	kinds     K               // NumMessageKinds
	read      func(*B) answer // what the car's flow reads of an answer
}

type codecKind interface {
	~uint8
	Message() message.Kind
	String() string
}

type responseCode interface {
	~uint8
	String() string
}

var dinCodec = &codec[din.Document, din.BodyType, din.MessageKind, din.ResponseCodeType]{
	name: "DIN", failed: din.ResponseCodeFAILED, kinds: din.NumMessageKinds, timeout: dinMsgTimeout,
	append: din.Append, unmarshal: din.Unmarshal, body: (*din.Document).Body, sessionID: (*din.Document).SessionID,
	kind: (*din.BodyType).Kind, code: (*din.BodyType).ResponseCode,
	request: func(sid []byte, b *din.BodyType) *din.Document {
		return &din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: *b}}
	},
	read: func(b *din.BodyType) answer { return readAnswer(b, din.EVSEProcessingFinished, dinShutdown, dinFloat) },
}

var iso2Codec = &codec[iso2.Document, iso2.BodyType, iso2.MessageKind, iso2.ResponseCodeType]{
	name: "ISO 15118-2", failed: iso2.ResponseCodeFAILED, kinds: iso2.NumMessageKinds, timeout: isoMsgTimeout,
	append: iso2.Append, unmarshal: iso2.Unmarshal, body: (*iso2.Document).Body, sessionID: (*iso2.Document).SessionID,
	kind: (*iso2.BodyType).Kind, code: (*iso2.BodyType).ResponseCode,
	request: func(sid []byte, b *iso2.BodyType) *iso2.Document {
		return &iso2.Document{V2G_Message: &iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: sid}, Body: *b}}
	},
	read: func(b *iso2.BodyType) answer {
		return readAnswer(b, iso2.EVSEProcessingFinished, isoShutdown, isoFloat)
	},
}

// exchangeV2G sends one request of the car and returns the answer's body,
// checked to be the matching response with an OK code.
func exchangeV2G[D, B any, K codecKind, C responseCode](s *session, c *codec[D, B, K, C], body *B) (*B, error) {
	kind := c.kind(body)
	name := kind.Message()
	b, err := c.append(s.message(), c.request(s.sid, body))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEncode, name, err)
	}
	if name == message.ContractAuthenticationReq && s.p.Quirks.Has(QuirkPaddedAuthorization) {
		b = append(b, 0)
	}
	p, rtt, err := s.exchange(name, b, c.timeout(kind))
	if err != nil {
		return nil, err
	}
	var doc D
	if _, err := c.unmarshal(p, &doc); err != nil {
		s.step(name, "", rtt)
		return nil, fmt.Errorf("%w: the answer to %s does not decode as %s: %w", ErrBadResponse, name, c.name, err)
	}
	rb := c.body(&doc)
	if rb == nil {
		s.step(name, "", rtt)
		return nil, fmt.Errorf("%w: the answer to %s is not a V2G_Message", ErrBadResponse, name)
	}
	if got := c.kind(rb); got != kind+1 {
		s.step(name, "", rtt)
		return nil, fmt.Errorf("%w: %s answered with %s", ErrBadResponse, name, got)
	}
	code, _ := c.code(rb) // kind+1 is kind's response, which has one
	s.step(name, code.String(), rtt)
	if code >= c.failed {
		return nil, finish(EndFailed)
	}
	if name == message.SessionSetupReq {
		if err := s.setSessionID(c.sessionID(&doc)); err != nil {
			return nil, err
		}
	}
	return rb, nil
}

// sender returns the sendFunc of a session that speaks c, its requests
// built by body.
func sender[D, B any, K codecKind, C responseCode](s *session, c *codec[D, B, K, C], body func(K, bool) *B) sendFunc {
	return func(m message.Kind, start bool) (answer, error) {
		kind := K(0)
		for k := range c.kinds {
			if k.Message() == m {
				kind = k
				break
			}
		}
		res, err := exchangeV2G(s, c, body(kind, start))
		if err != nil {
			return answer{}, err
		}
		return c.read(res), nil
	}
}

// answerBody is a generated codec's *BodyType as the car's flow reads an answer.
type answerBody[P comparable, S, V any] interface {
	EVSEProcessing() (P, bool)
	DC_EVSEStatus() *S
	EVSEPresentVoltage() *V
}

// readAnswer reads b with its protocol's Finished, its test of the
// charger's DC status and its physical values.
func readAnswer[B answerBody[P, S, V], P comparable, S, V any](b B, finished P, shutdown func(*S) bool, float func(V) float64) (a answer) {
	p, ok := b.EVSEProcessing()
	a.finished = !ok || p == finished
	if st := b.DC_EVSEStatus(); st != nil {
		a.shutdown = shutdown(st)
	}
	if v := b.EVSEPresentVoltage(); v != nil {
		a.voltage = float(*v)
	}
	return a
}
