package v2g

import (
	"fmt"
	"sort"

	"github.com/ccslink/ccslink/proto/exi"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/iso20/acdp"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/iso20/wpt"
	"github.com/ccslink/ccslink/proto/v2g/xmldsig"
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
	// NewDecoder returns a decoder that reuses its memory from call to call,
	// as a session decodes its messages (see din.Decoder): what a call
	// returns is valid until the next call; on error the document holds
	// what was decoded before it. Nil for fragments.
	NewDecoder func() func(b []byte) (doc any, n int, err error)
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

// reusing makes a Codec.NewDecoder of a package's Decoder.Decode.
func reusing[T, D any](decode func(*T, []byte) (*D, int, error)) func() func([]byte) (any, int, error) {
	return func() func([]byte) (any, int, error) {
		t := new(T)
		return func(b []byte) (any, int, error) {
			d, n, err := decode(t, b)
			return d, n, err
		}
	}
}

func withDecoder(c Codec, newDec func() func([]byte) (any, int, error)) Codec {
	c.NewDecoder = newDec
	return c
}

func withFragment(c, f Codec) Codec {
	c.Fragment = &f
	return c
}

var codecs = map[string]Codec{
	"apphand": withDecoder(codec("apphand", apphand.UnmarshalWithNotes, apphand.Append), reusing((*apphand.Decoder).Decode)),
	"din": withFragment(withDecoder(codec("din", din.UnmarshalWithNotes, din.Append), reusing((*din.Decoder).Decode)),
		codec("din fragment", din.UnmarshalFragmentWithNotes, din.AppendFragment)),
	"iso2": withFragment(withDecoder(codec("iso2", iso2.UnmarshalWithNotes, iso2.Append), reusing((*iso2.Decoder).Decode)),
		codec("iso2 fragment", iso2.UnmarshalFragmentWithNotes, iso2.AppendFragment)),
	"iso20": withFragment(withDecoder(codec("iso20", iso20.UnmarshalWithNotes, iso20.Append), reusing((*iso20.Decoder).Decode)),
		codec("iso20 fragment", iso20.UnmarshalFragmentWithNotes, iso20.AppendFragment)),
	"xmldsig": withFragment(withDecoder(codec("xmldsig", xmldsig.UnmarshalWithNotes, xmldsig.Append), reusing((*xmldsig.Decoder).Decode)),
		codec("xmldsig fragment", xmldsig.UnmarshalFragmentWithNotes, xmldsig.AppendFragment)),
	"iso20ac":   withDecoder(codec("iso20ac", ac.UnmarshalWithNotes, ac.Append), reusing((*ac.Decoder).Decode)),
	"iso20dc":   withDecoder(codec("iso20dc", dc.UnmarshalWithNotes, dc.Append), reusing((*dc.Decoder).Decode)),
	"iso20acdp": withDecoder(codec("iso20acdp", acdp.UnmarshalWithNotes, acdp.Append), reusing((*acdp.Decoder).Decode)),
	"iso20wpt":  withDecoder(codec("iso20wpt", wpt.UnmarshalWithNotes, wpt.Append), reusing((*wpt.Decoder).Decode)),
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
