package exi

import "strconv"

// Grammar is the normalized, event-coded grammar of one schema type (EXI
// 1.0 §8.5.4), as the generator computed it. State 0 is the start state.
type Grammar struct {
	Name   string   // schema type, for errors
	Events []string // event names by event number, for errors (0 is EE)
	States []State
}

// State is one grammar state: the productions in event-code order, and the
// width of the first-level code. Width counts one code more than there are
// productions: in non-strict grammars that value escapes to the second level.
type State struct {
	Width uint8
	Prods []Prod
	// Level2 is the number of second-level productions (EXI 1.0 §8.5.4.4.1).
	// When EE2 is set the first of them is EE: an element whose simple
	// content is absent ends through it.
	Level2 uint8
	EE2    bool
}

// Prod is one production of a state; its index in State.Prods is its event code.
type Prod struct {
	Event int16 // generated event number; 0 is EE, negative is unsupported content
	Next  int16 // state after the event
	// Counter >= 0 marks an occurrence of a bounded list (maxOccurs Max);
	// when the list reaches Max items the grammar continues at Exit, where
	// only what follows the list is allowed.
	Counter int8
	Max     int16
	Exit    int16
}

// Event numbers shared by every grammar.
const (
	EventEE          = 0  // end of element
	EventWildcard    = -1 // SE(*): an element the schema leaves open
	EventUntypedText = -2 // CH in mixed content
)

func (g *Grammar) event(ev int) string {
	switch ev {
	case EventWildcard:
		return "wildcard element content (SE(*))"
	case EventUntypedText:
		return "mixed character content"
	}
	if ev >= 0 && ev < len(g.Events) {
		return g.Events[ev]
	}
	return "event " + strconv.Itoa(ev)
}
