package exi

import (
	"errors"
	"fmt"
)

// Error is a decoding or encoding error at a bit position of the stream.
type Error struct {
	Bit int    // bit offset from the start of the stream (header included)
	Msg string // what went wrong
}

func (e *Error) Error() string { return fmt.Sprintf("exi: bit %d: %s", e.Bit, e.Msg) }

// ErrEOF is wrapped by errors for input that ends inside a document.
var ErrEOF = errors.New("unexpected end of input")

type eofError struct{ e Error }

func (e *eofError) Error() string   { return e.e.Error() }
func (e *eofError) Unwrap() []error { return []error{&e.e, ErrEOF} }
