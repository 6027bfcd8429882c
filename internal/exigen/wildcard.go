package exigen

import "sort"

// Wildcard and mixed content (xs:any, mixed="true"; exi/any.go decodes
// it): the string table entries a schema set pre-populates, and the
// helpers of the few call sites in gen.go and fragment.go.

// Initial string table entries that do not come from the schema (EXI 1.0
// Appendix D): the first four URIs and their local names.
var (
	fixedURIs   = []string{"", "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2001/XMLSchema-instance", xsNS}
	fixedLocals = [][]string{
		nil,
		{"base", "id", "lang", "space"},
		{"nil", "type"},
		{"ENTITIES", "ENTITY", "ID", "IDREF", "IDREFS", "NCName", "NMTOKEN", "NMTOKENS", "NOTATION", "Name", "QName",
			"anySimpleType", "anyType", "anyURI", "base64Binary", "boolean", "byte", "date", "dateTime", "decimal",
			"double", "duration", "float", "gDay", "gMonth", "gMonthDay", "gYear", "gYearMonth", "hexBinary", "int",
			"integer", "language", "long", "negativeInteger", "nonNegativeInteger", "nonPositiveInteger",
			"normalizedString", "positiveInteger", "short", "string", "time", "token", "unsignedByte", "unsignedInt",
			"unsignedLong", "unsignedShort"},
	}
)

// stringTables returns the uri partition (§7.3.1: the four fixed URIs,
// then the schema's namespaces sorted), each URI's local names (those of
// every element, attribute and named type declared in it, sorted) and
// the global elements' qnames, sorted.
func (s *Schema) stringTables() (uris []string, locals [][]string, globals []string) {
	byNS := map[string]map[string]bool{}
	add := func(ns, local string) {
		if byNS[ns] == nil {
			byNS[ns] = map[string]bool{}
		}
		byNS[ns][local] = true
	}
	gl := map[string]bool{}
	var walk func(f *schemaFile, n *node, top bool)
	walk = func(f *schemaFile, n *node, top bool) {
		name, named := n.attrs["name"]
		if n.name.Space == xsNS && named {
			switch n.name.Local {
			case "element", "attribute":
				qual := f.elemQual
				if n.name.Local == "attribute" {
					qual = f.attrQual
				}
				if form, ok := n.attrs["form"]; ok {
					qual = form == "qualified"
				}
				ns := ""
				if top || qual {
					ns = f.target
				}
				add(ns, name)
				if top && n.name.Local == "element" {
					gl[QName{NS: ns, Local: name}.String()] = true
				}
			case "complexType", "simpleType":
				add(f.target, name)
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
	uris = append(uris, fixedURIs...)
	var more []string
	for ns := range byNS {
		if !contains(fixedURIs, ns) {
			more = append(more, ns)
		}
	}
	sort.Strings(more)
	uris = append(uris, more...)
	for i, u := range uris {
		var part []string
		if i < len(fixedLocals) {
			part = append(part, fixedLocals[i]...)
		}
		for l := range byNS[u] {
			if !contains(part, l) {
				part = append(part, l)
			}
		}
		sort.Strings(part)
		locals = append(locals, part)
	}
	for q := range gl {
		globals = append(globals, q)
	}
	sort.Strings(globals)
	return uris, locals, globals
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// emitNames writes the schema set's exi.Names, which every document's
// decoder and encoder hands to the Reader and Writer.
func (g *gen) emitNames() {
	uris, locals, globals := g.s.stringTables()
	w := g.file(fileGrammar)
	w.line("// exiNames are the string table entries the schema set pre-populates")
	w.line("// (EXI 1.0 §7.3.1), for wildcard content.")
	w.open("var exiNames = exi.Names")
	w.line("URIs: []string{%s},", quoteList(uris))
	w.open("Locals: [][]string")
	for i, part := range locals {
		w.line("// %d: %s", i, uris[i])
		w.line("{%s},", quoteList(part))
	}
	w.line("},")
	w.open("Globals: []string")
	for _, q := range globals {
		w.line("%q,", q)
	}
	w.line("},")
	w.closeDecl()
}

// isOpen reports a grammar with wildcard or mixed content: its type gets
// an Any field of exi.Mixed items.
func isOpen(gr *Grammar) bool {
	for _, st := range gr.States {
		for _, p := range st.Prods {
			if p.Event < 0 {
				return true
			}
		}
	}
	return false
}

// openDecodeCases writes the decoder's cases of the SE(*) and CH[untyped]
// events: kids counts the declared child elements read so far.
func openDecodeCases(w *emitter) {
	w.line("case -1: // SE(*)")
	w.check("", "r.Wildcard(&x.Any, kids)")
	w.line("case -2: // CH[untyped]")
	w.check("", "r.Untyped(&x.Any, kids)")
}

// openFlush writes the encoder's call that writes the Any items placed
// before the next declared child element (end: before EE).
func openFlush(w *emitter, gv, counts string, end bool) {
	w.check("", "w.Mixed(&%s, &state, %s, x.Any, &ai, kids, %v)", gv, counts, end)
	if !end {
		w.line("kids++")
	}
}
