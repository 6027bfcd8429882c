package v2g

import (
	"fmt"
	"sort"

	"github.com/ccslink/ccslink/exi"

	"github.com/ccslink/ccslink/v2g/apphand"
	"github.com/ccslink/ccslink/v2g/din"
	"github.com/ccslink/ccslink/v2g/iso2"
	"github.com/ccslink/ccslink/v2g/iso20"
	"github.com/ccslink/ccslink/v2g/iso20/ac"
	"github.com/ccslink/ccslink/v2g/iso20/acdp"
	"github.com/ccslink/ccslink/v2g/iso20/dc"
	"github.com/ccslink/ccslink/v2g/iso20/wpt"
	"github.com/ccslink/ccslink/v2g/xmldsig"
)

// Codec is one schema set's codec behind a common, schema-agnostic face,
// for tools that pick the schema at run time (the command line, tests).
type Codec struct {
	Name string
	// New returns a new empty *Document of the schema set.
	New func() any
	// Decode decodes b into doc (from New); n is the bytes the document took.
	Decode func(b []byte, doc any) (n int, err error)
	// DecodeNotes is Decode that also returns the values kept although a
	// facet of the schema forbids them (see exi.Note).
	DecodeNotes func(b []byte, doc any) (n int, notes []exi.Note, err error)
	// Append encodes doc (from New) and appends it to dst.
	Append func(dst []byte, doc any) ([]byte, error)
	// Fragment is the codec of the schema set's EXI fragments (what
	// signatures digest), or nil when the set has no fragment grammar.
	Fragment *Codec
}

func codec[D any](name string, dec func([]byte, *D) (int, []exi.Note, error), app func([]byte, *D) ([]byte, error)) Codec {
	return Codec{
		Name: name,
		New:  func() any { return new(D) },
		Decode: func(b []byte, doc any) (int, error) {
			d, ok := doc.(*D)
			if !ok {
				return 0, fmt.Errorf("v2g: %s codec given %T", name, doc)
			}
			n, _, err := dec(b, d)
			return n, err
		},
		DecodeNotes: func(b []byte, doc any) (int, []exi.Note, error) {
			d, ok := doc.(*D)
			if !ok {
				return 0, nil, fmt.Errorf("v2g: %s codec given %T", name, doc)
			}
			return dec(b, d)
		},
		Append: func(dst []byte, doc any) ([]byte, error) {
			d, ok := doc.(*D)
			if !ok {
				return nil, fmt.Errorf("v2g: %s codec given %T", name, doc)
			}
			return app(dst, d)
		},
	}
}

func withFragment(c, f Codec) Codec {
	c.Fragment = &f
	return c
}

var codecs = map[string]Codec{
	"apphand": codec("apphand", apphand.UnmarshalWithNotes, apphand.Append),
	"din": withFragment(codec("din", din.UnmarshalWithNotes, din.Append),
		codec("din fragment", din.UnmarshalFragmentWithNotes, din.AppendFragment)),
	"iso2": withFragment(codec("iso2", iso2.UnmarshalWithNotes, iso2.Append),
		codec("iso2 fragment", iso2.UnmarshalFragmentWithNotes, iso2.AppendFragment)),
	"iso20": withFragment(codec("iso20", iso20.UnmarshalWithNotes, iso20.Append),
		codec("iso20 fragment", iso20.UnmarshalFragmentWithNotes, iso20.AppendFragment)),
	"xmldsig": withFragment(codec("xmldsig", xmldsig.UnmarshalWithNotes, xmldsig.Append),
		codec("xmldsig fragment", xmldsig.UnmarshalFragmentWithNotes, xmldsig.AppendFragment)),
	"iso20ac":   codec("iso20ac", ac.UnmarshalWithNotes, ac.Append),
	"iso20dc":   codec("iso20dc", dc.UnmarshalWithNotes, dc.Append),
	"iso20acdp": codec("iso20acdp", acdp.UnmarshalWithNotes, acdp.Append),
	"iso20wpt":  codec("iso20wpt", wpt.UnmarshalWithNotes, wpt.Append),
}

// Lookup returns the codec of a schema set by name: apphand, din, iso2,
// iso20 (also iso20cm), iso20ac, iso20dc, iso20acdp, iso20wpt or xmldsig.
func Lookup(name string) (Codec, bool) {
	if name == "iso20cm" {
		name = "iso20"
	}
	c, ok := codecs[name]
	return c, ok
}

// Names lists the schema set names Lookup knows, sorted.
func Names() []string {
	var out []string
	for n := range codecs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
