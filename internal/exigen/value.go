package exigen

import (
	"fmt"
	"strings"
)

// store writes the statements that keep a decoded value expression v.
type store func(w *emitter, v string)

// storeTo stores a value in dst.
func storeTo(dst string) store {
	return func(w *emitter, v string) { w.line("%s = %s", dst, v) }
}

// storePtr stores a value in storage from the Reader's scalar blocks and
// points dst at it, saving an allocation per optional value.
func (g *gen) storePtr(t *Type, dst string) store {
	gt := g.goType(t)
	block := map[string]string{"bool": "Bool", "int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64",
		"uint8": "Uint8", "uint16": "Uint16", "uint32": "Uint32", "uint64": "Uint64", "string": "String"}[gt]
	enum := t.Simple != nil && len(t.Simple.Enum) > 0
	return func(w *emitter, v string) {
		switch {
		case block != "":
			w.line("p := r.New%s()", block)
		case enum:
			w.line("p := (*%s)(r.NewUint8())", gt)
		default: // no block of its type
			w.line("tmp := %s", v)
			w.line("%s = &tmp", dst)
			return
		}
		w.line("*p = %s", v)
		w.line("%s = p", dst)
	}
}

// storeRoot stores the value of a simple root element of a Document or
// Fragment in its field dst.
func (g *gen) storeRoot(t *Type, dst string) store {
	if g.ptrType(t) == "exi.Bytes" {
		return storeTo(dst)
	}
	return g.storePtr(t, dst)
}

// storeAppend appends a value to the list dst, charged to the Reader's budget.
func storeAppend(dst string) store {
	return func(w *emitter, v string) {
		w.check("", "r.Alloc(16)")
		w.line("%s = append(%s, %s)", dst, dst, v)
	}
}

// decodeValue writes the decoding of a simple value of t, kept by keep;
// ret prefixes the error return, field names the value in the notes of
// facet deviations.
func (g *gen) decodeValue(w *emitter, t *Type, q QName, field string, keep store, ret string) {
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
	w.line("{")
	w.assign(ret, "v", call)
	keep(w, conv)
	w.close()
}

// decodeFixedLeaf writes the decoding of a simple element whose value has
// a fixed width (enumeration, boolean, n-bit integer) as one read with its
// CH and EE codes; it reports false, writing nothing, for other types.
func (g *gen) decodeFixedLeaf(w *emitter, t *Type, q QName, keep store) bool {
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
	w.line("{")
	w.assign("", "v, empty", call)
	w.open("if !empty")
	keep(w, conv)
	w.close()
	w.close()
	return true
}

// encodeValue writes the encoding of the simple value expression v after
// the checks of t's facets.
func (g *gen) encodeValue(w *emitter, t *Type, v, field, ret string) {
	st := t.Simple
	switch {
	case len(st.Enum) > 0:
		w.check(ret, "exi.CheckEnum(%q, %q, uint64(%s), %d)", field, t.GoName, v, len(st.Enum))
		w.line("w.Bits(uint32(%s), %d)", v, bitsFor(len(st.Enum)))
	case st.Builtin == "boolean":
		w.line("w.Bool(%s)", v)
	case isBinary(st):
		if st.MaxLen >= 0 {
			w.check(ret, "exi.CheckBinary(%q, %s, %d)", field, v, st.MaxLen)
		}
		w.line("w.Binary(%s)", v)
	case isString(st):
		if st.MaxLen >= 0 {
			w.check(ret, "exi.CheckString(%q, %s, %d)", field, v, st.MaxLen)
		}
		w.line("w.String(%s)", v)
	case isBigInteger(st): // see bigint.go
		w.line("w.Integer(%s)", v)
	default:
		rep, lo, hi, width := intRepr(st)
		gt := g.goType(t)
		signed := !strings.HasPrefix(gt, "uint")
		// Range checks only where the facets are narrower than the Go type.
		if lo != nil && hi != nil && !(lo.IsInt64() && hi.IsInt64() && fitsExactly(gt, lo.Int64(), hi)) {
			if signed {
				w.check(ret, "exi.CheckRange(%q, int64(%s), %s, %s)", field, v, lo, hi)
			} else {
				w.check(ret, "exi.CheckURange(%q, uint64(%s), %s, %s)", field, v, lo, hi)
			}
		} else if lo != nil && lo.Sign() > 0 && !signed {
			w.check(ret, "exi.CheckURange(%q, uint64(%s), %s, 1<<64-1)", field, v, lo)
		}
		switch rep {
		case repNBit:
			w.line("w.NBit(int64(%s), %s, %d)", v, lo, width)
		case repUint:
			w.line("w.Uint(uint64(%s))", v)
		default:
			w.line("w.Int(int64(%s))", v)
		}
	}
}

// emitEnum writes enumeration t: its type and constants, the String
// method, and the text forms encoding/json uses.
func (g *gen) emitEnum(t *Type) {
	w := g.file(fileTypes)
	name := t.GoName
	names := "names" + name
	prefix := strings.TrimSuffix(name, "Type")
	w.line("// %s is the enumeration %s.", name, t.describe())
	w.line("type %s uint8", name)
	w.blank()
	w.line("// Values of %s, in schema order.", name)
	w.line("const (")
	for i, v := range t.Simple.Enum {
		n := prefix + goIdent(v)
		if g.names[n] {
			n = name + "_" + goIdent(v)
		}
		n = g.unique(n)
		if i == 0 {
			w.line("%s %s = iota", n, name)
		} else {
			w.line("%s", n)
		}
	}
	w.line(")")
	w.blank()
	w.line("var %s = [...]string{%s}", names, quoteList(t.Simple.Enum))
	w.blank()
	w.line("// String returns the schema name of v.")
	w.open("func (v %s) String() string", name)
	w.open("if int(v) < len(%s)", names)
	w.line("return %s[v]", names)
	w.close()
	w.line("return \"%s(\" + strconv.Itoa(int(v)) + \")\"", name)
	w.closeDecl()

	w = g.file(fileJSON)
	w.line("// MarshalText returns the schema name of v, or \"%s(index)\" for an", name)
	w.line("// index past the last value (a decoder keeps what a peer sent).")
	w.open("func (v %s) MarshalText() ([]byte, error)", name)
	w.line("return []byte(v.String()), nil")
	w.closeDecl()
	w.line("// UnmarshalText parses a schema name.")
	w.open("func (v *%s) UnmarshalText(b []byte) error", name)
	w.open("for i, n := range %s", names)
	w.open("if n == string(b)")
	w.line("*v = %s(i)", name)
	w.line("return nil")
	w.close()
	w.close()
	w.line("return fmt.Errorf(\"%%q is not a %s value\", b)", name)
	w.closeDecl()
}

// quoteList writes strings as the elements of a Go composite literal.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
