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

// SchemaError is an encoding error: the document breaks its schema (a
// facet, an enumeration, an occurrence bound or the content model) at
// Field, so it is not encoded; a peer could not read it as meant.
type SchemaError struct {
	Field string // Type.Field of the value, or the type whose content is wrong
	Msg   string // what the schema forbids
}

func (e *SchemaError) Error() string { return "exi: " + e.Field + ": " + e.Msg }
