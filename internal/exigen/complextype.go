package exigen

import (
	"fmt"
	"strings"
)

// emitType writes complex type t: its struct, its reset for reuse, its
// grammar table, its decoder and its encoder.
func (g *gen) emitType(t *Type) {
	g.emitStruct(t)
	g.emitReset(t)
	g.emitGrammarTable(t)
	g.emitDecoder(t)
	g.emitEncoder(t)
}

// emitStruct writes t's Go struct: a field per attribute, simple content and
// child element, in event order.
func (g *gen) emitStruct(t *Type) {
	w := g.file(fileTypes)
	w.line("// %s is the schema type %s.", t.GoName, t.describe())
	w.open("type %s struct", t.GoName)
	for _, f := range g.gram[t].Fields {
		key := f.Q.Local
		if f.Kind == evCH {
			key = "Value"
		}
		omit := ""
		ft := g.fieldType(f)
		if strings.HasPrefix(ft, "*") || strings.HasPrefix(ft, "[]") || (ft == "exi.Bytes" && f.Min == 0) {
			omit = ",omitempty"
		}
		w.line("%s %s `json:\"%s%s\"`", f.GoName, ft, key, omit)
	}
	if isOpen(g.gram[t]) { // wildcard.go
		w.line("Any []exi.Mixed `json:\"Any,omitempty\"` // wildcard and mixed content")
	}
	w.closeDecl()
}

// grammarVar is the name of the variable holding t's grammar table.
func grammarVar(t *Type) string { return "grammar" + t.GoName }

// emitGrammarTable writes t's normalized grammar (§8.5.4) as an
// exi.Grammar, each state commented with its productions in event-code
// order, to compare with published traces.
func (g *gen) emitGrammarTable(t *Type) {
	w := g.file(fileGrammar)
	gr := g.gram[t]
	events := []string{"EE"}
	for _, f := range gr.Fields {
		switch f.Kind {
		case evAT:
			events = append(events, "AT("+f.Q.Local+")")
		case evCH:
			events = append(events, "CH")
		default:
			events = append(events, "SE("+f.Q.Local+")")
		}
	}
	w.open("var %s = exi.Grammar", grammarVar(t))
	w.line("Name: %q,", t.localName())
	w.line("Events: []string{%s},", quoteList(events))
	w.open("States: []exi.State")
	for i, s := range gr.States {
		var labels, prods []string
		for _, p := range s.Prods {
			labels = append(labels, p.Label)
			if p.Counter >= 0 {
				prods = append(prods, fmt.Sprintf("{Event: %d, Next: %d, Counter: %d, Max: %d, Exit: %d}", p.Event, p.Next, p.Counter, p.Max, p.Exit))
			} else {
				prods = append(prods, fmt.Sprintf("{Event: %d, Next: %d, Counter: -1}", p.Event, p.Next))
			}
		}
		w.line("// %d: %s", i, strings.Join(labels, " | "))
		w.line("{Width: %d, Level2: %d, EE2: %v, Prods: []exi.Prod{%s}},", s.Width, s.Level2, s.EE2, strings.Join(prods, ", "))
	}
	w.line("},")
	w.closeDecl()
}

// emitDecoder writes t's decodeEXI: the grammar's states as code, a switch
// per state with its constant width, that yields the event of the next
// field, and the decoding of each field's content. Other packages that
// reuse t call its exported DecodeEXI.
func (g *gen) emitDecoder(t *Type) {
	w := g.file(fileDecode)
	gr := g.gram[t]
	w.open("func (x *%s) decodeEXI(r *exi.Reader, a *arena) error", t.GoName)
	if gr.NumCounters > 0 {
		w.line("var counts [%d]int", gr.NumCounters)
	}
	open := isOpen(gr) // wildcard.go
	if open {
		w.line("kids := 0")
	}
	w.line("state := 0")
	w.open("for")
	w.line("var ev int")
	w.open("switch state")
	for i, st := range gr.States {
		g.decodeState(w, t, i, st)
	}
	w.close()
	w.open("switch ev")
	if open {
		openDecodeCases(w)
	}
	for _, f := range gr.Fields {
		w.line("case %d: // %s", f.Event, f.GoName)
		if open && f.Kind == evSE {
			w.line("kids++")
		}
		g.decodeField(w, t, f)
	}
	w.close()
	w.close()
	w.closeDecl()
	if g.cfg.Provides {
		w.line("// DecodeEXI decodes the content of an element of this type; codecs of")
		w.line("// other schema sets that reuse the type call it.")
		w.open("func (x *%s) DecodeEXI(r *exi.Reader) error", t.GoName)
		w.line("var a arena")
		w.line("return x.decodeEXI(r, &a)")
		w.closeDecl()
	}
}

// decodeState writes the case of state i: it reads the event code and sets
// ev and the next state, returns at EE, and hands second-level codes to
// Reader.Escape.
func (g *gen) decodeState(w *emitter, t *Type, i int, st GState) {
	gv := grammarVar(t)
	pr := st.Prods[0]
	switch {
	case st.Width == 1 && len(st.Prods) == 1 && pr.Event > 0 && pr.Counter < 0:
		// One production: its code is a single 0 bit.
		w.line("case %d: // %s", i, pr.Label)
		w.open("if !r.Zero()")
		w.assign("", "c", "r.Bits(1)")
		w.ifReturn("err", "ev, err := r.Escape(&%s, %d, int(c)); err != nil || ev == exi.EventEE", gv, i)
		w.close()
		w.line("ev, state = %d, %d", pr.Event, pr.Next)
		return
	case st.Width == 1 && len(st.Prods) == 1 && pr.Event == 0:
		w.line("case %d: // EE", i)
		w.open("if r.Zero()")
		w.line("return nil")
		w.close()
		w.assign("", "c", "r.Bits(1)")
		w.line("_, err = r.Escape(&%s, %d, int(c))", gv, i)
		w.line("return err")
		return
	}
	w.line("case %d:", i)
	// TryBits inlines; Bits, a call, only near the end of the input.
	w.line("c, ok := r.TryBits(%d)", st.Width)
	w.open("if !ok")
	w.line("var err error")
	w.ifReturn("err", "c, err = r.Bits(%d); err != nil", st.Width)
	w.close()
	w.open("switch c")
	for c, pr := range st.Prods {
		w.line("case %d: // %s", c, pr.Label)
		switch {
		case pr.Event < 0: // wildcard.go: openDecodeCases
			w.line("ev, state = %d, %d", pr.Event, pr.Next)
		case pr.Counter >= 0:
			w.line("ev = %d", pr.Event)
			w.line("counts[%d]++", pr.Counter)
			w.open("if counts[%d] >= %d", pr.Counter, pr.Max)
			w.line("state = %d", pr.Exit)
			w.line("} else {")
			w.line("state = %d", pr.Next)
			w.close()
		case pr.Event == 0:
			w.line("return nil")
		default:
			w.line("ev, state = %d, %d", pr.Event, pr.Next)
		}
	}
	w.line("default:")
	w.ifReturn("err", "ev, err := r.Escape(&%s, %d, int(c)); err != nil || ev == exi.EventEE", gv, i)
	w.close()
}

// decodeField writes the decoding of field f's content after its event.
func (g *gen) decodeField(w *emitter, t *Type, f *Field) {
	ft := g.fieldType(f)
	dst := "x." + f.GoName
	if f.Type.Simple != nil {
		keep := storeTo(dst)
		switch {
		case strings.HasPrefix(ft, "[]"):
			keep = storeAppend(dst)
		case strings.HasPrefix(ft, "*"):
			keep = g.storePtr(f.Type, dst)
		}
		if f.Kind == evSE && g.decodeFixedLeaf(w, f.Type, f.Q, keep) {
			return
		}
		field := f.Q.Local
		if f.Kind == evCH {
			field = t.localName()
		}
		if f.Kind != evSE {
			g.decodeValue(w, f.Type, f.Q, field, keep, "")
			return
		}
		// An element's CH and EE codes are almost always single 0 bits:
		// Zero takes them inline, LeafStart and LeafEnd the rest.
		w.line("empty := false")
		w.open("if !r.Zero()")
		w.line("var err error")
		w.ifReturn("err", "empty, err = r.LeafStart(); err != nil")
		w.close()
		w.open("if !empty")
		g.decodeValue(w, f.Type, f.Q, field, keep, "")
		w.open("if !r.Zero()")
		w.check("", "r.LeafEnd()")
		w.close()
		w.close()
		return
	}
	switch {
	case strings.HasPrefix(ft, "[]"):
		w.check("", "r.Alloc(unsafe.Sizeof(%s{}))", f.Type.GoName)
		item := dst + "[len(" + dst + ")-1]"
		w.line("%s = exi.Grow(%s)", dst, dst)
		w.line("%s", g.clearValue(f.Type, item))
		w.check("", "%s", g.decodeCall(f.Type, item, "r", "a"))
	case strings.HasPrefix(ft, "*"):
		w.check("", "r.Alloc(unsafe.Sizeof(%s{}))", f.Type.GoName)
		w.line("%s = %s", dst, g.newValue(f.Type))
		w.check("", "%s", g.decodeCall(f.Type, dst, "r", "a"))
	default:
		w.check("", "%s", g.decodeCall(f.Type, dst, "r", "a"))
	}
}

// emitEncoder writes t's encodeEXI: the fields in event order, each
// present one announced to Writer.Event, which finds its production in the
// grammar table, then EE. Other packages that reuse t call EncodeEXI.
func (g *gen) emitEncoder(t *Type) {
	w := g.file(fileEncode)
	gr := g.gram[t]
	w.open("func (x *%s) encodeEXI(w *exi.Writer) error", t.GoName)
	if gr.NumCounters > 0 {
		w.line("var counts [%d]int", gr.NumCounters)
	}
	w.line("state := 0")
	if isOpen(gr) { // wildcard.go
		w.line("ai, kids := 0, 0")
	}
	for _, f := range gr.Fields {
		g.encodeField(w, t, f)
	}
	if isOpen(gr) {
		openFlush(w, grammarVar(t), g.countsArg(t), true)
	}
	g.encodeEvent(w, t, 0)
	w.line("return nil")
	w.closeDecl()
	if g.cfg.Provides {
		w.line("// EncodeEXI encodes the content of an element of this type.")
		w.open("func (x *%s) EncodeEXI(w *exi.Writer) error", t.GoName)
		w.line("return x.encodeEXI(w)")
		w.closeDecl()
	}
}

// encodeEvent writes the Writer.Event call of event n of t.
func (g *gen) encodeEvent(w *emitter, t *Type, n int) {
	w.check("", "w.Event(&%s, &state, %d, %s)", grammarVar(t), n, g.countsArg(t))
}

// countsArg is the encoder's argument of its list counters: nil for a type
// without bounded lists.
func (g *gen) countsArg(t *Type) string {
	if g.gram[t].NumCounters > 0 {
		return "counts[:]"
	}
	return "nil"
}

// encodeField writes the encoding of field f: nothing when an optional
// field is absent, every item of a list (its length checked against
// maxOccurs).
func (g *gen) encodeField(w *emitter, t *Type, f *Field) {
	ft := g.fieldType(f)
	dst := "x." + f.GoName
	field := t.GoName + "." + f.GoName
	one := func(v string) {
		if f.Kind == evSE && isOpen(g.gram[t]) { // wildcard.go
			openFlush(w, grammarVar(t), g.countsArg(t), false)
		}
		g.encodeEvent(w, t, f.Event)
		switch {
		case f.Type.Simple == nil:
			w.check("", "%s", g.encodeCall(f.Type, v, "w"))
		case f.Kind == evSE:
			w.line("w.Leaf()")
			g.encodeValue(w, f.Type, v, field, "")
			w.line("w.Leaf()")
		default:
			g.encodeValue(w, f.Type, v, field, "")
		}
	}
	// byValue is how the value of dst is passed: complex values by address.
	byValue := func(v string) string {
		if f.Type.Simple != nil {
			return v
		}
		return "(&" + v + ")"
	}
	switch {
	case strings.HasPrefix(ft, "[]"):
		if f.Max > 0 {
			w.check("", "exi.CheckItems(%q, len(%s), %d)", field, dst, f.Max)
		}
		w.open("for i := range %s", dst)
		one(byValue(dst + "[i]"))
		w.close()
	case ft == "exi.Bytes" && (f.Min == 0 || f.Kind == evCH):
		// Binary is absent as nil; simple content then has no CH at all
		// (EE through the second level).
		w.open("if %s != nil", dst)
		one(dst)
		w.close()
	case strings.HasPrefix(ft, "*"):
		w.open("if %s != nil", dst)
		if f.Type.Simple != nil {
			one("*" + dst)
		} else {
			one(dst)
		}
		w.close()
	default:
		one(byValue(dst))
	}
}
