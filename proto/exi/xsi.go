package exi

import (
	"errors"
	"fmt"
)

// xsi:type and xsi:nil are second-level productions of an element's first
// state in a non-strict grammar (EXI 1.0 §8.5.4.4.1). No V2G schema
// declares an element nillable, and no V2G peer sends either (libcbv2g and
// OpenV2G refuse every second-level event). A decoded value has no place
// to keep them, so an xsi:type naming the declared type or an
// xsi:nil="false", no-ops in the XML, would be dropped, and the document
// would encode back to other bytes: a signature over it would no longer
// verify. So both are refused, with what they said.

// ErrXsiType and ErrXsiNil are wrapped by the errors of documents holding
// an xsi:type or an xsi:nil attribute.
var (
	ErrXsiType = errors.New("xsi:type is not supported")
	ErrXsiNil  = errors.New("xsi:nil is not supported")
)

type xsiError struct {
	e    Error
	kind error
}

func (e *xsiError) Error() string   { return e.e.Error() }
func (e *xsiError) Unwrap() []error { return []error{&e.e, e.kind} }

// secondLevel reads what second-level event c2 (read at bit start) of a
// state carries and returns the error that refuses it. g is nil for the
// start of a simple-typed element; first tells a grammar's start state.
func (r *Reader) secondLevel(g *Grammar, s *State, first bool, start int, c2 uint32) error {
	typ := "a simple element"
	// The second level in order (§8.5.4.4.1, no fidelity options): EE
	// when not first-level, xsi:type and xsi:nil in the start state,
	// AT(*) and AT[untyped] up to the content, SE(*), CH[untyped].
	var events []string
	if g == nil {
		events = []string{"EE", "xsi:type", "xsi:nil", "AT(*)", "AT(*)", "SE(*)", "CH"}
	} else {
		typ = g.Name
		hasEE := false
		for _, p := range s.Prods {
			hasEE = hasEE || p.Event == EventEE
		}
		if !hasEE {
			events = append(events, "EE")
		}
		if first {
			events = append(events, "xsi:type", "xsi:nil")
		}
		if len(events)+4 <= int(s.Level2) {
			events = append(events, "AT(*)", "AT(*)")
		}
		events = append(events, "SE(*)", "CH")
	}
	ev := ""
	if int(c2) < len(events) {
		ev = events[c2]
	}
	switch ev {
	case "xsi:type":
		what := ""
		if r.wild.init() == nil {
			if n, err := r.qname(); err == nil {
				what = fmt.Sprintf("=%q", n.String())
			}
		}
		return &xsiError{Error{Bit: start, Msg: fmt.Sprintf("%s: xsi:type%s is not supported (no V2G peer sends a type cast, and a decoded document could not keep it)", typ, what)}, ErrXsiType}
	case "xsi:nil":
		what := ""
		if v, err := r.Bool(); err == nil {
			what = fmt.Sprintf("=\"%v\"", v)
		}
		return &xsiError{Error{Bit: start, Msg: fmt.Sprintf("%s: xsi:nil%s is not supported (no V2G element is nillable, and a decoded document could not keep it)", typ, what)}, ErrXsiNil}
	case "AT(*)":
		return &Error{Bit: start, Msg: fmt.Sprintf("%s: an attribute the schema does not declare (second-level AT(*)) is not supported", typ)}
	case "SE(*)":
		return &Error{Bit: start, Msg: fmt.Sprintf("%s: an element the schema does not declare (second-level SE(*)) is not supported", typ)}
	case "CH":
		return &Error{Bit: start, Msg: fmt.Sprintf("%s: characters the schema does not declare (second-level CH) are not supported", typ)}
	}
	return &Error{Bit: start, Msg: fmt.Sprintf("%s: invalid second-level event code %d", typ, c2)}
}
