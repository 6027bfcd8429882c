package exi

import "fmt"

// Note is a value the decoder kept although a schema facet forbids it: the
// bits can carry it and real peers send such values (an n-bit integer above
// its maximum, an enumeration index past the last value, a string or binary
// longer than its maxLength). Encoding the document back fails on it.
type Note struct {
	Bit   int    // bit offset of the value from the start of the stream
	Field string // local name of the element or attribute holding it
	Msg   string // the deviation, e.g. "value 256 outside [1, 255]"
}

// String describes the note in the form of an Error.
func (n Note) String() string {
	return fmt.Sprintf("exi: bit %d: %s: %s (kept; the schema forbids it)", n.Bit, n.Field, n.Msg)
}

// MaxNotes bounds the notes a document keeps; further deviations are not
// listed, so that hostile input cannot make the list grow with its size.
const MaxNotes = 16

// note records a deviation at bit in field.
func (r *Reader) note(bit int, field, format string, args ...any) {
	if len(r.notes) < MaxNotes {
		r.notes = append(r.notes, Note{Bit: bit, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
}

// Notes returns the deviations from the schema's facets accepted since
// Reset, at most MaxNotes, in stream order; nil when there were none.
func (r *Reader) Notes() []Note { return r.notes }
