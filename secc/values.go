package secc

import (
	"errors"
	"math"
)

// Errors of the session rules, inside a *RequestError.
var (
	// ErrUnknownSession: the request carries another SessionID than the session's.
	ErrUnknownSession = errors.New("unknown SessionID")
	// ErrSequence: the request is not allowed in the session's state.
	ErrSequence = errors.New("request out of sequence")
)

func ptr[T any](v T) *T { return &v }

// scaled returns value x 10^mul.
func scaled(value, mul int) float64 { return float64(value) * math.Pow10(mul) }

// physical splits v into the Value and Multiplier of a PhysicalValue: the
// smallest multiplier >= 0 whose value fits an int16.
func physical(v float64) (int16, int8) {
	var mul int8
	for math.Abs(v) > math.MaxInt16 && mul < 3 {
		v /= 10
		mul++
	}
	v = math.Round(v)
	v = math.Max(math.Min(v, math.MaxInt16), math.MinInt16)
	return int16(v), mul
}
