// Package exigen generates Go EXI codecs from the V2G XML schemas: it
// loads a schema set, builds the schema-informed non-strict EXI 1.0
// grammars of every type reachable from the global elements, and writes one
// Go package holding the types, the grammar tables and the codec.
package exigen

import (
	"bytes"
	"fmt"
	"go/format"
	"math"
	"math/big"
	"sort"
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
	s       *Schema
	cfg     Config
	globals []*Element
	types   []*Type // complex types in output order
	enums   []*Type // simple types with enumerations
	seen    map[*Type]bool
	names   map[string]bool
	gram    map[*Type]*Grammar
	frag    []*fragElem
	pooled  map[*Type]bool      // optional complex values allocated in blocks
	kept    []*Type             // complex values a Decoder keeps in slabs
	lists   map[*Type]bool      // types whose reset keeps list memory
	ext     map[*Type]*provided // types reused from another package
	imports map[string]bool
	buf     bytes.Buffer
}

// Generate returns the formatted Go source of the package for cfg; reg
// gives the types of the packages in cfg.Uses and receives this one's.
func Generate(cfg Config, reg Registry) ([]byte, error) {
	s, err := Load(cfg.Root)
	if err != nil {
		return nil, err
	}
	g := &gen{s: s, cfg: cfg, seen: map[*Type]bool{}, names: map[string]bool{}, gram: map[*Type]*Grammar{},
		ext: map[*Type]*provided{}, imports: map[string]bool{}}
	for _, e := range s.Elements {
		g.globals = append(g.globals, e)
	}
	sortElems(g.globals)
	for _, e := range g.globals {
		if err := g.visit(e.Type); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
	}
	if cfg.Fragment {
		g.frag = fragmentElements(s)
		if err := g.checkRelaxed(); err != nil { // relaxed.go
			return nil, err
		}
		for _, f := range g.frag {
			if f.Type == nil {
				continue
			}
			if err := g.visit(f.Type); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Q, err)
			}
		}
	}
	g.name()
	g.share(reg)
	g.emit()
	src, err := format.Source(g.buf.Bytes())
	if err != nil {
		return g.buf.Bytes(), fmt.Errorf("generated code does not parse: %w", err)
	}
	return src, nil
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
		return fmt.Errorf("type %s: %w", typeLabel(t), err)
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

func typeLabel(t *Type) string {
	if t.Name.Local != "" {
		return t.Name.String()
	}
	return "anonymous type of " + t.elemName.String()
}

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

func (g *gen) unique(base string) string {
	n := base
	for i := 2; g.names[n]; i++ {
		n = fmt.Sprintf("%s%d", base, i)
	}
	g.names[n] = true
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
			n := base
			for i := 2; used[n]; i++ {
				n = fmt.Sprintf("%s%d", base, i)
			}
			used[n] = true
			f.GoName = n
		}
	}
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.buf, format, args...) }

func (g *gen) emit() {
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
				g.emitKinds(t)
			}
		}
	}
	body := bytes.Clone(g.buf.Bytes())
	var head bytes.Buffer
	fmt.Fprintf(&head, "// Code generated by exigen from %s; DO NOT EDIT.\n\n", g.cfg.Source)
	fmt.Fprintf(&head, "// %s\npackage %s\n\n", strings.ReplaceAll(g.cfg.Doc, "\n", "\n// "), g.cfg.Package)
	head.WriteString("import (\n\"fmt\"\n\"strconv\"\n\"unsafe\"\n\n\"github.com/ccslink/ccslink/exi\"\n")
	var paths []string
	for p := range g.imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(&head, "%q\n", p)
	}
	head.WriteString(")\n\nvar (\n_ = strconv.Itoa\n_ = unsafe.Sizeof(0)\n)\n\n")
	g.buf.Reset()
	g.buf.Write(head.Bytes())
	g.buf.Write(body)
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
		fmt.Fprintf(&b, "field %d %s %s %d %d %s %s\n", f.Kind, f.Q, f.GoName, f.Min, f.Max, typeKey(f.Type), g.goType(f.Type))
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

func typeKey(t *Type) string {
	if t.Name.Local != "" {
		return t.Name.String()
	}
	return "anon:" + t.elemName.String()
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

// ref notes that the emitted code names t, importing its package if it is
// reused from another one.
func (g *gen) ref(t *Type) {
	if p := g.ext[t]; p != nil {
		g.imports[p.path] = true
	}
}

// decodeCall and encodeCall are the calls that code the content of an
// element of complex type t held by expr.
func (g *gen) decodeCall(t *Type, expr, r, a string) string {
	g.ref(t)
	if g.ext[t] != nil {
		return fmt.Sprintf("%s.DecodeEXI(%s)", expr, r)
	}
	return fmt.Sprintf("%s.decodeEXI(%s, %s)", expr, r, a)
}

func (g *gen) encodeCall(t *Type, expr, w string) string {
	g.ref(t)
	if g.ext[t] != nil {
		return fmt.Sprintf("%s.EncodeEXI(%s)", expr, w)
	}
	return fmt.Sprintf("%s.encodeEXI(%s)", expr, w)
}

func (g *gen) emitDocument() {
	n := len(g.globals)
	g.p("// Document is an EXI document of this schema set: exactly one of its\n// fields, the root element, is set.\ntype Document struct {\n")
	for _, e := range g.globals {
		g.p("%s %s `json:\"%s,omitempty\"`\n", goIdent(e.Name.Local), g.ptrType(e.Type), e.Name.Local)
	}
	g.p("}\n\n")
	w := bitsFor(n + 1)
	g.p("// Unmarshal decodes the EXI document in b into d. It returns the number of\n")
	g.p("// bytes the document takes; bytes after it (some cars send padding) are\n// left unread, so n < len(b) reports them. A value that breaks a facet of\n")
	g.p("// the schema but fits its field is kept; UnmarshalWithNotes reports them.\n")
	g.p("func Unmarshal(b []byte, d *Document) (n int, err error) {\nvar r exi.Reader\nvar a arena\nr.Reset(b)\n*d = Document{}\n_, n, err = unmarshal(&r, &a, d)\nreturn n, err\n}\n\n")
	g.p("// UnmarshalWithNotes is Unmarshal that also returns the values it kept\n// although a facet of the schema forbids them (at most exi.MaxNotes, nil\n")
	g.p("// for a valid document); Append refuses a document holding one.\n")
	g.p("func UnmarshalWithNotes(b []byte, d *Document) (n int, notes []exi.Note, err error) {\nvar r exi.Reader\nvar a arena\nr.Reset(b)\n*d = Document{}\n_, n, err = unmarshal(&r, &a, d)\nreturn n, r.Notes(), err\n}\n\n")
	g.emitDecoder()
	g.p("// unmarshal decodes the document r was reset to into d, whose fields are\n// nil, taking its complex values from a. root is the code of the root\n// element, set in d also on error (-1: none).\n")
	g.p("func unmarshal(r *exi.Reader, a *arena, d *Document) (root, n int, err error) {\nr.UseNames(&exiNames)\nif err := r.Header(); err != nil {\nreturn -1, 0, err\n}\n")
	g.p("c, err := r.Bits(%d)\nif err != nil {\nreturn -1, 0, err\n}\nroot = int(c)\nswitch c {\n", w)
	for i, e := range g.globals {
		g.p("case %d:\n", i)
		fn := goIdent(e.Name.Local)
		if e.Type.Simple != nil {
			g.p("if empty, err := r.LeafStart(); err != nil || empty {\nreturn root, r.Len(), err\n}\n")
			if g.ptrType(e.Type) == "exi.Bytes" {
				g.decodeValue(e.Type, e.Name, e.Name.Local, func(v string) string { return fmt.Sprintf("d.%s = %s", fn, v) }, "root, 0, ")
			} else {
				g.decodeValue(e.Type, e.Name, e.Name.Local, func(v string) string { return g.ptrAssign(e.Type, "d."+fn, v) }, "root, 0, ")
			}
			g.p("if err := r.LeafEnd(); err != nil {\nreturn root, 0, err\n}\n")
		} else {
			g.p("d.%s = %s\nif err := %s; err != nil {\nreturn root, 0, err\n}\n", fn, g.newValue(e.Type), g.decodeCall(e.Type, "d."+fn, "r", "a"))
		}
	}
	g.p("case %d:\nreturn -1, 0, r.Errorf(\"root element outside the schema (SE(*)) is not supported\")\n", n)
	g.p("default:\nreturn -1, 0, r.Errorf(\"invalid root element code %%d\", c)\n}\nreturn root, r.Len(), nil\n}\n\n")
	g.p("// clearRoot sets the root element field of code c to nil (-1: none).\nfunc (d *Document) clearRoot(c int) {\nswitch c {\n")
	for i, e := range g.globals {
		g.p("case %d:\nd.%s = nil\n", i, goIdent(e.Name.Local))
	}
	g.p("}\n}\n\n")

	g.p("// Marshal encodes d as an EXI document into a new slice.\nfunc Marshal(d *Document) ([]byte, error) {\nb, err := Append(make([]byte, 0, 256), d)\nif err != nil {\nreturn nil, err\n}\nreturn b, nil\n}\n\n")
	g.p("// Append encodes d as an EXI document and appends it to dst; it does not\n// allocate when dst has room. On error it returns dst unchanged.\n")
	g.p("func Append(dst []byte, d *Document) ([]byte, error) {\nvar w exi.Writer\nw.Reset(dst)\nw.UseNames(&exiNames)\nw.Header()\nset := 0\n")
	for i, e := range g.globals {
		fn := goIdent(e.Name.Local)
		g.p("if d.%s != nil {\nset++\nif set == 1 {\nw.Bits(%d, %d)\n", fn, i, w)
		if e.Type.Simple != nil {
			g.p("w.Leaf()\n")
			if g.ptrType(e.Type) == "exi.Bytes" {
				g.encodeValue(e.Type, "d."+fn, fn, "dst, ")
			} else {
				g.encodeValue(e.Type, "*d."+fn, fn, "dst, ")
			}
			g.p("w.Leaf()\n")
		} else {
			g.p("if err := %s; err != nil {\nreturn dst, err\n}\n", g.encodeCall(e.Type, "d."+fn, "&w"))
		}
		g.p("}\n}\n")
	}
	g.p("if set != 1 {\nreturn dst, &exi.SchemaError{Field: \"%s.Document\", Msg: fmt.Sprintf(\"a document has exactly one root element, %%d are set\", set)}\n}\nreturn w.Bytes(), nil\n}\n\n", g.cfg.Package)
}

// goType is the Go type of a value of t (simple or complex).
func (g *gen) goType(t *Type) string {
	if t.Simple == nil {
		g.ref(t)
		return t.GoName
	}
	st := t.Simple
	if len(st.Enum) > 0 {
		g.ref(t)
		return t.GoName
	}
	switch {
	case st.Builtin == "boolean":
		return "bool"
	case st.Builtin == "hexBinary" || st.Builtin == "base64Binary":
		return "exi.Bytes"
	case isString(st):
		return "string"
	case isBigInteger(st): // see bigint.go
		return "exi.Integer"
	}
	gt := "uint64"
	switch st.Builtin {
	case "byte":
		gt = "int8"
	case "short":
		gt = "int16"
	case "int":
		gt = "int32"
	case "long", "integer":
		gt = "int64"
	case "unsignedByte":
		gt = "uint8"
	case "unsignedShort":
		gt = "uint16"
	case "unsignedInt":
		gt = "uint32"
	}
	// An n-bit field can carry more than its range (SAIDType 1..255 in 8
	// bits reaches 256); the decoder keeps such values, so the Go type
	// must hold every value the bits can carry.
	if rep, lo, _, width := intRepr(st); rep == repNBit {
		top := new(big.Int).Add(lo, big.NewInt(1<<width-1))
		for _, w := range widerTypes[gt] {
			if tlo, thi := goBounds(w); lo.Cmp(tlo) >= 0 && top.Cmp(thi) <= 0 {
				return w
			}
		}
	}
	return gt
}

// widerTypes lists a Go integer type and the wider ones of its signedness.
var widerTypes = map[string][]string{
	"int8": {"int8", "int16", "int32", "int64"}, "int16": {"int16", "int32", "int64"}, "int32": {"int32", "int64"},
	"uint8": {"uint8", "uint16", "uint32", "uint64"}, "uint16": {"uint16", "uint32", "uint64"}, "uint32": {"uint32", "uint64"},
}

// goBounds returns the range of a Go integer type.
func goBounds(gt string) (lo, hi *big.Int) {
	bits := map[string]uint{"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}[gt]
	one := big.NewInt(1)
	if strings.HasPrefix(gt, "uint") {
		hi = new(big.Int).Lsh(one, bits)
		return big.NewInt(0), hi.Sub(hi, one)
	}
	hi = new(big.Int).Lsh(one, bits-1)
	lo = new(big.Int).Neg(hi)
	return lo, hi.Sub(hi, one)
}

// goLit writes an integer bound as a Go constant expression.
func goLit(b *big.Int) string {
	if b.IsInt64() && b.Int64() == math.MinInt64 {
		return "-1<<63"
	}
	return b.String()
}

// ptrAssign stores v in storage from the Reader's scalar blocks and
// points dst at it, saving an allocation per optional value.
func (g *gen) ptrAssign(t *Type, dst, v string) string {
	gt := g.goType(t)
	base := map[string]string{"bool": "Bool", "int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64",
		"uint8": "Uint8", "uint16": "Uint16", "uint32": "Uint32", "uint64": "Uint64", "string": "String"}
	if m, ok := base[gt]; ok {
		return fmt.Sprintf("p := r.New%s()\n*p = %s\n%s = p", m, v, dst)
	}
	if t.Simple != nil && len(t.Simple.Enum) > 0 {
		return fmt.Sprintf("p := (*%s)(r.NewUint8())\n*p = %s\n%s = p", gt, v, dst)
	}
	return fmt.Sprintf("tmp := %s\n%s = &tmp", v, dst)
}

func (g *gen) ptrType(t *Type) string {
	if t.Simple != nil && g.goType(t) == "exi.Bytes" {
		return "exi.Bytes"
	}
	return "*" + g.goType(t)
}

func isString(st *SimpleType) bool {
	if len(st.Enum) > 0 {
		return false
	}
	switch st.Builtin {
	case "string", "normalizedString", "token", "anyURI", "ID", "IDREF", "NCName", "Name", "language", "NMTOKEN":
		return true
	}
	return false
}

func isBinary(st *SimpleType) bool {
	return len(st.Enum) == 0 && (st.Builtin == "hexBinary" || st.Builtin == "base64Binary")
}

type intRep int

const (
	repNBit intRep = iota
	repUint
	repInt
)

// intRepr chooses the Integer representation (EXI 1.0 §7.1.5): n-bit
// when the range has at most 4096 values, Unsigned when it cannot be
// negative, Integer otherwise.
func intRepr(st *SimpleType) (rep intRep, lo, hi *big.Int, width int) {
	lo, hi = st.Min, st.Max
	if lo != nil && hi != nil {
		r := new(big.Int).Sub(hi, lo)
		r.Add(r, big.NewInt(1))
		if r.Cmp(big.NewInt(4096)) <= 0 {
			return repNBit, lo, hi, bitsFor(int(r.Int64()))
		}
	}
	if lo != nil && lo.Sign() >= 0 {
		return repUint, lo, hi, 0
	}
	return repInt, lo, hi, 0
}

// decodeValue emits the decoding of a simple value; assign turns the value
// expression into the statement that stores it. ret prefixes the error return.
// field names the value in the notes of facet deviations.
func (g *gen) decodeValue(t *Type, q QName, field string, assign func(string) string, ret string) {
	st := t.Simple
	gt := g.goType(t)
	var call, conv string
	switch {
	case len(st.Enum) > 0:
		call = fmt.Sprintf("r.Enum(%d, %d, %q)", bitsFor(len(st.Enum)), len(st.Enum), field)
		conv = gt + "(v)"
	case st.Builtin == "boolean":
		call, conv = "r.Bool()", "v"
	case isBinary(st):
		call, conv = fmt.Sprintf("r.Binary(%d, %q)", st.MaxLen, field), "exi.Bytes(v)"
	case isString(st):
		// A string over maxLength is kept and noted (peers send them; the
		// input bounds the allocation); Append refuses it.
		call, conv = fmt.Sprintf("r.String(%d, %q, %q)", st.MaxLen, q.String(), field), "v"
	case isBigInteger(st): // see bigint.go
		call, conv = "r.Integer()", "v"
	default:
		rep, lo, hi, width := intRepr(st)
		conv = gt + "(v)"
		tlo, thi := goBounds(gt)
		switch rep {
		case repNBit:
			call = fmt.Sprintf("r.NBit(%d, %s, %s, %q)", width, lo, hi, field)
		case repUint:
			if hi == nil {
				hi = thi
			}
			call = fmt.Sprintf("r.UintRange(%s, %s, %s, %q)", lo, hi, thi, field)
		default:
			if lo == nil {
				lo = tlo
			}
			if hi == nil {
				hi = thi
			}
			call = fmt.Sprintf("r.IntRange(%s, %s, %s, %s, %q)", goLit(lo), goLit(hi), goLit(tlo), goLit(thi), field)
		}
	}
	g.p("{\nv, err := %s\nif err != nil {\nreturn %serr\n}\n%s\n}\n", call, ret, assign(conv))
}

// leafFixed emits the decoding of a simple element whose value has a fixed
// width (enumeration, boolean, n-bit integer) as one read with its CH and EE
// codes; it reports false for other types.
func (g *gen) leafFixed(t *Type, q QName, assign func(string) string) bool {
	st := t.Simple
	gt := g.goType(t)
	var call, conv string
	switch {
	case len(st.Enum) > 0:
		call, conv = fmt.Sprintf("r.LeafEnum(%d, %d, %q)", bitsFor(len(st.Enum)), len(st.Enum), q.Local), gt+"(v)"
	case st.Builtin == "boolean":
		call, conv = "r.LeafBool()", "v"
	case isBinary(st) || isString(st):
		return false
	default:
		rep, lo, hi, width := intRepr(st)
		if rep != repNBit {
			return false
		}
		call, conv = fmt.Sprintf("r.LeafNBit(%d, %s, %s, %q)", width, lo, hi, q.Local), gt+"(v)"
	}
	g.p("{\nv, empty, err := %s\nif err != nil {\nreturn err\n}\nif !empty {\n%s\n}\n}\n", call, assign(conv))
	return true
}

// encodeValue emits the encoding of the simple value expression v.
func (g *gen) encodeValue(t *Type, v, field, ret string) {
	st := t.Simple
	switch {
	case len(st.Enum) > 0:
		g.p("if err := exi.CheckEnum(%q, %q, uint64(%s), %d); err != nil {\nreturn %serr\n}\n", field, t.GoName, v, len(st.Enum), ret)
		g.p("w.Bits(uint32(%s), %d)\n", v, bitsFor(len(st.Enum)))
	case st.Builtin == "boolean":
		g.p("w.Bool(%s)\n", v)
	case isBinary(st):
		if st.MaxLen >= 0 {
			g.p("if err := exi.CheckBinary(%q, %s, %d); err != nil {\nreturn %serr\n}\n", field, v, st.MaxLen, ret)
		}
		g.p("w.Binary(%s)\n", v)
	case isString(st):
		if st.MaxLen >= 0 {
			g.p("if err := exi.CheckString(%q, %s, %d); err != nil {\nreturn %serr\n}\n", field, v, st.MaxLen, ret)
		}
		g.p("w.String(%s)\n", v)
	case isBigInteger(st): // see bigint.go
		g.p("w.Integer(%s)\n", v)
	default:
		rep, lo, hi, width := intRepr(st)
		gt := g.goType(t)
		signed := !strings.HasPrefix(gt, "uint")
		// Range checks only where the facets are narrower than the Go type.
		if lo != nil && hi != nil && !(lo.IsInt64() && hi.IsInt64() && fitsExactly(gt, lo.Int64(), hi)) {
			if signed {
				g.p("if err := exi.CheckRange(%q, int64(%s), %s, %s); err != nil {\nreturn %serr\n}\n", field, v, lo, hi, ret)
			} else {
				g.p("if err := exi.CheckURange(%q, uint64(%s), %s, %s); err != nil {\nreturn %serr\n}\n", field, v, lo, hi, ret)
			}
		} else if lo != nil && lo.Sign() > 0 && !signed {
			g.p("if err := exi.CheckURange(%q, uint64(%s), %s, 1<<64-1); err != nil {\nreturn %serr\n}\n", field, v, lo, ret)
		}
		switch rep {
		case repNBit:
			g.p("w.NBit(int64(%s), %s, %d)\n", v, lo, width)
		case repUint:
			g.p("w.Uint(uint64(%s))\n", v)
		default:
			g.p("w.Int(int64(%s))\n", v)
		}
	}
}

func fitsExactly(gt string, lo int64, hi *big.Int) bool {
	bounds := map[string][2]string{
		"int8": {"-128", "127"}, "int16": {"-32768", "32767"}, "int32": {"-2147483648", "2147483647"},
		"int64": {"-9223372036854775808", "9223372036854775807"}, "uint8": {"0", "255"},
		"uint16": {"0", "65535"}, "uint32": {"0", "4294967295"}, "uint64": {"0", "18446744073709551615"},
	}
	b := bounds[gt]
	return fmt.Sprint(lo) == b[0] && hi.String() == b[1]
}

func (g *gen) fieldType(f *Field) string {
	gt := g.goType(f.Type)
	switch {
	case f.Max != 1:
		return "[]" + gt
	case f.Min == 1 || gt == "exi.Bytes": // binary: nil is absent
		return gt
	}
	return "*" + gt
}

func (g *gen) emitEnum(t *Type) {
	st := t.Simple
	prefix := strings.TrimSuffix(t.GoName, "Type")
	g.p("// %s is the enumeration %s.\ntype %s uint8\n\n", t.GoName, typeLabel(t), t.GoName)
	g.p("// Values of %s, in schema order.\nconst (\n", t.GoName)
	for i, v := range st.Enum {
		n := prefix + goIdent(v)
		if g.names[n] {
			n = t.GoName + "_" + goIdent(v)
		}
		n = g.unique(n)
		if i == 0 {
			g.p("%s %s = iota\n", n, t.GoName)
		} else {
			g.p("%s\n", n)
		}
	}
	g.p(")\n\n")
	lower := "names" + t.GoName
	g.p("var %s = [...]string{", lower)
	for _, v := range st.Enum {
		g.p("%q, ", v)
	}
	g.p("}\n\n")
	g.p("// String returns the schema name of v.\nfunc (v %s) String() string {\nif int(v) < len(%s) {\nreturn %s[v]\n}\nreturn \"%s(\" + strconv.Itoa(int(v)) + \")\"\n}\n\n", t.GoName, lower, lower, t.GoName)
	g.p("// MarshalText returns the schema name of v, or \"%s(index)\" for an\n// index past the last value (a decoder keeps what a peer sent).\nfunc (v %s) MarshalText() ([]byte, error) {\nreturn []byte(v.String()), nil\n}\n\n", t.GoName, t.GoName)
	g.p("// UnmarshalText parses a schema name.\nfunc (v *%s) UnmarshalText(b []byte) error {\nfor i, n := range %s {\nif n == string(b) {\n*v = %s(i)\nreturn nil\n}\n}\nreturn fmt.Errorf(\"%%q is not a %s value\", b)\n}\n\n", t.GoName, lower, t.GoName, t.GoName)
}

func (g *gen) emitType(t *Type) {
	gr := g.gram[t]
	gv := "grammar" + t.GoName
	g.p("// %s is the schema type %s.\ntype %s struct {\n", t.GoName, typeLabel(t), t.GoName)
	for _, f := range gr.Fields {
		key := f.Q.Local
		if f.Kind == evCH {
			key = "Value"
		}
		omit := ""
		ft := g.fieldType(f)
		if strings.HasPrefix(ft, "*") || strings.HasPrefix(ft, "[]") || (ft == "exi.Bytes" && f.Min == 0) {
			omit = ",omitempty"
		}
		g.p("%s %s `json:\"%s%s\"`\n", f.GoName, ft, key, omit)
	}
	open := isOpen(gr) // wildcard.go
	if open {
		g.p("Any []exi.Mixed `json:\"Any,omitempty\"` // wildcard and mixed content\n")
	}
	g.p("}\n\n")
	g.emitReset(t)

	// Grammar table.
	g.p("var %s = exi.Grammar{\nName: %q,\nEvents: []string{\"EE\", ", gv, typeName(t))
	for _, f := range gr.Fields {
		switch f.Kind {
		case evAT:
			g.p("%q, ", "AT("+f.Q.Local+")")
		case evCH:
			g.p("%q, ", "CH")
		default:
			g.p("%q, ", "SE("+f.Q.Local+")")
		}
	}
	g.p("},\nStates: []exi.State{\n")
	for i, s := range gr.States {
		var labels []string
		for _, p := range s.Prods {
			labels = append(labels, p.Label)
		}
		g.p("// %d: %s\n{Width: %d, Level2: %d, EE2: %v, Prods: []exi.Prod{", i, strings.Join(labels, " | "), s.Width, s.Level2, s.EE2)
		for _, p := range s.Prods {
			if p.Counter >= 0 {
				g.p("{Event: %d, Next: %d, Counter: %d, Max: %d, Exit: %d}, ", p.Event, p.Next, p.Counter, p.Max, p.Exit)
			} else {
				g.p("{Event: %d, Next: %d, Counter: -1}, ", p.Event, p.Next)
			}
		}
		g.p("}},\n")
	}
	g.p("},\n}\n\n")

	counts := "nil"
	if gr.NumCounters > 0 {
		counts = "counts[:]"
	}
	// Decoder.
	g.p("func (x *%s) decodeEXI(r *exi.Reader, a *arena) error {\n", t.GoName)
	if gr.NumCounters > 0 {
		g.p("var counts [%d]int\n", gr.NumCounters)
	}
	// The grammar's states as code: constant widths and productions, no
	// table walk per event (the encoder walks the table; it is fast enough).
	if open {
		g.p("kids := 0\n")
	}
	g.p("state := 0\nfor {\nvar ev int\nswitch state {\n")
	for i, st := range gr.States {
		if pr := st.Prods[0]; st.Width == 1 && len(st.Prods) == 1 && pr.Event > 0 && pr.Counter < 0 {
			// One production: its code is a single 0 bit.
			g.p("case %d: // %s\nif !r.Zero() {\nc, err := r.Bits(1)\nif err != nil {\nreturn err\n}\n", i, pr.Label)
			g.p("if ev, err := r.Escape(&%s, %d, int(c)); err != nil || ev == exi.EventEE {\nreturn err\n}\n}\n", gv, i)
			g.p("ev, state = %d, %d\n", pr.Event, pr.Next)
			continue
		}
		if pr := st.Prods[0]; st.Width == 1 && len(st.Prods) == 1 && pr.Event == 0 {
			g.p("case %d: // EE\nif r.Zero() {\nreturn nil\n}\nc, err := r.Bits(1)\nif err != nil {\nreturn err\n}\n", i)
			g.p("_, err = r.Escape(&%s, %d, int(c))\nreturn err\n", gv, i)
			continue
		}
		// TryBits inlines; Bits, a call, only near the end of the input.
		g.p("case %d:\nc, ok := r.TryBits(%d)\nif !ok {\nvar err error\nif c, err = r.Bits(%d); err != nil {\nreturn err\n}\n}\nswitch c {\n", i, st.Width, st.Width)
		for c, pr := range st.Prods {
			g.p("case %d: // %s\n", c, pr.Label)
			switch {
			case pr.Event < 0: // wildcard.go: openDecodeCases
				g.p("ev, state = %d, %d\n", pr.Event, pr.Next)
			case pr.Counter >= 0:
				g.p("ev = %d\ncounts[%d]++\nif counts[%d] >= %d {\nstate = %d\n} else {\nstate = %d\n}\n", pr.Event, pr.Counter, pr.Counter, pr.Max, pr.Exit, pr.Next)
			case pr.Event == 0:
				g.p("return nil\n")
			default:
				g.p("ev, state = %d, %d\n", pr.Event, pr.Next)
			}
		}
		g.p("default:\nif ev, err := r.Escape(&%s, %d, int(c)); err != nil || ev == exi.EventEE {\nreturn err\n}\n}\n", gv, i)
	}
	g.p("}\nswitch ev {\n")
	if open {
		g.openDecodeCases()
	}
	for _, f := range gr.Fields {
		g.p("case %d: // %s\n", f.Event, f.GoName)
		if open && f.Kind == evSE {
			g.p("kids++\n")
		}
		ft := g.fieldType(f)
		dst := "x." + f.GoName
		if f.Type.Simple != nil {
			assign := func(v string) string {
				switch {
				case strings.HasPrefix(ft, "[]"):
					return fmt.Sprintf("if err := r.Alloc(16); err != nil {\nreturn err\n}\n%s = append(%s, %s)", dst, dst, v)
				case strings.HasPrefix(ft, "*"):
					return g.ptrAssign(f.Type, dst, v)
				}
				return dst + " = " + v
			}
			if f.Kind == evSE && g.leafFixed(f.Type, f.Q, assign) {
				continue
			}
			if f.Kind == evSE {
				// The CH and EE codes are almost always single 0 bits: Zero
				// takes them inline, LeafStart and LeafEnd the rest.
				g.p("empty := false\nif !r.Zero() {\nvar err error\nif empty, err = r.LeafStart(); err != nil {\nreturn err\n}\n}\nif !empty {\n")
			}
			field := f.Q.Local
			if f.Kind == evCH {
				field = typeName(t)
			}
			g.decodeValue(f.Type, f.Q, field, assign, "")
			if f.Kind == evSE {
				g.p("if !r.Zero() {\nif err := r.LeafEnd(); err != nil {\nreturn err\n}\n}\n}\n")
			}
			continue
		}
		switch {
		case strings.HasPrefix(ft, "[]"):
			g.p("if err := r.Alloc(unsafe.Sizeof(%s{})); err != nil {\nreturn err\n}\n", f.Type.GoName)
			item := dst + "[len(" + dst + ")-1]"
			g.p("%s = exi.Grow(%s)\n%s\nif err := %s; err != nil {\nreturn err\n}\n", dst, dst, g.clearValue(f.Type, item), g.decodeCall(f.Type, item, "r", "a"))
		case strings.HasPrefix(ft, "*"):
			g.p("if err := r.Alloc(unsafe.Sizeof(%s{})); err != nil {\nreturn err\n}\n", f.Type.GoName)
			g.p("%s = %s\n", dst, g.newValue(f.Type))
			g.p("if err := %s; err != nil {\nreturn err\n}\n", g.decodeCall(f.Type, dst, "r", "a"))
		default:
			g.p("if err := %s; err != nil {\nreturn err\n}\n", g.decodeCall(f.Type, dst, "r", "a"))
		}
	}
	g.p("}\n}\n}\n\n")

	// Encoder.
	g.p("func (x *%s) encodeEXI(w *exi.Writer) error {\n", t.GoName)
	if gr.NumCounters > 0 {
		g.p("var counts [%d]int\n", gr.NumCounters)
	}
	g.p("state := 0\n")
	if open {
		g.p("ai, kids := 0, 0\n")
	}
	ev := func(n int) {
		g.p("if err := w.Event(&%s, &state, %d, %s); err != nil {\nreturn err\n}\n", gv, n, counts)
	}
	for _, f := range gr.Fields {
		ft := g.fieldType(f)
		dst := "x." + f.GoName
		field := t.GoName + "." + f.GoName
		body := func(v string) {
			if open && f.Kind == evSE {
				g.openFlush(gv, counts, false)
			}
			ev(f.Event)
			if f.Type.Simple != nil {
				if f.Kind == evSE {
					g.p("w.Leaf()\n")
				}
				g.encodeValue(f.Type, v, field, "")
				if f.Kind == evSE {
					g.p("w.Leaf()\n")
				}
			} else {
				g.p("if err := %s; err != nil {\nreturn err\n}\n", g.encodeCall(f.Type, v, "w"))
			}
		}
		switch {
		case strings.HasPrefix(ft, "[]"):
			if f.Max > 0 {
				g.p("if err := exi.CheckItems(%q, len(%s), %d); err != nil {\nreturn err\n}\n", field, dst, f.Max)
			}
			g.p("for i := range %s {\n", dst)
			if f.Type.Simple != nil {
				body(dst + "[i]")
			} else {
				body("(&" + dst + "[i])")
			}
			g.p("}\n")
		case ft == "exi.Bytes" && f.Min == 0:
			g.p("if %s != nil {\n", dst)
			body(dst)
			g.p("}\n")
		case strings.HasPrefix(ft, "*"):
			g.p("if %s != nil {\n", dst)
			if f.Type.Simple != nil {
				body("*" + dst)
			} else {
				body(dst)
			}
			g.p("}\n")
		case f.Kind == evCH && ft == "exi.Bytes":
			// nil: no content at all (EE through the second level).
			g.p("if %s != nil {\n", dst)
			body(dst)
			g.p("}\n")
		default:
			if f.Type.Simple != nil {
				body(dst)
			} else {
				body("(&" + dst + ")")
			}
		}
	}
	if open {
		g.openFlush(gv, counts, true)
	}
	ev(0)
	g.p("return nil\n}\n\n")
	if g.cfg.Provides {
		g.p("// DecodeEXI decodes the content of an element of this type; codecs of\n// other schema sets that reuse the type call it.\n")
		g.p("func (x *%s) DecodeEXI(r *exi.Reader) error {\nvar a arena\nreturn x.decodeEXI(r, &a)\n}\n\n", t.GoName)
		g.p("// EncodeEXI encodes the content of an element of this type.\n")
		g.p("func (x *%s) EncodeEXI(w *exi.Writer) error {\nreturn x.encodeEXI(w)\n}\n\n", t.GoName)
	}
}

// emitKinds writes MessageKind, one constant per field of the Body type (the
// members of its substitution group, in field order), and Body.Kind, so
// that a session can dispatch on a message and index tables by it.
func (g *gen) emitKinds(t *Type) {
	fs := g.gram[t].Fields
	g.p("// MessageKind names one message of the Body substitution group.\ntype MessageKind uint8\n\n")
	g.p("// Kinds of message, in the field order of %s.\nconst (\nKindNone MessageKind = iota // an empty Body\n", t.GoName)
	for _, f := range fs {
		g.p("Kind%s\n", f.GoName)
	}
	g.p("NumMessageKinds // the number of kinds, for tables indexed by kind\n)\n\n")
	g.p("var namesMessageKind = [...]string{\"None\", ")
	for _, f := range fs {
		g.p("%q, ", f.GoName)
	}
	g.p("}\n\n")
	g.p("// String returns the message name of k (its element name), or \"None\".\nfunc (k MessageKind) String() string {\nif int(k) < len(namesMessageKind) {\nreturn namesMessageKind[k]\n}\nreturn \"MessageKind(\" + strconv.Itoa(int(k)) + \")\"\n}\n\n")
	g.p("// Kind returns the kind of the message the body holds: the first non-nil field.\nfunc (b *%s) Kind() MessageKind {\nswitch {\n", t.GoName)
	for _, f := range fs {
		if ft := g.fieldType(f); !strings.HasPrefix(ft, "*") && !strings.HasPrefix(ft, "[]") && ft != "exi.Bytes" {
			panic("exigen: Body field " + f.GoName + " is not optional")
		}
		g.p("case b.%s != nil:\nreturn Kind%s\n", f.GoName, f.GoName)
	}
	g.p("}\nreturn KindNone\n}\n\n")
}

func typeName(t *Type) string {
	if t.Name.Local != "" {
		return t.Name.Local
	}
	return t.elemName.Local
}
