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
	{"EVSEPresentVoltage", "the charger's present voltage in the response the body holds"},
	{"EVTargetVoltage", "the voltage the car asks for in the request the body holds"},
	{"EVTargetCurrent", "the current the car asks for in the request the body holds"},
}

// bodyAbout is the header of the file of a Body's accessors, which names
// the accessors written.
func (g *gen) bodyAbout() string {
	doc := "Document.Body and Document.SessionID read the body and the header's SessionID of a V2G_Message, nil when the document holds none."
	if len(g.accessors) == 0 {
		return doc
	}
	return "The accessors of BodyType: " + andList(g.accessors) + " each read the field of that name in whichever message the body holds (the one Kind names), so that code serving several protocols needs no switch over the messages of each. " +
		"An enumeration comes with ok false, a structure as nil, when the message has no such field; a structure is the message's own memory. " +
		doc
}

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
		g.accessors = append(g.accessors, acc.name)
	}
	g.emitMessageAccessors(t)
	return nil
}

// emitMessageAccessors writes Document.Body and Document.SessionID when
// a root element is a message of a Header (with a SessionID) and the Body
// type t, as DIN's and ISO-2's V2G_Message.
func (g *gen) emitMessageAccessors(t *Type) {
	for _, e := range g.globals {
		if g.gram[e.Type] == nil { // simple content
			continue
		}
		var body, header *Field
		for _, f := range g.gram[e.Type].Fields {
			switch {
			case f.Kind == evSE && f.Q.Local == "Body" && f.Type == t && f.Max == 1 && f.Min == 1:
				body = f
			case f.Kind == evSE && f.Q.Local == "Header" && f.Max == 1 && f.Min == 1:
				header = f
			}
		}
		if body == nil || header == nil || g.gram[header.Type] == nil {
			continue
		}
		var sid *Field
		for _, f := range g.gram[header.Type].Fields {
			if f.Kind == evSE && f.Q.Local == "SessionID" && f.Max == 1 && f.Min == 1 {
				sid = f
			}
		}
		if sid == nil {
			continue
		}
		root := goIdent(e.Name.Local)
		w := g.file(fileBody)
		w.comment(fmt.Sprintf("Body returns the %s of the document's %s, or nil when the\ndocument holds no %s.", body.GoName, root, root))
		w.open("func (d *Document) Body() *%s", t.GoName)
		w.open("if d.%s == nil", root)
		w.line("return nil")
		w.close()
		w.line("return &d.%s.%s", root, body.GoName)
		w.closeDecl()
		w.comment(fmt.Sprintf("SessionID returns the %s of the %s's %s, or nil when the\ndocument holds no %s.", sid.GoName, root, header.GoName, root))
		w.open("func (d *Document) SessionID() []byte")
		w.open("if d.%s == nil", root)
		w.line("return nil")
		w.close()
		w.line("return d.%s.%s.%s", root, header.GoName, sid.GoName)
		w.closeDecl()
		return
	}
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
