package exigen

import (
	"fmt"
	"strings"
)

// A Body's accessors read what several of its messages carry under one
// name, whichever message the body holds: code that serves DIN and ISO-2
// alike reads a response's ResponseCode once, not in a switch per protocol
// (Go's generics cannot reach struct fields). Only the names that such code
// reads are generated, so the API stays small.

// bodyAccessors are the accessors of a Body type, each the element name of
// a field that several of its messages have, with what its comment says.
var bodyAccessors = []struct{ name, about string }{
	{"ResponseCode", "the ResponseCode of the response the body holds"},
	{"EVSEProcessing", "the EVSEProcessing of the response the body holds (Finished or Ongoing)"},
	{"DC_EVStatus", "the car's DC status in the request the body holds, where the status is the request's own field (not within its parameters)"},
	{"DC_EVSEStatus", "the charger's DC status in the response the body holds, where the status is the response's own field"},
}

// bodyAbout is the header of the file of a Body's accessors.
const bodyAbout = "The accessors of the Body type: each reads one field that several messages have, whatever message the body holds, so that code serving several protocols needs no switch over the messages of each."

// accessorCase is one message that has an accessor's field.
type accessorCase struct {
	msg, field string // Go names of the Body field (the message) and of its field
	optional   bool   // the field is a pointer
}

// emitBodyAccessors writes the accessors of the Body type t whose fields
// fs are its messages. Each returns a pointer to a structure (nil when the
// message has none), or an enumeration with ok false when it has none. An
// accessor no message has is left out; one whose field has several types
// is an error.
func (g *gen) emitBodyAccessors(t *Type, fs []*Field) error {
	for _, acc := range bodyAccessors {
		var cases []accessorCase
		var typ *Type
		for _, f := range fs {
			for _, sub := range g.gram[f.Type].Fields {
				if sub.Kind != evSE || sub.Q.Local != acc.name {
					continue
				}
				switch {
				case sub.Max != 1:
					return fmt.Errorf("%s: %s.%s is a list, which accessor %s cannot return", t.describe(), f.GoName, sub.GoName, acc.name)
				case typ != nil && g.goType(sub.Type) != g.goType(typ):
					return fmt.Errorf("%s: %s.%s is a %s, other messages' %s a %s", t.describe(), f.GoName, sub.GoName, g.goType(sub.Type), acc.name, g.goType(typ))
				}
				typ = sub.Type
				cases = append(cases, accessorCase{f.GoName, sub.GoName, strings.HasPrefix(g.fieldType(sub), "*")})
			}
		}
		if typ == nil {
			continue
		}
		g.emitAccessor(t, acc.name, acc.about, g.goType(typ), typ.Simple != nil, cases)
	}
	return nil
}

func (g *gen) emitAccessor(t *Type, name, about, typ string, simple bool, cases []accessorCase) {
	w := g.file(fileBody)
	var msgs []string
	for _, c := range cases {
		msgs = append(msgs, c.msg)
	}
	result, none := "*"+typ, "nil"
	if simple {
		result, none = "("+typ+", bool)", "0, false"
		w.comment(wrap(fmt.Sprintf("%s returns %s, and false when it has none. The messages that have one: %s.", name, about, andList(msgs)), 76))
	} else {
		w.comment(wrap(fmt.Sprintf("%s returns %s, or nil when it has none. The messages that have one: %s.", name, about, andList(msgs)), 76))
	}
	w.open("func (b *%s) %s() %s", t.GoName, name, result)
	w.open("switch b.Kind()")
	for _, c := range cases {
		w.line("case Kind%s:", c.msg)
		v := "b." + c.msg + "." + c.field
		switch {
		case simple && c.optional:
			w.open("if %s != nil", v)
			w.line("return *%s, true", v)
			w.close()
		case simple:
			w.line("return %s, true", v)
		case c.optional:
			w.line("return %s", v)
		default:
			w.line("return &%s", v)
		}
	}
	w.close()
	w.line("return %s", none)
	w.closeDecl()
}
