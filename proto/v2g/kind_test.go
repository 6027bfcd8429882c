package v2g

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
)

// TestMessageKindLabeledFrames checks the kind of every DIN and ISO-2 frame
// of the labelled tables against the message name the table gives it.
func TestMessageKindLabeledFrames(t *testing.T) {
	dir := shared.Path(t, "vectors")
	files, _ := filepath.Glob(filepath.Join(dir, "*_labeled*.tsv"))
	if len(files) == 0 {
		t.Fatal("no labelled frame tables in", dir)
	}
	seen := map[string]int{}
	for _, f := range files {
		for _, r := range readFrameTable(t, f) {
			if r["schema"] != "din" && r["schema"] != "iso2" {
				continue
			}
			b, err := hex.DecodeString(r["exi_hex"])
			if err != nil {
				t.Fatalf("%s frame %s: bad hex", r["file"], r["frame"])
			}
			var got string
			switch r["schema"] {
			case "din":
				var d din.Document
				if _, err := din.Unmarshal(b, &d); err != nil || d.V2G_Message == nil {
					t.Errorf("%s frame %s: %v", r["file"], r["frame"], err)
					continue
				}
				got = d.V2G_Message.Body.Kind().String()
			case "iso2":
				var d iso2.Document
				if _, err := iso2.Unmarshal(b, &d); err != nil || d.V2G_Message == nil {
					t.Errorf("%s frame %s: %v", r["file"], r["frame"], err)
					continue
				}
				got = d.V2G_Message.Body.Kind().String()
			}
			if got != r["message"] {
				t.Errorf("%s frame %s (%s): kind %s, want %s", r["file"], r["frame"], r["schema"], got, r["message"])
			}
			seen[r["schema"]+" "+got]++
		}
	}
	// The tables hold these; a kind that stopped being seen means the
	// frames were not classified at all.
	for _, k := range []string{"din SessionSetupReq", "din ChargeParameterDiscoveryReq", "din SessionStopReq",
		"iso2 SessionSetupReq", "iso2 ChargeParameterDiscoveryReq", "iso2 PowerDeliveryReq", "iso2 SessionStopReq"} {
		if seen[k] == 0 {
			t.Errorf("no %s frame in the labelled tables", k)
		}
	}
}

// TestMessageKindConstants decodes known messages and compares with the
// named constants other packages dispatch on.
func TestMessageKindConstants(t *testing.T) {
	var d din.Document
	b, _ := hex.DecodeString("809a02000000000000000011d01811959401930c00") // Ioniq SessionSetupReq
	if _, err := din.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if k := d.V2G_Message.Body.Kind(); k != din.KindSessionSetupReq {
		t.Errorf("DIN SessionSetupReq: kind %v (%d), want %d", k, k, din.KindSessionSetupReq)
	}
	var i iso2.Document
	b, _ = hex.DecodeString("809802022669991e4a686c109442418200c80840a01f000c203e804003000000") // dSPACE ChargeParameterDiscoveryReq
	if _, err := iso2.Unmarshal(b, &i); err != nil {
		t.Fatal(err)
	}
	if k := i.V2G_Message.Body.Kind(); k != iso2.KindChargeParameterDiscoveryReq {
		t.Errorf("ISO-2 ChargeParameterDiscoveryReq: kind %v (%d), want %d", k, k, iso2.KindChargeParameterDiscoveryReq)
	}
	if k := (&din.BodyType{}).Kind(); k != din.KindNone || k.String() != "None" {
		t.Errorf("empty DIN body: kind %d %q", k, k)
	}
	if s := din.NumMessageKinds.String(); s != "MessageKind(36)" {
		t.Errorf("din.NumMessageKinds.String() = %q", s)
	}
	if din.NumMessageKinds != 36 || iso2.NumMessageKinds != 36 {
		t.Errorf("NumMessageKinds: din %d, iso2 %d; want 36 each (35 BodyType fields plus None)", din.NumMessageKinds, iso2.NumMessageKinds)
	}
	if din.KindBodyElement != 1 || din.KindSessionStopReq.String() != "SessionStopReq" {
		t.Errorf("din.KindBodyElement = %d, din.KindSessionStopReq = %q", din.KindBodyElement, din.KindSessionStopReq)
	}
}

// TestMessageKindEveryField sets each field of BodyType alone and checks
// that Kind names it: constant i+1, String the field name.
func TestMessageKindEveryField(t *testing.T) {
	check := func(t *testing.T, body any, kind func() (int, string), num int) {
		v := reflect.ValueOf(body).Elem()
		if v.NumField()+1 != num {
			t.Fatalf("%d fields, %d kinds", v.NumField(), num)
		}
		for i := 0; i < v.NumField(); i++ {
			v.SetZero()
			f := v.Field(i)
			f.Set(reflect.New(f.Type().Elem()))
			// A later field set too must not change the answer: the first wins.
			if i+1 < v.NumField() {
				g := v.Field(i + 1)
				g.Set(reflect.New(g.Type().Elem()))
			}
			k, s := kind()
			if k != i+1 || s != v.Type().Field(i).Name {
				t.Errorf("field %s set: kind %d %q, want %d %q", v.Type().Field(i).Name, k, s, i+1, v.Type().Field(i).Name)
			}
		}
	}
	t.Run("din", func(t *testing.T) {
		var b din.BodyType
		check(t, &b, func() (int, string) { return int(b.Kind()), b.Kind().String() }, int(din.NumMessageKinds))
	})
	t.Run("iso2", func(t *testing.T) {
		var b iso2.BodyType
		check(t, &b, func() (int, string) { return int(b.Kind()), b.Kind().String() }, int(iso2.NumMessageKinds))
	})
}

// TestAppendErrorKeepsDst checks that a failing Append or AppendFragment
// returns dst itself, not nil and not extended.
func TestAppendErrorKeepsDst(t *testing.T) {
	dst := make([]byte, 3, 64)
	copy(dst, "abc")
	same := func(t *testing.T, what string, out []byte, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if len(out) != 3 || cap(out) != 64 || &out[0] != &dst[0] || !bytes.Equal(out, []byte("abc")) {
			t.Errorf("%s: returned %q (len %d cap %d), want dst unchanged", what, out, len(out), cap(out))
		}
	}
	out, err := din.Append(dst, &din.Document{})
	same(t, "din, no root", out, err)

	// An error deep in the document, after bits were written.
	bad := din.ResponseCodeType(200)
	doc := &din.Document{V2G_Message: &din.V2G_Message{
		Header: din.MessageHeaderType{SessionID: make([]byte, 8)},
		Body:   din.BodyType{SessionSetupRes: &din.SessionSetupResType{ResponseCode: bad, EVSEID: []byte{0}}},
	}}
	out, err = din.Append(dst, doc)
	same(t, "din, bad ResponseCode", out, err)

	out, err = iso2.AppendFragment(dst, &iso2.Fragment{ResponseCode: (*iso2.ResponseCodeType)(&[]uint8{200}[0])})
	same(t, "iso2 fragment, bad ResponseCode", out, err)

	if b, err := din.Marshal(&din.Document{}); err == nil || b != nil {
		t.Errorf("din.Marshal of an empty document: %x, %v; want nil and an error", b, err)
	}
}
