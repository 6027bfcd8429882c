package v2g

import (
	"errors"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/exi"
	"github.com/ccslink/ccslink/proto/v2g/xmldsig"
)

// TestXsiRefused writes xsi:type and xsi:nil where EXI 1.0 §8.5.4.4.1
// puts them, as second-level events of an element's first state, and
// checks that decoding names what they said and wraps exi.ErrXsiType or
// exi.ErrXsiNil, at the bit of the escape.
func TestXsiRefused(t *testing.T) {
	var w exi.Writer
	transform := func(c2 uint32) {
		w.Reset(nil)
		w.Bits(0x80, 8)
		w.Bits(21, 5) // SE(Transform)
		// State 0 has one production, AT(Algorithm): code 1 escapes, and
		// the second level is EE, xsi:type, xsi:nil, AT(*), AT[untyped],
		// SE(*), CH in 3 bits.
		w.Bits(1, 1)
		w.Bits(c2, 3)
	}
	type xsiCase struct {
		name string
		b    []byte
		bit  int
		kind error
		msg  string
	}
	var cases []xsiCase

	transform(1)
	w.Bits(5, 3) // uri: xmldsig, id 4
	w.Uint(uint64(len("TransformType")) + 1)
	for _, c := range "TransformType" {
		w.Uint(uint64(c))
	}
	cases = append(cases, xsiCase{"xsi:type on Transform", w.Bytes(), 13, exi.ErrXsiType, `TransformType: xsi:type="{http://www.w3.org/2000/09/xmldsig#}TransformType" is not supported`})

	transform(2)
	w.Bits(1, 1) // true
	cases = append(cases, xsiCase{"xsi:nil on Transform", w.Bytes(), 13, exi.ErrXsiNil, `TransformType: xsi:nil="true" is not supported`})

	// A simple element, the root DigestValue (code 3): CH is code 0 of 1
	// bit, 1 escapes to the same seven second-level events.
	w.Reset(nil)
	w.Bits(0x80, 8)
	w.Bits(3, 5)
	w.Bits(1, 1)
	w.Bits(1, 3) // xsi:type
	w.Bits(4, 3) // uri: xsd, id 3
	w.Uint(0)    // local name hit: base64Binary, 15th of the 46 built-in type names
	w.Bits(14, 6)
	cases = append(cases, xsiCase{"xsi:type on DigestValue", w.Bytes(), 13, exi.ErrXsiType, `a simple element: xsi:type="{http://www.w3.org/2001/XMLSchema}base64Binary" is not supported`})

	transform(5)
	cases = append(cases, xsiCase{"SE(*) at the second level", w.Bytes(), 13, nil, "TransformType: an element the schema does not declare (second-level SE(*)) is not supported"})

	for _, c := range cases {
		var d xmldsig.Document
		_, err := xmldsig.Unmarshal(c.b, &d)
		var xe *exi.Error
		if !errors.As(err, &xe) || xe.Bit != c.bit || !strings.Contains(xe.Msg, c.msg) {
			t.Errorf("%s: %v; want an *exi.Error at bit %d saying %s", c.name, err, c.bit, c.msg)
		}
		if c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%s: %v does not wrap %v", c.name, err, c.kind)
		}
		if errors.Is(err, exi.ErrXsiType) && c.kind != exi.ErrXsiType || errors.Is(err, exi.ErrXsiNil) && c.kind != exi.ErrXsiNil {
			t.Errorf("%s: %v wraps the wrong sentinel", c.name, err)
		}
	}
}
