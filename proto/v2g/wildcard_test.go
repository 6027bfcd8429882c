package v2g

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/exi"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/xmldsig"
)

// The XPath Filter 2.0 namespace, also the Algorithm of its Transform.
const (
	filter2   = "http://www.w3.org/2002/06/xmldsig-filter2"
	filter2Tr = filter2
)

// filterXPath is an XPath Filter 2.0 element (W3C xmldsig-filter2), the
// standard content of a Transform's <any namespace="##other"/>.
func filterXPath(filter, xpath string) *exi.AnyElement {
	return &exi.AnyElement{
		Name:    exi.Name{Space: filter2, Local: "XPath"},
		Attrs:   []exi.AnyAttr{{Name: exi.Name{Local: "Filter"}, Value: filter}},
		Content: []exi.Node{{Text: xpath}},
	}
}

// TestWildcardTransformBits writes, bit by bit from EXI 1.0, a Transform
// document holding two XPath Filter 2.0 elements (SE(*)), then checks that
// the encoder writes exactly that and the decoder reads it back. The
// second element takes the paths the first one created: its URI and local
// name are string table hits (§7.3.2), its attribute and text are learned
// productions of the built-in grammar of its qname (§8.4.3).
func TestWildcardTransformBits(t *testing.T) {
	var w exi.Writer
	w.Reset(nil)
	lit := func(s string) { // a name literal: its characters
		for _, c := range s {
			w.Uint(uint64(c))
		}
	}
	w.Bits(0x80, 8)
	w.Bits(21, 5) // SE(Transform), 21st of the 25 global elements and SE(*)
	w.Bits(0, 1)  // AT(Algorithm)
	w.String(filter2Tr)
	// Transform state 1: SE(XPath) 0, SE(*) 1, EE 2, CH[untyped] 3, in 3 bits.
	w.Bits(1, 3)
	// qname: the uri partition has 5 entries ("", xml, xsi, xsd, xmldsig):
	// 3 bits, 0 = miss, then the URI as a literal (length, characters).
	w.Bits(0, 3)
	w.Uint(uint64(len(filter2)))
	lit(filter2)
	w.Uint(uint64(len("XPath")) + 1) // local name miss: length+1
	lit("XPath")
	// Built-in grammar of {filter2}XPath, new: StartTagContent has no
	// learned production, so the first level takes 0 bits; the second
	// level is EE 0, AT(*) 1, SE(*) 2, CH 3 in 2 bits.
	w.Bits(1, 2) // AT(*)
	// uri "" is a hit now among 6: id 0 as 1 in 3 bits; "Filter" is not
	// among the "" partition's local names (the schema's attributes).
	w.Bits(1, 3)
	w.Uint(uint64(len("Filter")) + 1)
	lit("Filter")
	w.String("intersect")
	// StartTagContent learned AT(Filter) (code 0): CH is 1.3 in 1+2 bits.
	w.Bits(1, 1)
	w.Bits(3, 2)
	w.String("//ToBeSigned")
	// ElementContent, nothing learned: EE 0, SE(*) 1.0, CH 1.1 in 1 bit.
	w.Bits(0, 1)
	// Transform state 1 again: the second XPath.
	w.Bits(1, 3)
	w.Bits(6, 3) // uri hit: filter2 is id 5 of 6
	w.Uint(0)    // local name hit, compact id of 0 bits in a partition of 1
	// StartTagContent learned AT(Filter) then CH: codes CH 0, AT(Filter) 1, 2 bits.
	w.Bits(1, 2)
	w.String("subtract")
	w.Bits(0, 2)
	w.String("//Signature")
	w.Bits(0, 1) // EE
	w.Bits(2, 3) // EE of Transform
	want := w.Bytes()

	doc := xmldsig.Document{Transform: &xmldsig.TransformType{
		Algorithm: filter2Tr,
		Any: []exi.Mixed{
			{Node: exi.Node{Elem: filterXPath("intersect", "//ToBeSigned")}},
			{Node: exi.Node{Elem: filterXPath("subtract", "//Signature")}},
		},
	}}
	got, err := xmldsig.Append(nil, &doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%x, want\n%x", got, want)
	}
	var back xmldsig.Document
	n, err := xmldsig.Unmarshal(want, &back)
	if err != nil || n != len(want) {
		t.Fatalf("decode: %d of %d bytes, %v", n, len(want), err)
	}
	if !reflect.DeepEqual(back, doc) {
		a, _ := json.Marshal(back)
		b, _ := json.Marshal(doc)
		t.Fatalf("decoded\n%s\nwant\n%s", a, b)
	}
}

// TestWildcardSignature round-trips a whole Signature, as an ISO-2 header
// carries it, whose Reference has the canonical xmldsig XPath transform
// (its declared XPath element, with mixed text around it) and an XPath
// Filter 2.0 transform, and whose KeyInfo holds an element of another
// namespace with nested content; through EXI and JSON, byte for byte.
func TestWildcardSignature(t *testing.T) {
	var d iso2.Document
	for _, v := range readVectors(t) {
		if v.ID == "iso2-cpdres-signed-salestariff" {
			_, b, _ := schemaOf(v)
			if _, err := iso2.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if d.V2G_Message == nil || d.V2G_Message.Header.Signature == nil {
		t.Fatal("no signed ChargeParameterDiscoveryRes vector")
	}
	sig := d.V2G_Message.Header.Signature
	sig.SignatureValue.Value = bytes.Repeat([]byte{0x5a}, 64) // the vector's is absent, which JSON writes as ""
	ref := &sig.SignedInfo.Reference[0]
	ref.Transforms = &xmldsig.TransformsType{Transform: []xmldsig.TransformType{
		{
			Algorithm: "http://www.w3.org/TR/1999/REC-xpath-19991116",
			XPath:     []string{"not(ancestor-or-self::dsig:Signature)"},
			Any:       []exi.Mixed{{After: 0, Node: exi.Node{Text: "\n  "}}, {After: 1, Node: exi.Node{Text: "\n"}}},
		},
		{
			Algorithm: filter2Tr,
			Any:       []exi.Mixed{{Node: exi.Node{Elem: filterXPath("intersect", "//ToBeSigned")}}},
		},
	}}
	sig.KeyInfo = &xmldsig.KeyInfoType{
		KeyName: []string{"contract"},
		Any: []exi.Mixed{{After: 1, Node: exi.Node{Elem: &exi.AnyElement{
			Name: exi.Name{Space: "urn:example:keys", Local: "Key"},
			Content: []exi.Node{
				{Elem: &exi.AnyElement{Name: exi.Name{Space: "urn:example:keys", Local: "Part"}, Content: []exi.Node{{Text: "a"}}}},
				{Elem: &exi.AnyElement{Name: exi.Name{Space: "urn:example:keys", Local: "Part"}, Content: []exi.Node{{Text: "b"}}}},
				{Text: "tail"},
				{Elem: &exi.AnyElement{Name: exi.Name{Space: filter2, Local: "XPath"}}},
			},
		}}}},
	}
	out, err := iso2.Append(nil, &d)
	if err != nil {
		t.Fatal(err)
	}
	var back iso2.Document
	if n, err := iso2.Unmarshal(out, &back); err != nil || n != len(out) {
		t.Fatalf("decode %d of %d bytes: %v", n, len(out), err)
	}
	if !reflect.DeepEqual(back.V2G_Message.Header.Signature, sig) {
		a, _ := json.Marshal(back.V2G_Message.Header.Signature)
		b, _ := json.Marshal(sig)
		t.Fatalf("decoded\n%s\nwant\n%s", a, b)
	}
	// A Decoder, whose memory is taken again document after document,
	// reads the same; the document after it starts from clean tables.
	var dec iso2.Decoder
	for i := range 2 {
		dd, _, err := dec.Decode(out)
		if err != nil || !reflect.DeepEqual(dd.V2G_Message.Header.Signature, sig) {
			t.Fatalf("Decoder, document %d: %v", i, err)
		}
	}
	again, err := iso2.Append(nil, &back)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("second encoding %x, %v; first %x", again, err, out)
	}
	j, _ := json.Marshal(&back)
	var fromJSON iso2.Document
	if err := json.Unmarshal(j, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if viaJSON, err := iso2.Append(nil, &fromJSON); err != nil || !bytes.Equal(viaJSON, out) {
		t.Fatalf("encoding of the JSON form %x, %v; want %x", viaJSON, err, out)
	}
	// The signed part is a fragment of the xmldsig schema alone: its own
	// string tables, the same content.
	f := xmldsig.Fragment{SignedInfo: &sig.SignedInfo}
	fb, err := xmldsig.AppendFragment(nil, &f)
	if err != nil {
		t.Fatal(err)
	}
	var fback xmldsig.Fragment
	if _, err := xmldsig.UnmarshalFragment(fb, &fback); err != nil || !reflect.DeepEqual(fback.SignedInfo, &sig.SignedInfo) {
		t.Fatalf("fragment: %v", err)
	}
}

// TestWildcardRefused: what wildcard content cannot hold is a clear error
// on both sides: a declared element inside it, xsi attributes, items out
// of order, an item both element and text, nesting without end.
func TestWildcardRefused(t *testing.T) {
	tr := func(any ...exi.Mixed) *xmldsig.Document {
		return &xmldsig.Document{Transform: &xmldsig.TransformType{Algorithm: filter2Tr, Any: any}}
	}
	deep := &exi.AnyElement{Name: exi.Name{Local: "x"}}
	for range exi.MaxAnyDepth + 1 {
		deep = &exi.AnyElement{Name: exi.Name{Local: "x"}, Content: []exi.Node{{Elem: deep}}}
	}
	for name, d := range map[string]*xmldsig.Document{
		"declared": tr(exi.Mixed{Node: exi.Node{Elem: &exi.AnyElement{Name: exi.Name{Space: "http://www.w3.org/2000/09/xmldsig#", Local: "Signature"}}}}),
		"xsi": tr(exi.Mixed{Node: exi.Node{Elem: &exi.AnyElement{Name: exi.Name{Local: "x"},
			Attrs: []exi.AnyAttr{{Name: exi.Name{Space: "http://www.w3.org/2001/XMLSchema-instance", Local: "nil"}, Value: "true"}}}}}),
		"order": tr(exi.Mixed{After: 1, Node: exi.Node{Text: "a"}}, exi.Mixed{After: 0, Node: exi.Node{Text: "b"}}),
		"after": tr(exi.Mixed{After: 1, Node: exi.Node{Text: "a"}}),
		"both":  tr(exi.Mixed{Node: exi.Node{Text: "a", Elem: filterXPath("union", "/")}}),
		"deep":  tr(exi.Mixed{Node: exi.Node{Elem: deep}}),
	} {
		_, err := xmldsig.Append(nil, d)
		var se *exi.SchemaError
		if !errors.As(err, &se) {
			t.Errorf("%s: encoding gave %v, want an *exi.SchemaError", name, err)
		}
	}
}

// TestWildcardRefusedDecoding: the same limits when decoding, each an
// *exi.Error at a bit inside the input, never a panic or a deep recursion.
func TestWildcardRefusedDecoding(t *testing.T) {
	start := func(w *exi.Writer) {
		w.Reset(nil)
		w.Bits(0x80, 8)
		w.Bits(21, 5) // SE(Transform)
		w.Bits(0, 1)  // AT(Algorithm)
		w.String(filter2Tr)
		w.Bits(1, 3) // SE(*)
	}
	name := func(w *exi.Writer, s string) {
		w.Uint(uint64(len(s)) + 1)
		for _, c := range s {
			w.Uint(uint64(c))
		}
	}
	var w exi.Writer
	cases := map[string][]byte{}

	start(&w)
	w.Bits(5, 3) // uri hit: xmldsig
	name(&w, "Signature")
	cases["declared"] = w.Bytes()

	start(&w)
	w.Bits(1, 3) // uri ""
	name(&w, "x")
	w.Bits(1, 2) // AT(*)
	w.Bits(3, 3) // uri hit: xsi
	w.Uint(0)    // local name hit
	w.Bits(0, 1) // "nil" of {nil, type}
	w.String("true")
	cases["xsi"] = w.Bytes()

	start(&w)
	w.Bits(1, 3) // {}x
	name(&w, "x")
	w.Bits(2, 2) // SE(*) in x's start tag
	w.Bits(1, 3) // uri ""
	w.Uint(0)    // local name hit: x is the 8th of the "" partition
	w.Bits(7, 3)
	for range 2 * exi.MaxAnyDepth {
		w.Bits(0, 1) // the learned SE(x), one bit per level
	}
	cases["deep"] = w.Bytes()

	want := map[string]string{
		"declared": "{http://www.w3.org/2000/09/xmldsig#}Signature is declared in the schema",
		"xsi":      "xsi:nil in wildcard content is not supported",
		"deep":     "nested deeper than 64 elements",
	}
	for name, b := range cases {
		var d xmldsig.Document
		_, err := xmldsig.Unmarshal(b, &d)
		var xe *exi.Error
		if !errors.As(err, &xe) || xe.Bit < 0 || xe.Bit > 8*len(b) || !strings.Contains(xe.Msg, want[name]) {
			t.Errorf("%s: decoding gave %v, want an *exi.Error inside the input saying %q", name, err, want[name])
		}
	}
}

// FuzzXMLDSig decodes hostile xmldsig documents, the schema set whose
// wildcard and mixed content the built-in grammars decode; the checks are
// those of the other targets (see fuzzCodec).
func FuzzXMLDSig(f *testing.F) { fuzzCodec(f, "xmldsig") }
