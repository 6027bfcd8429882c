package message_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/iso20/acdp"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/iso20/wpt"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

// TestBodyKinds maps every DIN and ISO-2 MessageKind and checks that the
// project-wide kind has the codec's own name.
func TestBodyKinds(t *testing.T) {
	if got := din.KindNone.Message(); got != message.None {
		t.Errorf("din.KindNone.Message() = %v, want None", got)
	}
	if got := iso2.KindNone.Message(); got != message.None {
		t.Errorf("iso2.KindNone.Message() = %v, want None", got)
	}
	for k := din.MessageKind(1); k < din.NumMessageKinds; k++ {
		if m := k.Message(); m == message.None || m.String() != k.String() {
			t.Errorf("din %v: message.Kind %d named %q", k, m, m)
		}
	}
	for k := iso2.MessageKind(1); k < iso2.NumMessageKinds; k++ {
		if m := k.Message(); m == message.None || m.String() != k.String() {
			t.Errorf("iso2 %v: message.Kind %d named %q", k, m, m)
		}
	}
	if din.NumMessageKinds != 36 || iso2.NumMessageKinds != 36 {
		t.Errorf("din has %d kinds, iso2 %d; want 36 each", din.NumMessageKinds, iso2.NumMessageKinds)
	}
	if got := din.MessageKind(200).Message(); got != message.None {
		t.Errorf("din.MessageKind(200).Message() = %v, want None", got)
	}
}

// TestDocumentKinds sets each root element of the handshake's and the
// ISO-20 codecs' documents in turn and checks Document.Message: its name
// is the element's for a message (...Req, ...Res), None for any other root.
func TestDocumentKinds(t *testing.T) {
	type messager interface{ Message() message.Kind }
	docs := map[string]struct {
		doc  messager
		msgs int
	}{
		"apphand": {&apphand.Document{}, 2}, "iso20": {&iso20.Document{}, 26}, "iso20/ac": {&ac.Document{}, 4},
		"iso20/dc": {&dc.Document{}, 10}, "iso20/acdp": {&acdp.Document{}, 8}, "iso20/wpt": {&wpt.Document{}, 12},
	}
	for pkg, d := range docs {
		v := reflect.ValueOf(d.doc).Elem()
		msgs := 0
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if f.Kind() != reflect.Pointer {
				continue
			}
			f.Set(reflect.New(f.Type().Elem()))
			got := d.doc.Message()
			f.SetZero()
			want := "None"
			if strings.HasSuffix(name, "Req") || strings.HasSuffix(name, "Res") {
				want = name
				msgs++
			}
			if got.String() != want {
				t.Errorf("%s Document with %s set: Message() = %q, want %q", pkg, name, got, want)
			}
		}
		if msgs != d.msgs {
			t.Errorf("%s: %d messages among the root elements, want %d", pkg, msgs, d.msgs)
		}
		if got := d.doc.Message(); got != message.None {
			t.Errorf("empty %s Document: Message() = %v, want None", pkg, got)
		}
	}
}

func TestNamesAndRequests(t *testing.T) {
	for _, c := range []struct {
		k         message.Kind
		name      string
		req       message.Kind
		isReq, is bool
	}{
		{message.ChargeParameterDiscoveryReq, "ChargeParameterDiscoveryReq", message.ChargeParameterDiscoveryReq, true, false},
		{message.ChargeParameterDiscoveryRes, "ChargeParameterDiscoveryRes", message.ChargeParameterDiscoveryReq, false, true},
		{message.SupportedAppProtocolReq, "supportedAppProtocolReq", message.SupportedAppProtocolReq, true, false},
		{message.SupportedAppProtocolRes, "supportedAppProtocolRes", message.SupportedAppProtocolReq, false, true},
		{message.DC_ChargeLoopRes, "DC_ChargeLoopRes", message.DC_ChargeLoopReq, false, true},
		{message.BodyElement, "BodyElement", message.None, false, false},
		{message.None, "None", message.None, false, false},
		{message.NumKinds, "Kind(" + strconv.Itoa(int(message.NumKinds)) + ")", message.None, false, false},
	} {
		if got := c.k.String(); got != c.name {
			t.Errorf("String() = %q, want %q", got, c.name)
		}
		if got := c.k.Request(); got != c.req {
			t.Errorf("%v.Request() = %v, want %v", c.k, got, c.req)
		}
		if c.k.IsRequest() != c.isReq || c.k.IsResponse() != c.is {
			t.Errorf("%v: IsRequest %v, IsResponse %v; want %v, %v", c.k, c.k.IsRequest(), c.k.IsResponse(), c.isReq, c.is)
		}
	}
	for k := message.Kind(1); k < message.NumKinds; k++ {
		if got, ok := message.Parse(k.String()); !ok || got != k {
			t.Errorf("Parse(%q) = %v, %v", k, got, ok)
		}
	}
	if k, ok := message.Parse("None"); ok || k != message.None {
		t.Errorf(`Parse("None") = %v, %v; want None, false`, k, ok)
	}
}

// TestJSON checks that a kind travels in JSON as its name, None as the
// empty string, and that a name that is no message is refused by type.
func TestJSON(t *testing.T) {
	type rec struct {
		Message message.Kind `json:"message"`
		Other   message.Kind `json:"other,omitempty"`
	}
	b, err := json.Marshal(rec{Message: message.CurrentDemandReq})
	if err != nil || string(b) != `{"message":"CurrentDemandReq"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var r rec
	if err := json.Unmarshal([]byte(`{"message":"supportedAppProtocolRes","other":""}`), &r); err != nil || r != (rec{Message: message.SupportedAppProtocolRes}) {
		t.Errorf("Unmarshal = %+v, %v", r, err)
	}
	b, err = json.Marshal(rec{})
	if err != nil || string(b) != `{"message":""}` {
		t.Errorf("Marshal of None = %s, %v", b, err)
	}
	err = json.Unmarshal([]byte(`{"message":"chargeParameterDiscoveryReq"}`), &r)
	var u *message.UnknownError
	if !errors.As(err, &u) || u.Name != "chargeParameterDiscoveryReq" {
		t.Errorf("Unmarshal of an unknown name: %v, want an UnknownError", err)
	}
	if _, err := message.NumKinds.MarshalText(); err == nil {
		t.Error("MarshalText of a kind out of range: no error")
	}
}

func TestProtocolOf(t *testing.T) {
	for ns, want := range map[string]message.Protocol{
		"urn:din:70121:2012:MsgDef":                message.ProtocolDIN,
		"urn:tesla:din:2018:MsgDef":                message.ProtocolDIN,
		"urn:iso:15118:2:2013:MsgDef":              message.ProtocolISO2,
		"urn:iso:15118:2:2010:MsgDef":              message.ProtocolUnknown,
		"urn:iso:std:iso:15118:-20:CommonMessages": message.ProtocolISO20,
		"urn:iso:std:iso:15118:-20:AC":             message.ProtocolISO20AC,
		"urn:iso:std:iso:15118:-20:DC":             message.ProtocolISO20DC,
		"urn:iso:std:iso:15118:-20:ACDP":           message.ProtocolISO20ACDP,
		"urn:iso:std:iso:15118:-20:WPT":            message.ProtocolISO20WPT,
		"urn:iso:std:iso:15118:-20:XY":             message.ProtocolUnknown,
		"":                                         message.ProtocolUnknown,
	} {
		if got := message.ProtocolOf(ns); got != want {
			t.Errorf("ProtocolOf(%q) = %v, want %v", ns, got, want)
		}
	}
	names := map[message.Protocol]string{message.ProtocolDIN: "DIN 70121", message.ProtocolISO2: "ISO 15118-2",
		message.ProtocolISO20: "ISO 15118-20 CommonMessages", message.ProtocolISO20DC: "ISO 15118-20 DC", message.Protocol(99): "unknown"}
	for p, want := range names {
		if p.String() != want {
			t.Errorf("%d.String() = %q, want %q", p, p, want)
		}
	}
	if message.ProtocolISO2.ISO20() || !message.ProtocolISO20WPT.ISO20() || !message.ProtocolISO20.ISO20() || message.ProtocolUnknown.ISO20() {
		t.Error("ISO20 is wrong for ISO2, WPT, CommonMessages or Unknown")
	}
}
