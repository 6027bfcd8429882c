package v2g

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/exi"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
)

const dataTypesNS = "urn:iso:15118:2:2013:MsgDataTypes"

// TestRelaxedEMAIDFragment writes, bit by bit from EXI 1.0 §8.5.3, the
// ISO-2 fragment that a CertificateInstallationRes signs for its eMAID (an
// EMAIDType, with Id, where PaymentDetailsReq's eMAID is a plain string):
// eMAID has two types, so its content uses the relaxed element fragment
// grammar. ElementFragment0 lists the 10 attribute qnames of the schema
// set (Algorithm, Encoding, Id, {MsgBody}Id, {MsgDataTypes}Id, MimeType,
// {MsgDataTypes}Name, Target, Type, URI), AT(*), SE of the 243 element
// qnames, SE(*), EE, CH and the escape: 258 codes in 9 bits.
// ElementFragment1 has the 243 SE, SE(*), EE, CH and the escape: 8 bits.
func TestRelaxedEMAIDFragment(t *testing.T) {
	var w exi.Writer
	w.Reset(nil)
	w.Bits(0x80, 8)
	w.Bits(236, 8) // SE(eMAID), fragment code 236 of 245
	w.Bits(4, 9)   // AT({MsgDataTypes}Id)
	w.String("id3")
	w.Bits(10+243+3, 9) // CH[untyped], to ElementFragment1
	w.String("DE8AA1A2B3C4D5E6")
	w.Bits(243+1, 8) // EE
	w.Bits(244, 8)   // end of the fragment
	want := w.Bytes()

	f := iso2.Fragment{EMAID: &exi.RelaxedElement{
		Attrs: []exi.AnyAttr{{Name: exi.Name{Space: dataTypesNS, Local: "Id"}, Value: "id3"}},
		Text:  []string{"DE8AA1A2B3C4D5E6"},
	}}
	got, err := iso2.AppendFragment(nil, &f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded %x, want %x", got, want)
	}
	var back iso2.Fragment
	n, err := iso2.UnmarshalFragment(want, &back)
	if err != nil || n != len(want) || !reflect.DeepEqual(back, f) {
		t.Fatalf("decoded %+v (%d of %d bytes), %v", back.EMAID, n, len(want), err)
	}

	// Empty content ends at ElementFragment0's EE (code 10+243+2).
	w.Reset(nil)
	w.Bits(0x80, 8)
	w.Bits(236, 8)
	w.Bits(10+243+2, 9)
	w.Bits(244, 8)
	empty := w.Bytes()
	if got, err := iso2.AppendFragment(nil, &iso2.Fragment{EMAID: &exi.RelaxedElement{}}); err != nil || !bytes.Equal(got, empty) {
		t.Errorf("empty eMAID: %x, %v; want %x", got, err, empty)
	}
}

// TestRelaxedRefused: what the relaxed grammar holds beyond attributes and
// text is a clear error both ways.
func TestRelaxedRefused(t *testing.T) {
	var w exi.Writer
	for name, c := range map[string]struct {
		code  uint32
		width int
		msg   string
	}{
		"child":  {11, 9, "child elements in a relaxed element fragment are not supported"},
		"AT(*)":  {10, 9, "an undeclared attribute (AT(*))"},
		"escape": {257, 9, "second-level events"},
	} {
		w.Reset(nil)
		w.Bits(0x80, 8)
		w.Bits(236, 8)
		w.Bits(c.code, c.width)
		w.Bits(0, 8)
		var f iso2.Fragment
		_, err := iso2.UnmarshalFragment(w.Bytes(), &f)
		var xe *exi.Error
		if !errors.As(err, &xe) || xe.Bit != 16 || !strings.Contains(xe.Msg, c.msg) {
			t.Errorf("%s: %v; want an *exi.Error at bit 16 saying %q", name, err, c.msg)
		}
	}
	_, err := iso2.AppendFragment(nil, &iso2.Fragment{EMAID: &exi.RelaxedElement{Attrs: []exi.AnyAttr{{Name: exi.Name{Local: "Filter"}}}}})
	var se *exi.SchemaError
	if !errors.As(err, &se) {
		t.Errorf("undeclared attribute: %v, want an *exi.SchemaError", err)
	}
}
