package exigen

import "fmt"

// fragElem is one entry of the fragment grammar (§8.5.2): a unique element
// qname of the schema set; Type is nil when declarations disagree on the
// type (the relaxed element fragment grammar, see relaxed.go).
type fragElem struct {
	Q      QName
	Type   *Type
	GoName string
	Key    string
}

// fragmentElements lists every element qname declared in the schema set,
// globally or locally, sorted by local name then namespace.
func fragmentElements(s *Schema) []*fragElem {
	byQ := map[QName]*fragElem{}
	clash := map[QName]bool{}
	note := func(e *Element) {
		f, ok := byQ[e.Name]
		if !ok {
			byQ[e.Name] = &fragElem{Q: e.Name, Type: e.Type}
			return
		}
		if f.Type != e.Type {
			clash[e.Name] = true
		}
	}
	var walk func(p *Particle)
	walk = func(p *Particle) {
		switch {
		case p == nil:
		case p.Elem != nil:
			note(p.Elem)
		case p.Group != nil:
			for _, c := range p.Group.Particles {
				walk(c)
			}
		}
	}
	for _, e := range s.Elements {
		note(e)
	}
	for _, t := range s.Types {
		walk(t.Content)
	}
	for _, t := range s.anonTypes {
		walk(t.Content)
	}
	var out []*fragElem
	for q, f := range byQ {
		if clash[q] {
			f.Type = nil
		}
		out = append(out, f)
	}
	sortFrag(out)
	return out
}

func sortFrag(fs []*fragElem) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Q.less(fs[j-1].Q); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// nameFragment gives each fragment element its Go field name and JSON key.
func nameFragment(fs []*fragElem) {
	used := map[string]bool{}
	keys := map[string]int{}
	for _, f := range fs {
		keys[f.Q.Local]++
	}
	for _, f := range fs {
		name := uniqueName(used, goIdent(f.Q.Local))
		f.GoName = name
		f.Key = f.Q.Local
		if keys[f.Q.Local] > 1 {
			f.Key = name // one local name in several namespaces
		}
	}
}

// emitFragment writes Fragment, the fragment grammar (§8.5.2) of the schema
// set, with its decoder and encoder.
func (g *gen) emitFragment() {
	nameFragment(g.frag)
	w := g.file(fileFragment)
	w.line("// Fragment is an EXI fragment (EXI 1.0 §8.5.2) of this schema set, as")
	w.line("// signatures digest them: any sequence of elements, here at most one of")
	w.line("// each, encoded in code order.")
	w.open("type Fragment struct")
	for _, f := range g.frag {
		if f.Type == nil { // relaxed.go
			w.line("%s *exi.RelaxedElement `json:\"%s,omitempty\"`", f.GoName, f.Key)
			continue
		}
		w.line("%s %s `json:\"%s,omitempty\"`", f.GoName, g.ptrType(f.Type), f.Key)
	}
	w.closeDecl()
	g.emitRelaxed()
	g.emitUnmarshalFragment()
	g.emitAppendFragment()
}

// fragmentWidth is the width of a fragment's element codes: one per
// element, SE(*) and ED.
func (g *gen) fragmentWidth() int { return bitsFor(len(g.frag) + 2) }

// emitUnmarshalFragment writes UnmarshalFragment and
// UnmarshalFragmentWithNotes: element after element until ED.
func (g *gen) emitUnmarshalFragment() {
	w := g.file(fileFragment)
	n := len(g.frag)
	w.line("// UnmarshalFragment decodes the EXI fragment in b into f and returns the")
	w.line("// bytes it takes. Values that break a facet are kept, as by Unmarshal.")
	w.open("func UnmarshalFragment(b []byte, f *Fragment) (n int, err error)")
	w.line("var r exi.Reader")
	w.line("return unmarshalFragment(&r, b, f)")
	w.closeDecl()
	w.line("// UnmarshalFragmentWithNotes is UnmarshalFragment that also returns the")
	w.line("// values it kept although a facet of the schema forbids them.")
	w.open("func UnmarshalFragmentWithNotes(b []byte, f *Fragment) (n int, notes []exi.Note, err error)")
	w.line("var r exi.Reader")
	w.line("n, err = unmarshalFragment(&r, b, f)")
	w.line("return n, r.Notes(), err")
	w.closeDecl()
	w.open("func unmarshalFragment(r *exi.Reader, b []byte, f *Fragment) (n int, err error)")
	w.line("var a arena")
	w.line("r.Reset(b)")
	w.line("r.UseNames(&exiNames)")
	w.check("0, ", "r.Header()")
	w.line("*f = Fragment{}")
	w.open("for")
	w.assign("0, ", "c", fmt.Sprintf("r.Bits(%d)", g.fragmentWidth()))
	w.open("switch c")
	for i, f := range g.frag {
		w.line("case %d:", i)
		w.ifReturn(fmt.Sprintf("0, r.Errorf(\"fragment holds %s twice\")", f.Q.Local), "f.%s != nil", f.GoName)
		if f.Type == nil { // relaxed.go
			w.ifReturn("0, err", "f.%s, err = r.Relaxed(&exiRelaxed, %q); err != nil", f.GoName, f.Q.String())
			continue
		}
		dst := "f." + f.GoName
		if f.Type.Simple != nil {
			w.open("if empty, err := r.LeafStart(); err != nil")
			w.line("return 0, err")
			w.open("} else if !empty")
			g.decodeValue(w, f.Type, f.Q, f.Q.Local, g.storeRoot(f.Type, dst), "0, ")
			w.check("0, ", "r.LeafEnd()")
			w.close()
		} else {
			w.line("%s = new(%s)", dst, g.goType(f.Type))
			w.check("0, ", "%s", g.decodeCall(f.Type, dst, "r", "&a"))
		}
	}
	w.line("case %d:", n)
	w.line("return 0, r.Errorf(\"fragment element outside the schema (SE(*)) is not supported\")")
	w.line("case %d:", n+1)
	w.line("return r.Len(), nil")
	w.line("default:")
	w.line("return 0, r.Errorf(\"invalid fragment element code %%d\", c)")
	w.close()
	w.close()
	w.closeDecl()
}

// emitAppendFragment writes AppendFragment: the elements set, in code
// order, then ED.
func (g *gen) emitAppendFragment() {
	w := g.file(fileFragment)
	width := g.fragmentWidth()
	w.line("// AppendFragment encodes f as an EXI fragment and appends it to dst. On")
	w.line("// error it returns dst unchanged.")
	w.open("func AppendFragment(dst []byte, f *Fragment) ([]byte, error)")
	w.line("var w exi.Writer")
	w.line("w.Reset(dst)")
	w.line("w.UseNames(&exiNames)")
	w.line("w.Header()")
	for i, f := range g.frag {
		if f.Type == nil { // relaxed.go
			w.open("if f.%s != nil", f.GoName)
			w.line("w.Bits(%d, %d)", i, width)
			w.check("dst, ", "w.Relaxed(&exiRelaxed, %q, f.%s)", f.Q.String(), f.GoName)
			w.close()
			continue
		}
		w.open("if f.%s != nil", f.GoName)
		w.line("w.Bits(%d, %d)", i, width)
		g.encodeRoot(w, f.Type, "f."+f.GoName, f.GoName)
		w.close()
	}
	w.line("w.Bits(%d, %d)", len(g.frag)+1, width)
	w.line("return w.Bytes(), nil")
	w.closeDecl()
}
