package exi

import (
	"errors"
	"math/big"
	"strconv"
)

// Integer is the Go type of an unbounded xs:integer (xmldsig's
// X509SerialNumber, up to 20 octets in real certificates): any value,
// exactly. The zero value is 0. It is immutable, so copies may share
// storage. In JSON it is a number of any length, as int64 fields are;
// a quoted decimal string is accepted too.
type Integer struct {
	small int64
	big   *big.Int // set only for values outside int64
}

// NewInteger returns the Integer of v.
func NewInteger(v int64) Integer { return Integer{small: v} }

// IntegerFromBig returns the Integer of v (copied).
func IntegerFromBig(v *big.Int) Integer {
	if v.IsInt64() {
		return Integer{small: v.Int64()}
	}
	return Integer{big: new(big.Int).Set(v)}
}

// ParseInteger parses a decimal integer with an optional sign.
func ParseInteger(s string) (Integer, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return Integer{small: v}, nil
	}
	digits := s
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		digits = digits[1:]
	}
	if digits == "" {
		return Integer{}, errInteger
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return Integer{}, errInteger
		}
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return Integer{}, errInteger
	}
	return IntegerFromBig(v), nil
}

var errInteger = errors.New("exi: integer value is not a decimal integer")

// Big returns the value as a new big.Int.
func (x Integer) Big() *big.Int {
	if x.big != nil {
		return new(big.Int).Set(x.big)
	}
	return big.NewInt(x.small)
}

// Int64 returns the value and whether it fits an int64.
func (x Integer) Int64() (int64, bool) { return x.small, x.big == nil }

// Sign returns -1, 0 or +1 as x is negative, zero or positive.
func (x Integer) Sign() int {
	if x.big != nil {
		return x.big.Sign()
	}
	switch {
	case x.small < 0:
		return -1
	case x.small > 0:
		return 1
	}
	return 0
}

// Cmp compares x and y: -1, 0 or +1 as x is less than, equal to or greater than y.
func (x Integer) Cmp(y Integer) int {
	if x.big == nil && y.big == nil {
		switch {
		case x.small < y.small:
			return -1
		case x.small > y.small:
			return 1
		}
		return 0
	}
	return x.Big().Cmp(y.Big())
}

// String returns the value in decimal.
func (x Integer) String() string {
	if x.big != nil {
		return x.big.String()
	}
	return strconv.FormatInt(x.small, 10)
}

// MarshalJSON writes the value as a JSON number, every digit kept.
func (x Integer) MarshalJSON() ([]byte, error) { return []byte(x.String()), nil }

// UnmarshalJSON reads a JSON number without fraction or exponent, or a
// decimal string.
func (x *Integer) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := ParseInteger(s)
	if err != nil {
		return err
	}
	*x = v
	return nil
}

// Integer reads an Integer (EXI 1.0 §7.1.5) of any length: the sign bit,
// then the magnitude as an Unsigned Integer of as many 7-bit groups as the
// input holds. The time and memory it takes are linear in the octets read,
// and those count against the document's budget.
func (r *Reader) Integer() (Integer, error) {
	neg, err := r.Bool()
	if err != nil {
		return Integer{}, err
	}
	start := r.pos
	n := 0 // octets of the magnitude
	for {
		b, err := r.Bits(8)
		if err != nil {
			return Integer{}, err
		}
		n++
		if b&0x80 == 0 {
			break
		}
	}
	r.pos = start
	if n <= 9 { // at most 63 bits
		u, err := r.Uint()
		if err != nil {
			return Integer{}, err
		}
		if neg {
			return Integer{small: -int64(u) - 1}, nil
		}
		return Integer{small: int64(u)}, nil
	}
	size := (7*n + 7) / 8
	if err := r.Alloc(uintptr(size)); err != nil {
		return Integer{}, err
	}
	// Least significant group first: pack the groups into little-endian
	// octets, then reverse them for SetBytes.
	mag := make([]byte, 0, size)
	var acc uint32
	var bits uint
	for range n {
		b, _ := r.Bits(8)
		acc |= (b & 0x7F) << bits
		bits += 7
		if bits >= 8 {
			mag = append(mag, byte(acc))
			acc >>= 8
			bits -= 8
		}
	}
	if bits > 0 {
		mag = append(mag, byte(acc))
	}
	for i, j := 0, len(mag)-1; i < j; i, j = i+1, j-1 {
		mag[i], mag[j] = mag[j], mag[i]
	}
	v := new(big.Int).SetBytes(mag)
	if neg {
		v.Add(v, big.NewInt(1))
		v.Neg(v)
	}
	if v.IsInt64() {
		return Integer{small: v.Int64()}, nil
	}
	return Integer{big: v}, nil
}

// Integer writes an Integer of any size: the sign bit, then |v| (|v|-1
// when negative) in 7-bit groups, least significant first.
func (w *Writer) Integer(v Integer) {
	if v.big == nil {
		w.Int(v.small)
		return
	}
	m := v.big
	if m.Sign() < 0 {
		w.Bits(1, 1)
		m = new(big.Int).Neg(m)
		m.Sub(m, big.NewInt(1))
	} else {
		w.Bits(0, 1)
	}
	be := m.Bytes() // big-endian, no leading zeros
	var acc uint32
	var bits uint
	for i := len(be) - 1; i >= 0; i-- {
		acc |= uint32(be[i]) << bits
		bits += 8
		for bits >= 7 {
			g := acc & 0x7F
			acc >>= 7
			bits -= 7
			if i == 0 && acc == 0 {
				w.Bits(g, 8) // the last group
				return
			}
			w.Bits(g|0x80, 8)
		}
	}
	w.Bits(acc, 8)
}
