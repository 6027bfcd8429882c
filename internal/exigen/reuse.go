package exigen

import "strings"

// The memory of decoded documents. Unmarshal decodes into new memory, the
// most common optional values in blocks of four. A Decoder keeps what it
// decodes into (a slab per complex type, the lists' backing arrays, the
// Reader's scalars) and hands it out again for the next document, so that
// a session's messages decode without allocating. Every value taken again
// is cleared by its type's reset, which keeps the memory of its lists.

// emitArena writes arena, what decoders take complex values from, and
// slabs, the storage a Decoder keeps across documents.
func (g *gen) emitArena() {
	uses := map[*Type]int{}
	kept := map[*Type]bool{}
	for _, t := range g.types {
		for _, f := range g.gram[t].Fields {
			if f.Type.Simple == nil && strings.HasPrefix(g.fieldType(f), "*") {
				uses[f.Type]++
				kept[f.Type] = true
			}
		}
	}
	for _, e := range g.globals {
		if e.Type.Simple == nil {
			kept[e.Type] = true
		}
	}
	g.pooled = map[*Type]bool{}
	var pooled []*Type
	for _, t := range g.types {
		if uses[t] >= 3 && g.ext[t] == nil {
			g.pooled[t] = true
			pooled = append(pooled, t)
		}
		if kept[t] {
			g.kept = append(g.kept, t)
		}
	}
	w := g.file(fileDecode)
	w.line("// arena hands out the complex values of one document: new memory for")
	w.line("// Unmarshal (the common optional values in blocks), a Decoder's slabs")
	w.line("// again for each of its documents.")
	w.open("type arena struct")
	w.line("keep *slabs")
	w.line("gen uint32")
	for _, t := range pooled {
		w.line("b%s []%s", t.GoName, t.GoName)
	}
	w.closeDecl()
	w.line("// slabs is the storage of complex values a Decoder keeps.")
	w.open("type slabs struct")
	for _, t := range g.kept {
		w.line("%s exi.Slab[%s]", slabName(t), t.GoName)
	}
	w.closeDecl()
	for _, t := range g.kept {
		n := slabName(t)
		w.open("func (a *arena) new%s() *%s", n, t.GoName)
		w.open("if a.keep != nil")
		w.line("p := a.keep.%s.New(a.gen)", n)
		w.line("%s", g.clearValue(t, "*p"))
		w.line("return p")
		w.close()
		if g.pooled[t] {
			w.open("if len(a.b%s) == 0", n)
			w.line("a.b%s = make([]%s, 4)", n, n)
			w.close()
			w.line("p := &a.b%s[0]", n)
			w.line("a.b%s = a.b%s[1:]", n, n)
			w.line("return p")
		} else {
			w.line("return new(%s)", t.GoName)
		}
		w.closeDecl()
	}
}

// slabName names t's slab: its Go name, with the package of a type reused
// from another one (iso20_RationalNumberType).
func slabName(t *Type) string { return strings.ReplaceAll(t.GoName, ".", "_") }

// newValue is the expression that allocates a complex value of t.
func (g *gen) newValue(t *Type) string { return "a.new" + slabName(t) + "()" }

// clearValue is the statement that clears expr, a value of complex type t
// that held an earlier document's content (expr "*p" for a pointer p).
func (g *gen) clearValue(t *Type, expr string) string {
	if g.ext[t] == nil && strings.HasPrefix(expr, "*") {
		return expr[1:] + ".reset()"
	}
	if g.ext[t] != nil {
		return expr + " = " + t.GoName + "{}"
	}
	return expr + ".reset()"
}

// keepsLists reports whether t's reset keeps memory: t has a list, or an
// inline field of a type that has.
func (g *gen) keepsLists(t *Type) bool {
	if g.lists == nil {
		g.lists = map[*Type]bool{}
	}
	if v, ok := g.lists[t]; ok {
		return v
	}
	g.lists[t] = false // a type cannot hold itself inline
	v := false
	for _, f := range g.gram[t].Fields {
		ft := g.fieldType(f)
		if strings.HasPrefix(ft, "[]") && ft != "[]byte" || f.Type.Simple == nil && g.ext[f.Type] == nil && ft == g.goType(f.Type) && g.keepsLists(f.Type) {
			v = true
		}
	}
	g.lists[t] = v
	return v
}

// emitReset writes t's reset, which clears a value for the next document
// and keeps the backing arrays of its lists (their elements are cleared as
// they are taken again).
func (g *gen) emitReset(t *Type) {
	w := g.file(fileDecode)
	w.line("// reset clears x for another document, keeping the memory of its lists.")
	w.open("func (x *%s) reset()", t.GoName)
	if !g.keepsLists(t) {
		w.line("*x = %s{}", t.GoName)
		w.closeDecl()
		return
	}
	var keep, inner []string
	for _, f := range g.gram[t].Fields {
		ft := g.fieldType(f)
		switch {
		case strings.HasPrefix(ft, "[]"):
			keep = append(keep, f.GoName+": x."+f.GoName+"[:0]")
		case f.Type.Simple == nil && g.ext[f.Type] == nil && ft == g.goType(f.Type) && g.keepsLists(f.Type):
			keep = append(keep, f.GoName+": x."+f.GoName)
			inner = append(inner, "x."+f.GoName+".reset()")
		}
	}
	w.line("*x = %s{%s}", t.GoName, strings.Join(keep, ", "))
	for _, s := range inner {
		w.line("%s", s)
	}
	w.closeDecl()
}

// emitDocumentDecoder writes Decoder, which decodes one document after
// another into the memory it keeps.
func (g *gen) emitDocumentDecoder() {
	w := g.file(fileDecode)
	w.comment(`Decoder decodes one document after another, as a session's messages
arrive, into memory it keeps: once it has seen a kind of message,
decoding another allocates nothing. The Document that Decode returns and
everything it points to (structs, lists, byte slices, optional values)
belong to the Decoder and stay valid only until its next Decode, which
overwrites them: copy what must outlive it. Strings are never
overwritten. The zero Decoder is ready to use; it is not safe for
concurrent use.`)
	w.open("type Decoder struct")
	w.line("r exi.Reader")
	w.line("keep slabs")
	w.line("doc Document")
	w.line("root int // code of doc's root element, plus one (0: none)")
	w.closeDecl()
	w.comment(`Decode decodes the EXI document in b as Unmarshal does, into the
Decoder's Document; n is the number of bytes the document takes. On
error the Document holds what was decoded before it (a charger answers
a request it cannot read with the failure of its kind).`)
	w.open("func (dec *Decoder) Decode(b []byte) (d *Document, n int, err error)")
	w.line("dec.r.Reuse(b)")
	w.line("a := arena{keep: &dec.keep, gen: dec.r.Gen()}")
	w.line("dec.doc.clearRoot(dec.root - 1)")
	w.line("root, n, err := unmarshal(&dec.r, &a, &dec.doc)")
	w.line("dec.root = root + 1")
	w.line("return &dec.doc, n, err")
	w.closeDecl()
	w.comment(`Notes returns the values the last Decode kept although a facet of the
schema forbids them, as UnmarshalWithNotes does; valid until the next
Decode.`)
	w.line("func (dec *Decoder) Notes() []exi.Note { return dec.r.Notes() }")
	w.blank()
}
