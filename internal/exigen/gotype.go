package exigen

import (
	"math"
	"math/big"
	"strings"
)

// goType is the Go type of a value of t (simple or complex).
func (g *gen) goType(t *Type) string {
	st := t.Simple
	if st == nil || len(st.Enum) > 0 {
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
		for _, w := range widerTypes(gt) {
			if tlo, thi := goBounds(w); lo.Cmp(tlo) >= 0 && top.Cmp(thi) <= 0 {
				return w
			}
		}
	}
	return gt
}

// widerTypes lists a Go integer type and the wider ones of its signedness.
func widerTypes(gt string) []string {
	signed := []string{"int8", "int16", "int32", "int64"}
	if strings.HasPrefix(gt, "uint") {
		signed = []string{"uint8", "uint16", "uint32", "uint64"}
	}
	for i, t := range signed {
		if t == gt {
			return signed[i:]
		}
	}
	return nil
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

// fitsExactly reports whether [lo, hi] is the whole range of Go type gt, so
// that encoding needs no range check.
func fitsExactly(gt string, lo int64, hi *big.Int) bool {
	tlo, thi := goBounds(gt)
	return tlo.IsInt64() && tlo.Int64() == lo && thi.Cmp(hi) == 0
}

// goLit writes an integer bound as a Go constant expression.
func goLit(b *big.Int) string {
	if b.IsInt64() && b.Int64() == math.MinInt64 {
		return "-1<<63"
	}
	return b.String()
}

// fieldType is the Go type of a struct field: a slice for a list, a
// pointer for an optional value (binary is absent as nil).
func (g *gen) fieldType(f *Field) string {
	gt := g.goType(f.Type)
	switch {
	case f.Max != 1:
		return "[]" + gt
	case f.Min == 1 || gt == "exi.Bytes":
		return gt
	}
	return "*" + gt
}

// ptrType is the Go type of an optional value of t: the root elements of a
// Document and the elements of a Fragment.
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
