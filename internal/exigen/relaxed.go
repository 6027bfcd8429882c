package exigen

import (
	"fmt"
	"sort"
	"strings"
)

// The relaxed element fragment grammar (EXI 1.0 §8.5.3; exi/relaxed.go
// codes it): the fragment elements whose qname has several types use it.
// It lists every attribute qname the schema set declares.

// attributeNames returns the qnames of every attribute the schema set
// declares, sorted by local name then namespace, and reports an error if
// one is not string-typed (the relaxed grammar here codes values as
// strings, which for string types is also their typed form).
func (s *Schema) attributeNames() ([]QName, error) {
	seen := map[QName]bool{}
	var out []QName
	var bad error
	var walk func(f *schemaFile, n *node, top bool)
	walk = func(f *schemaFile, n *node, top bool) {
		if name, ok := n.attrs["name"]; ok && n.name.Space == xsNS && n.name.Local == "attribute" {
			qual := f.attrQual
			if form, ok := n.attrs["form"]; ok {
				qual = form == "qualified"
			}
			q := QName{Local: name}
			if top || qual {
				q.NS = f.target
			}
			if t := n.qname(n.attrs["type"]); t.NS != xsNS || !isString(&SimpleType{Builtin: t.Local}) {
				bad = fmt.Errorf("attribute %s of type %s: the relaxed element fragment grammar supports string-typed attributes only", q, t)
			}
			if !seen[q] {
				seen[q] = true
				out = append(out, q)
			}
		}
		for _, c := range n.children {
			walk(f, c, false)
		}
	}
	for _, f := range s.files {
		for _, c := range f.root.children {
			walk(f, c, true)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].less(out[j]) })
	return out, bad
}

func (g *gen) needRelaxed() bool {
	for _, f := range g.frag {
		if f.Type == nil {
			return true
		}
	}
	return false
}

// checkRelaxed reports a schema set whose relaxed grammar cannot be coded.
func (g *gen) checkRelaxed() error {
	if !g.needRelaxed() {
		return nil
	}
	_, err := g.s.attributeNames()
	return err
}

// emitRelaxed writes exiRelaxed, the schema set's relaxed element fragment
// grammar, when a fragment element needs it.
func (g *gen) emitRelaxed() {
	if !g.needRelaxed() {
		return
	}
	attrs, _ := g.s.attributeNames()
	names := make([]string, len(attrs))
	for i, a := range attrs {
		names[i] = fmt.Sprintf("{Space: %q, Local: %q}", a.NS, a.Local)
	}
	w := g.file(fileFragment)
	w.line("// exiRelaxed is the relaxed element fragment grammar (EXI 1.0 §8.5.3) of")
	w.line("// the fragment elements declared with several types.")
	w.open("var exiRelaxed = exi.Relaxed")
	w.line("Attrs: []exi.Name{%s},", strings.Join(names, ", "))
	w.line("Elems: %d,", len(g.frag))
	w.closeDecl()
}
