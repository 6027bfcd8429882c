// Package exigen generates Go EXI codecs from the V2G XML schemas: it
// loads a schema set, builds the schema-informed non-strict EXI 1.0
// grammars of every type reachable from the global elements, and writes one
// Go package holding the types, the grammar tables and the codec, in the
// files listed in generatedFiles.
package exigen

import (
	"fmt"
	"strings"
	"unicode"
)

// Config names one generated package.
type Config struct {
	Root    string // root XSD of the schema set
	Package string // Go package name
	Doc     string // package doc comment
	Source  string // schema path as written in the header comment
	// Fragment adds the fragment grammar (signed parts of messages).
	Fragment bool
	// Uses lists earlier generated packages (directories under v2g) whose
	// types this one reuses where they are identical: same grammar, same
	// fields. Provides marks a package whose types others reuse: its types
	// get exported DecodeEXI and EncodeEXI methods.
	Uses     []string
	Provides bool
	// ImportPath is the package's Go import path.
	ImportPath string
	dir        string
}

// Registry holds the types of the packages generated so far, by package
// directory, for Config.Uses.
type Registry map[string]map[QName]*provided

type provided struct {
	pkg, path, name string
	fp              string
}

type gen struct {
	s         *Schema
	cfg       Config
	globals   []*Element
	types     []*Type // complex types in output order
	enums     []*Type // simple types with enumerations
	seen      map[*Type]bool
	names     map[string]bool
	gram      map[*Type]*Grammar
	frag      []*fragElem
	pooled    map[*Type]bool      // optional complex values allocated in blocks
	kept      []*Type             // complex values a Decoder keeps in slabs
	lists     map[*Type]bool      // types whose reset keeps list memory
	ext       map[*Type]*provided // types reused from another package
	out       map[string]*emitter // file name -> its declarations
	kinds     bool                // MessageKind written
	msgs      []string            // element names of the package's messages, for package message
	accessors []string            // the Body's accessors written, for body.go's header
}

// Generate returns the formatted Go files of the package for cfg; reg
// gives the types of the packages in cfg.Uses and receives this one's.
func Generate(cfg Config, reg Registry) ([]File, error) {
	files, _, err := generate(cfg, reg)
	return files, err
}

// generate is Generate that also returns the element names of the
// package's messages, which package message gathers.
func generate(cfg Config, reg Registry) ([]File, []string, error) {
	s, err := Load(cfg.Root)
	if err != nil {
		return nil, nil, err
	}
	g := &gen{s: s, cfg: cfg, seen: map[*Type]bool{}, names: map[string]bool{}, gram: map[*Type]*Grammar{},
		ext: map[*Type]*provided{}, out: map[string]*emitter{}}
	for _, e := range s.Elements {
		g.globals = append(g.globals, e)
	}
	sortElems(g.globals)
	for _, e := range g.globals {
		if err := g.visit(e.Type); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", e.Name, err)
		}
	}
	if cfg.Fragment {
		g.frag = fragmentElements(s)
		if err := g.checkRelaxed(); err != nil { // relaxed.go
			return nil, nil, err
		}
		for _, f := range g.frag {
			if f.Type == nil {
				continue
			}
			if err := g.visit(f.Type); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f.Q, err)
			}
		}
	}
	g.name()
	g.share(reg)
	if err := g.emit(); err != nil {
		return nil, nil, err
	}
	files, err := g.files()
	return files, g.msgs, err
}

// visit collects the types reachable from t and builds their grammars.
func (g *gen) visit(t *Type) error {
	if g.seen[t] {
		return nil
	}
	g.seen[t] = true
	if t.Simple != nil {
		if len(t.Simple.Enum) > 0 {
			g.enums = append(g.enums, t)
		}
		return nil
	}
	gr, err := buildGrammar(g.s, t)
	if err != nil {
		return fmt.Errorf("type %s: %w", t.describe(), err)
	}
	g.gram[t] = gr
	g.types = append(g.types, t)
	for _, f := range gr.Fields {
		if err := g.visit(f.Type); err != nil {
			return err
		}
	}
	return nil
}

// goIdent turns an XML name into an exported Go identifier.
func goIdent(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			if i == 0 {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || unicode.IsDigit(rune(out[0])) {
		out = "X" + out
	}
	return out
}

// unique returns base, or base with the first number from 2 on that makes
// it a package-level name not yet taken, and takes it.
func (g *gen) unique(base string) string { return uniqueName(g.names, base) }

// uniqueName returns base, or base with the first number from 2 on that is
// not in used, and adds it to used.
func uniqueName(used map[string]bool, base string) string {
	n := base
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s%d", base, i)
	}
	used[n] = true
	return n
}

// name assigns Go names: schema type names, anonymous types after their
// element, enumeration constants after their type.
func (g *gen) name() {
	for _, n := range []string{"Document", "Unmarshal", "Marshal", "Append", "Fragment", "UnmarshalFragment", "AppendFragment",
		"MessageKind", "NumMessageKinds", "KindNone", "UnmarshalWithNotes", "UnmarshalFragmentWithNotes"} {
		g.names[n] = true
	}
	all := append(append([]*Type(nil), g.types...), g.enums...)
	for _, t := range all {
		if t.Name.Local != "" {
			t.GoName = g.unique(goIdent(t.Name.Local))
		}
	}
	for _, t := range all {
		if t.Name.Local == "" {
			base := goIdent(t.elemName.Local)
			if t.Simple != nil || g.names[base] {
				base += "Type"
			}
			t.GoName = g.unique(base)
		}
	}
	for _, t := range g.types {
		used := map[string]bool{}
		for _, f := range g.gram[t].Fields {
			base := "Value"
			if f.Kind != evCH {
				base = goIdent(f.Q.Local)
			}
			f.GoName = uniqueName(used, base)
		}
	}
}

// emit writes the package's declarations into its files.
func (g *gen) emit() error {
	g.emitArena()
	g.emitNames() // wildcard.go
	g.emitDocument()
	if g.cfg.Fragment {
		g.emitFragment()
	}
	for _, t := range g.enums {
		if g.ext[t] == nil {
			g.emitEnum(t)
		}
	}
	for _, t := range g.types {
		if g.ext[t] == nil {
			g.emitType(t)
			if t.Name.Local == "BodyType" {
				if err := g.emitKinds(t); err != nil {
					return err
				}
				g.kinds = true
			}
		}
	}
	if !g.kinds {
		g.emitDocumentMessage()
	}
	return nil
}

// fingerprint describes what makes a type's Go form and codec: reusing a
// type from another package is right only when these are equal.
func (g *gen) fingerprint(t *Type) string {
	var b strings.Builder
	if t.Simple != nil {
		fmt.Fprintf(&b, "enum %s %q", t.Name, t.Simple.Enum)
		return b.String()
	}
	gr := g.gram[t]
	fmt.Fprintf(&b, "type %s\n", t.Name)
	for _, f := range gr.Fields {
		fmt.Fprintf(&b, "field %d %s %s %d %d %s %s\n", f.Kind, f.Q, f.GoName, f.Min, f.Max, f.Type.key(), g.goType(f.Type))
	}
	for _, st := range gr.States {
		fmt.Fprintf(&b, "state %d %d %v:", st.Width, st.Level2, st.EE2)
		for _, p := range st.Prods {
			fmt.Fprintf(&b, " %d/%d/%d/%d/%d", p.Event, p.Next, p.Counter, p.Max, p.Exit)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// share replaces this package's copies of types that a used package
// already has, identical, by references to them; then it records this
// package's types for the packages generated after it.
func (g *gen) share(reg Registry) {
	mine := map[QName]*provided{}
	all := append(append([]*Type(nil), g.enums...), g.types...)
	fps := map[*Type]string{}
	for _, t := range all {
		if t.Name.Local != "" {
			fps[t] = g.fingerprint(t)
		}
	}
	for _, t := range all {
		if t.Name.Local == "" {
			continue
		}
		for _, dir := range g.cfg.Uses {
			if p := reg[dir][t.Name]; p != nil && p.fp == fps[t] {
				g.ext[t] = p
				break
			}
		}
	}
	for _, t := range all {
		if p := g.ext[t]; p != nil {
			t.GoName = p.pkg + "." + p.name
		} else if t.Name.Local != "" && g.cfg.Provides {
			mine[t.Name] = &provided{pkg: g.cfg.Package, path: g.cfg.ImportPath, name: t.GoName, fp: fps[t]}
		}
	}
	if reg != nil && g.cfg.Provides {
		reg[g.cfg.dir] = mine
	}
}

// decodeCall and encodeCall are the calls that code the content of an
// element of complex type t held by expr.
func (g *gen) decodeCall(t *Type, expr, r, a string) string {
	if g.ext[t] != nil {
		return fmt.Sprintf("%s.DecodeEXI(%s)", expr, r)
	}
	return fmt.Sprintf("%s.decodeEXI(%s, %s)", expr, r, a)
}

func (g *gen) encodeCall(t *Type, expr, w string) string {
	if g.ext[t] != nil {
		return fmt.Sprintf("%s.EncodeEXI(%s)", expr, w)
	}
	return fmt.Sprintf("%s.encodeEXI(%s)", expr, w)
}
