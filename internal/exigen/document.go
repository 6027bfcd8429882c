package exigen

import (
	"fmt"
	"strings"
)

// emitDocument writes Document, the document grammar (§8.5.1) of the
// schema set: one field per global element, and its decoder and encoder.
func (g *gen) emitDocument() {
	w := g.file(fileTypes)
	w.line("// Document is an EXI document of this schema set: exactly one of its")
	w.line("// fields, the root element, is set.")
	w.open("type Document struct")
	for _, e := range g.globals {
		w.line("%s %s `json:\"%s,omitempty\"`", goIdent(e.Name.Local), g.ptrType(e.Type), e.Name.Local)
	}
	w.closeDecl()
	g.emitUnmarshal()
	g.emitAppend()
}

// emitUnmarshal writes Unmarshal and UnmarshalWithNotes: the header, the
// root element's code (one per global element, then SE(*)) and its content.
func (g *gen) emitUnmarshal() {
	w := g.file(fileDecode)
	w.line("// Unmarshal decodes the EXI document in b into d. It returns the number of")
	w.line("// bytes the document takes; bytes after it (some cars send padding) are")
	w.line("// left unread, so n < len(b) reports them. A value that breaks a facet of")
	w.line("// the schema but fits its field is kept; UnmarshalWithNotes reports them.")
	w.open("func Unmarshal(b []byte, d *Document) (n int, err error)")
	w.line("var r exi.Reader")
	w.line("var a arena")
	w.line("r.Reset(b)")
	w.line("*d = Document{}")
	w.line("_, n, err = unmarshal(&r, &a, d)")
	w.line("return n, err")
	w.closeDecl()
	w.line("// UnmarshalWithNotes is Unmarshal that also returns the values it kept")
	w.line("// although a facet of the schema forbids them (at most exi.MaxNotes, nil")
	w.line("// for a valid document); Append refuses a document holding one.")
	w.open("func UnmarshalWithNotes(b []byte, d *Document) (n int, notes []exi.Note, err error)")
	w.line("var r exi.Reader")
	w.line("var a arena")
	w.line("r.Reset(b)")
	w.line("*d = Document{}")
	w.line("_, n, err = unmarshal(&r, &a, d)")
	w.line("return n, r.Notes(), err")
	w.closeDecl()
	g.emitDocumentDecoder()

	w.line("// unmarshal decodes the document r was reset to into d, whose fields are")
	w.line("// nil, taking its complex values from a. root is the code of the root")
	w.line("// element, set in d also on error (-1: none).")
	w.open("func unmarshal(r *exi.Reader, a *arena, d *Document) (root, n int, err error)")
	w.line("r.UseNames(&exiNames)")
	w.check("-1, 0, ", "r.Header()")
	w.assign("-1, 0, ", "c", fmt.Sprintf("r.Bits(%d)", bitsFor(len(g.globals)+1)))
	w.line("root = int(c)")
	w.open("switch c")
	for i, e := range g.globals {
		w.line("case %d:", i)
		fn := goIdent(e.Name.Local)
		if e.Type.Simple != nil {
			w.ifReturn("root, r.Len(), err", "empty, err := r.LeafStart(); err != nil || empty")
			g.decodeValue(w, e.Type, e.Name, e.Name.Local, g.storeRoot(e.Type, "d."+fn), "root, 0, ")
			w.check("root, 0, ", "r.LeafEnd()")
		} else {
			w.line("d.%s = %s", fn, g.newValue(e.Type))
			w.check("root, 0, ", "%s", g.decodeCall(e.Type, "d."+fn, "r", "a"))
		}
	}
	w.line("case %d:", len(g.globals))
	w.line("return -1, 0, r.Errorf(\"root element outside the schema (SE(*)) is not supported\")")
	w.line("default:")
	w.line("return -1, 0, r.Errorf(\"invalid root element code %%d\", c)")
	w.close()
	w.line("return root, r.Len(), nil")
	w.closeDecl()

	w.line("// clearRoot sets the root element field of code c to nil (-1: none).")
	w.open("func (d *Document) clearRoot(c int)")
	w.open("switch c")
	for i, e := range g.globals {
		w.line("case %d:", i)
		w.line("d.%s = nil", goIdent(e.Name.Local))
	}
	w.close()
	w.closeDecl()
}

// emitAppend writes Marshal and Append, which encode the one root element
// set in a Document.
func (g *gen) emitAppend() {
	w := g.file(fileEncode)
	w.line("// Marshal encodes d as an EXI document into a new slice.")
	w.open("func Marshal(d *Document) ([]byte, error)")
	w.line("b, err := Append(make([]byte, 0, 256), d)")
	w.ifReturn("nil, err", "err != nil")
	w.line("return b, nil")
	w.closeDecl()
	w.line("// Append encodes d as an EXI document and appends it to dst; it does not")
	w.line("// allocate when dst has room. On error it returns dst unchanged.")
	w.open("func Append(dst []byte, d *Document) ([]byte, error)")
	w.line("var w exi.Writer")
	w.line("w.Reset(dst)")
	w.line("w.UseNames(&exiNames)")
	w.line("w.Header()")
	w.line("set := 0")
	width := bitsFor(len(g.globals) + 1)
	for i, e := range g.globals {
		fn := goIdent(e.Name.Local)
		w.open("if d.%s != nil", fn)
		w.line("set++")
		w.open("if set == 1")
		w.line("w.Bits(%d, %d)", i, width)
		g.encodeRoot(w, e.Type, "d."+fn, fn)
		w.close()
		w.close()
	}
	w.open("if set != 1")
	w.line("return dst, &exi.SchemaError{Field: \"%s.Document\", Msg: fmt.Sprintf(\"a document has exactly one root element, %%d are set\", set)}", g.cfg.Package)
	w.close()
	w.line("return w.Bytes(), nil")
	w.closeDecl()
}

// encodeRoot writes the encoding of the root element of type t held in
// the Document or Fragment field dst.
func (g *gen) encodeRoot(w *emitter, t *Type, dst, field string) {
	if t.Simple == nil {
		w.check("dst, ", "%s", g.encodeCall(t, dst, "&w"))
		return
	}
	v := "*" + dst
	if g.ptrType(t) == "exi.Bytes" {
		v = dst
	}
	w.line("w.Leaf()")
	g.encodeValue(w, t, v, field, "dst, ")
	w.line("w.Leaf()")
}

// emitKinds writes MessageKind, one constant per field of the Body type (the
// members of its substitution group, in field order), and Body.Kind, so
// that a session can dispatch on a message and index tables by it.
func (g *gen) emitKinds(t *Type) error {
	fs := g.gram[t].Fields
	for _, f := range fs {
		if ft := g.fieldType(f); !strings.HasPrefix(ft, "*") && !strings.HasPrefix(ft, "[]") && ft != "exi.Bytes" {
			return fmt.Errorf("%s: field %s is not optional, so a body may hold several messages", t.describe(), f.GoName)
		}
	}
	w := g.file(fileTypes)
	w.line("// MessageKind names one message of the Body substitution group.")
	w.line("type MessageKind uint8")
	w.blank()
	w.line("// Kinds of message, in the field order of %s.", t.GoName)
	w.line("const (")
	w.line("KindNone MessageKind = iota // an empty Body")
	names := []string{"None"}
	for _, f := range fs {
		w.line("Kind%s", f.GoName)
		names = append(names, f.GoName)
	}
	w.line("NumMessageKinds // the number of kinds, for tables indexed by kind")
	w.line(")")
	w.blank()
	w.line("var namesMessageKind = [...]string{%s}", quoteList(names))
	w.blank()
	w.line("// String returns the message name of k (its element name), or \"None\".")
	w.open("func (k MessageKind) String() string")
	w.open("if int(k) < len(namesMessageKind)")
	w.line("return namesMessageKind[k]")
	w.close()
	w.line("return \"MessageKind(\" + strconv.Itoa(int(k)) + \")\"")
	w.closeDecl()
	w.line("var messageKinds = [...]message.Kind{%s}", g.messageList(fs))
	w.blank()
	w.line("// Message returns k as the project-wide kind of message, message.None for")
	w.line("// KindNone.")
	w.open("func (k MessageKind) Message() message.Kind")
	w.open("if int(k) < len(messageKinds)")
	w.line("return messageKinds[k]")
	w.close()
	w.line("return message.None")
	w.closeDecl()
	w.line("// Kind returns the kind of the message the body holds: the first non-nil field.")
	w.open("func (b *%s) Kind() MessageKind", t.GoName)
	w.open("switch")
	for _, f := range fs {
		w.line("case b.%s != nil:", f.GoName)
		w.line("return Kind%s", f.GoName)
	}
	w.close()
	w.line("return KindNone")
	w.closeDecl()
	return g.emitBodyAccessors(t, fs)
}
