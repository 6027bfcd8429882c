package exigen

import (
	"fmt"
	"strings"
)

// emitArena writes the per-document block allocator of the complex types
// that occur as optional values in three or more places (PhysicalValueType
// and the like): one allocation then serves several of them.
func (g *gen) emitArena() {
	uses := map[*Type]int{}
	for _, t := range g.types {
		for _, f := range g.gram[t].Fields {
			if f.Type.Simple == nil && strings.HasPrefix(g.fieldType(f), "*") {
				uses[f.Type]++
			}
		}
	}
	g.pooled = map[*Type]bool{}
	var pooled []*Type
	for _, t := range g.types {
		if uses[t] >= 3 && g.ext[t] == nil {
			g.pooled[t] = true
			pooled = append(pooled, t)
		}
	}
	w := g.file(fileDecode)
	w.line("// arena hands out the optional values of one document in blocks.")
	w.open("type arena struct")
	for _, t := range pooled {
		w.line("b%s []%s", t.GoName, t.GoName)
	}
	w.closeDecl()
	for _, t := range pooled {
		n := t.GoName
		w.open("func (a *arena) new%s() *%s", n, n)
		w.open("if len(a.b%s) == 0", n)
		w.line("a.b%s = make([]%s, 4)", n, n)
		w.close()
		w.line("p := &a.b%s[0]", n)
		w.line("a.b%s = a.b%s[1:]", n, n)
		w.line("return p")
		w.closeDecl()
	}
}

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
	w.line("return unmarshal(&r, b, d)")
	w.closeDecl()
	w.line("// UnmarshalWithNotes is Unmarshal that also returns the values it kept")
	w.line("// although a facet of the schema forbids them (at most exi.MaxNotes, nil")
	w.line("// for a valid document); Append refuses a document holding one.")
	w.open("func UnmarshalWithNotes(b []byte, d *Document) (n int, notes []exi.Note, err error)")
	w.line("var r exi.Reader")
	w.line("n, err = unmarshal(&r, b, d)")
	w.line("return n, r.Notes(), err")
	w.closeDecl()

	w.open("func unmarshal(r *exi.Reader, b []byte, d *Document) (n int, err error)")
	w.line("var a arena")
	w.line("r.Reset(b)")
	w.check("0, ", "r.Header()")
	// Clear what an earlier document left without storing every field: a
	// store of a pointer costs a write barrier while the collector runs.
	for _, e := range g.globals {
		fn := goIdent(e.Name.Local)
		w.open("if d.%s != nil", fn)
		w.line("d.%s = nil", fn)
		w.close()
	}
	w.assign("0, ", "c", fmt.Sprintf("r.Bits(%d)", bitsFor(len(g.globals)+1)))
	w.open("switch c")
	for i, e := range g.globals {
		w.line("case %d:", i)
		fn := goIdent(e.Name.Local)
		if e.Type.Simple != nil {
			w.ifReturn("r.Len(), err", "empty, err := r.LeafStart(); err != nil || empty")
			g.decodeValue(w, e.Type, e.Name, e.Name.Local, g.storeRoot(e.Type, "d."+fn), "0, ")
			w.check("0, ", "r.LeafEnd()")
		} else {
			w.line("d.%s = new(%s)", fn, g.goType(e.Type))
			w.check("0, ", "%s", g.decodeCall(e.Type, "d."+fn, "r", "&a"))
		}
	}
	w.line("case %d:", len(g.globals))
	w.line("return 0, r.Errorf(\"root element outside the schema (SE(*)) is not supported\")")
	w.line("default:")
	w.line("return 0, r.Errorf(\"invalid root element code %%d\", c)")
	w.close()
	w.line("return r.Len(), nil")
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
	return nil
}
