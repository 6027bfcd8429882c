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

func (g *gen) emitFragment() {
	fs := g.frag
	n := len(fs)
	w := bitsFor(n + 2)
	used := map[string]bool{}
	keys := map[string]int{}
	for _, f := range fs {
		keys[f.Q.Local]++
	}
	for _, f := range fs {
		base := goIdent(f.Q.Local)
		name := base
		for i := 2; used[name]; i++ {
			name = fmt.Sprintf("%s%d", base, i)
		}
		used[name] = true
		f.GoName = name
		f.Key = f.Q.Local
		if keys[f.Q.Local] > 1 {
			f.Key = name // one local name in several namespaces
		}
	}
	g.p("// Fragment is an EXI fragment (EXI 1.0 §8.5.2) of this schema set, as\n")
	g.p("// signatures digest them: any sequence of elements, here at most one of\n// each, encoded in code order.\ntype Fragment struct {\n")
	for _, f := range fs {
		if f.Type == nil { // relaxed.go
			g.p("%s *exi.RelaxedElement `json:\"%s,omitempty\"`\n", f.GoName, f.Key)
			continue
		}
		g.p("%s %s `json:\"%s,omitempty\"`\n", f.GoName, g.ptrType(f.Type), f.Key)
	}
	g.p("}\n\n")
	g.emitRelaxed()
	g.p("// UnmarshalFragment decodes the EXI fragment in b into f and returns the\n// bytes it takes. Values that break a facet are kept, as by Unmarshal.\n")
	g.p("func UnmarshalFragment(b []byte, f *Fragment) (n int, err error) {\nvar r exi.Reader\nreturn unmarshalFragment(&r, b, f)\n}\n\n")
	g.p("// UnmarshalFragmentWithNotes is UnmarshalFragment that also returns the\n// values it kept although a facet of the schema forbids them.\n")
	g.p("func UnmarshalFragmentWithNotes(b []byte, f *Fragment) (n int, notes []exi.Note, err error) {\nvar r exi.Reader\nn, err = unmarshalFragment(&r, b, f)\nreturn n, r.Notes(), err\n}\n\n")
	g.p("func unmarshalFragment(r *exi.Reader, b []byte, f *Fragment) (n int, err error) {\nvar a arena\nr.Reset(b)\nr.UseNames(&exiNames)\nif err := r.Header(); err != nil {\nreturn 0, err\n}\n*f = Fragment{}\nfor {\n")
	g.p("c, err := r.Bits(%d)\nif err != nil {\nreturn 0, err\n}\nswitch c {\n", w)
	for i, f := range fs {
		g.p("case %d:\n", i)
		if f.Type == nil { // relaxed.go
			g.p("if f.%s != nil {\nreturn 0, r.Errorf(\"fragment holds %s twice\")\n}\n", f.GoName, f.Q.Local)
			g.p("if f.%s, err = r.Relaxed(&exiRelaxed, %q); err != nil {\nreturn 0, err\n}\n", f.GoName, f.Q.String())
			continue
		}
		g.p("if f.%s != nil {\nreturn 0, r.Errorf(\"fragment holds %s twice\")\n}\n", f.GoName, f.Q.Local)
		if f.Type.Simple != nil {
			g.p("if empty, err := r.LeafStart(); err != nil {\nreturn 0, err\n} else if !empty {\n")
			if g.ptrType(f.Type) == "exi.Bytes" {
				g.decodeValue(f.Type, f.Q, f.Q.Local, func(v string) string { return fmt.Sprintf("f.%s = %s", f.GoName, v) }, "0, ")
			} else {
				g.decodeValue(f.Type, f.Q, f.Q.Local, func(v string) string { return g.ptrAssign(f.Type, "f."+f.GoName, v) }, "0, ")
			}
			g.p("if err := r.LeafEnd(); err != nil {\nreturn 0, err\n}\n}\n")
		} else {
			g.p("f.%s = new(%s)\nif err := %s; err != nil {\nreturn 0, err\n}\n", f.GoName, g.goType(f.Type), g.decodeCall(f.Type, "f."+f.GoName, "r", "&a"))
		}
	}
	g.p("case %d:\nreturn 0, r.Errorf(\"fragment element outside the schema (SE(*)) is not supported\")\n", n)
	g.p("case %d:\nreturn r.Len(), nil\n", n+1)
	g.p("default:\nreturn 0, r.Errorf(\"invalid fragment element code %%d\", c)\n}\n}\n}\n\n")

	g.p("// AppendFragment encodes f as an EXI fragment and appends it to dst. On\n// error it returns dst unchanged.\n")
	g.p("func AppendFragment(dst []byte, f *Fragment) ([]byte, error) {\nvar w exi.Writer\nw.Reset(dst)\nw.UseNames(&exiNames)\nw.Header()\n")
	for i, f := range fs {
		if f.Type == nil { // relaxed.go
			g.p("if f.%s != nil {\nw.Bits(%d, %d)\nif err := w.Relaxed(&exiRelaxed, %q, f.%s); err != nil {\nreturn dst, err\n}\n}\n", f.GoName, i, w, f.Q.String(), f.GoName)
			continue
		}
		g.p("if f.%s != nil {\nw.Bits(%d, %d)\n", f.GoName, i, w)
		if f.Type.Simple != nil {
			g.p("w.Leaf()\n")
			v := "*f." + f.GoName
			if g.ptrType(f.Type) == "exi.Bytes" {
				v = "f." + f.GoName
			}
			g.encodeValue(f.Type, v, f.GoName, "dst, ")
			g.p("w.Leaf()\n")
		} else {
			g.p("if err := %s; err != nil {\nreturn dst, err\n}\n", g.encodeCall(f.Type, "f."+f.GoName, "&w"))
		}
		g.p("}\n")
	}
	g.p("w.Bits(%d, %d)\nreturn w.Bytes(), nil\n}\n\n", n+1, w)
}
