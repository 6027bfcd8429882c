package exigen

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Field is one child element, attribute or simple content of a complex
// type, with the occurrence bounds the content model allows.
type Field struct {
	Kind     evKind // evAT, evSE or evCH
	Q        QName
	Elem     *Element
	Attr     *Attribute
	Type     *Type
	Min, Max int // Max < 0: unbounded
	Event    int
	GoName   string
}

// Grammar is a normalized, event-coded type grammar.
type Grammar struct {
	States      []GState
	Fields      []*Field // in event-number order; event 0 (EE) has no field
	NumCounters int
}

// GState is a state with its productions in event-code order.
type GState struct {
	Width  int
	Prods  []GProd
	Level2 int  // second-level productions
	EE2    bool // EE is second-level (code 0) and simple content may be absent
}

// GProd is a production; Event < 0 marks unsupported content.
type GProd struct {
	Event     int
	Next      int
	Counter   int
	Max, Exit int
	Label     string
}

// buildGrammar builds the grammar of complex type t in the four steps of
// EXI 1.0 §8.5.4: proto-grammar, normalization, event codes, undeclared
// productions.
func buildGrammar(s *Schema, t *Type) (*Grammar, error) {
	g, err := protoGrammar(s, t)
	if err != nil {
		return nil, err
	}
	out := &Grammar{NumCounters: len(g.counters)}
	var ids eventIDs
	out.Fields, ids = numberEvents(s, t, g)
	n := newNormalizer(g)
	n.intern([]int{g.start})
	for i := 0; i < len(n.kernels); i++ {
		prods := n.terminals(n.kernels[i])
		sortByEventCode(prods)
		st := GState{Width: bitsFor(len(prods) + 1)}
		st.Level2, st.EE2 = undeclared(prods, i == 0, g.upToContent(n.kernels[i]))
		if st.Prods, err = n.productions(prods, ids); err != nil {
			return nil, err
		}
		out.States = append(out.States, st)
	}
	return out, nil
}

// protoGrammar builds the complex type grammar of t (§8.5.4.1.3.2): one
// state per attribute use, sorted by qname and skippable when optional
// (§8.5.4.1.4), then the content: the particle, simple content or EE for
// empty content, with CH[untyped] in every content state when mixed.
func protoGrammar(s *Schema, t *Type) (*nfa, error) {
	g := &nfa{s: s, elems: map[QName]*Element{}, attrs: map[QName]*Attribute{}, attrStates: map[int]bool{}}
	end := g.add()
	g.prod(end, event{kind: evEE}, -1, -1)
	first := len(g.states) // where the content's states begin
	switch {
	case t.SimpleContent != nil:
		g.start = g.add()
		g.prod(g.start, event{kind: evCH}, end, -1)
	case t.Content != nil:
		var err error
		if g.start, err = g.particle(t.Content, end); err != nil {
			return nil, err
		}
	default:
		g.start = end
	}
	if t.Mixed {
		for i := first; i < len(g.states); i++ {
			g.prod(i, event{kind: evCHUntyped}, i, -1)
		}
		g.prod(end, event{kind: evCHUntyped}, end, -1)
	}
	g.content = g.start
	attrs := sortedAttrs(t)
	for i := len(attrs) - 1; i >= 0; i-- {
		a := attrs[i]
		if _, dup := g.attrs[a.Name]; dup {
			return nil, fmt.Errorf("attribute %s declared twice", a.Name)
		}
		g.attrs[a.Name] = a
		st := g.add()
		g.attrStates[st] = true
		g.prod(st, event{kind: evAT, q: a.Name}, g.start, -1)
		if !a.Required {
			g.eps(st, g.start)
		}
		g.start = st
	}
	return g, nil
}

// sortedAttrs returns t's attribute uses in EXI order: local name, then
// namespace (§8.5.4.1.3.2).
func sortedAttrs(t *Type) []*Attribute {
	attrs := append([]*Attribute(nil), t.Attrs...)
	sort.SliceStable(attrs, func(i, j int) bool { return attrs[i].Name.less(attrs[j].Name) })
	return attrs
}

// upToContent reports whether a normalized state made of the proto-grammar
// states in kernel is an attribute state or the content's start: the states
// §8.5.4.4.1 calls j <= content.
func (g *nfa) upToContent(kernel []int) bool {
	for _, k := range kernel {
		if g.attrStates[k] || k == g.content {
			return true
		}
	}
	return false
}

// evKind is the kind of a grammar terminal; evEps marks an ε-production of
// a proto-grammar, which normalization removes.
type evKind int

const (
	evAT evKind = iota
	evSE
	evSEAny
	evEE
	evCH
	evCHUntyped
	evEps
)

// event is a grammar terminal; SE and AT carry their qname.
type event struct {
	kind evKind
	q    QName
}

// nprod is a production of a proto-grammar state.
type nprod struct {
	ev      event
	next    int
	counter int // bounded-list counter, or -1
}

// nstate is a proto-grammar state.
type nstate struct{ prods []nprod }

// counter is a bounded list that counts its items instead of unrolling
// maxOccurs states.
type counter struct {
	max  int
	loop int // NFA loop state of the list
	next int // NFA state after the list
}

// nfa is a proto-grammar (EXI 1.0 §8.5.4.1) with ε-productions.
type nfa struct {
	s        *Schema
	states   []nstate
	counters []counter
	elems    map[QName]*Element
	attrs    map[QName]*Attribute
	depth    int // nesting inside repeated particles

	start      int          // the type's start state
	content    int          // the content's start state, after the attributes
	attrStates map[int]bool // the attribute uses' states
}

// add adds a state without productions and returns it.
func (g *nfa) add() int { g.states = append(g.states, nstate{}); return len(g.states) - 1 }

// prod adds the production from -ev-> to, counting items of list ctr (-1: none).
func (g *nfa) prod(from int, ev event, to, ctr int) {
	g.states[from].prods = append(g.states[from].prods, nprod{ev, to, ctr})
}

// eps adds the ε-production from -> to.
func (g *nfa) eps(from, to int) { g.prod(from, event{kind: evEps}, to, -1) }

// term builds the grammar of a particle's term continuing at next: an
// element term, one SE per member of its substitution group (§8.5.4.1.6); a
// wildcard, SE(*) (§8.5.4.1.7); a sequence or a choice (§8.5.4.1.8).
func (g *nfa) term(p *Particle, next, ctr int) (int, error) {
	switch {
	case p.Elem != nil:
		s := g.add()
		for _, m := range g.s.members(p.Elem) {
			if old, ok := g.elems[m.Name]; ok && old.Type != m.Type {
				return 0, fmt.Errorf("element %s declared twice with different types", m.Name)
			}
			g.elems[m.Name] = m
			g.prod(s, event{kind: evSE, q: m.Name}, next, ctr)
		}
		return s, nil
	case p.Wildcard:
		s := g.add()
		g.prod(s, event{kind: evSEAny}, next, ctr)
		return s, nil
	case p.Group.Choice:
		s := g.add()
		if len(p.Group.Particles) == 0 {
			g.eps(s, next)
		}
		for _, c := range p.Group.Particles {
			cs, err := g.particle(c, next)
			if err != nil {
				return 0, err
			}
			g.eps(s, cs)
		}
		return s, nil
	default:
		cur := next
		for i := len(p.Group.Particles) - 1; i >= 0; i-- {
			var err error
			if cur, err = g.particle(p.Group.Particles[i], cur); err != nil {
				return 0, err
			}
		}
		return cur, nil
	}
}

// particle builds a particle's grammar (§8.5.4.1.5): minOccurs mandatory
// copies of the term, then a loop (unbounded), a counted loop (a bounded
// list of one element term) or optional copies.
func (g *nfa) particle(p *Particle, next int) (int, error) {
	if p.Max == 0 {
		return next, nil
	}
	if p.Max != 1 {
		g.depth++
		defer func() { g.depth-- }()
	}
	ctr := -1
	var tail int
	switch {
	case p.Max < 0:
		tail = g.add()
		start, err := g.term(p, tail, -1)
		if err != nil {
			return 0, err
		}
		g.eps(tail, start)
		g.eps(tail, next)
	case p.Max > p.Min && p.Max > 1 && p.Elem != nil && g.depth == 1:
		// A list bounded at Max: the loop state counts, and the Max-th item
		// leads to what follows the list (only EE-like productions there).
		ctr = len(g.counters)
		tail = g.add()
		g.counters = append(g.counters, counter{max: p.Max, loop: tail, next: next})
		start, err := g.term(p, tail, ctr)
		if err != nil {
			return 0, err
		}
		g.eps(tail, start)
		g.eps(tail, next)
	default:
		if p.Max-p.Min > 64 {
			return 0, fmt.Errorf("bounded repetition of a group (maxOccurs %d) is not supported", p.Max)
		}
		tail = next
		for i := p.Min; i < p.Max; i++ {
			s := g.add()
			start, err := g.term(p, tail, -1)
			if err != nil {
				return 0, err
			}
			g.eps(s, start)
			g.eps(s, next)
			tail = s
		}
	}
	cur := tail
	for i := 0; i < p.Min; i++ {
		var err error
		if cur, err = g.term(p, cur, ctr); err != nil {
			return 0, err
		}
	}
	return cur, nil
}

// eventIDs maps a terminal to its event number: 0 for EE, the field's
// number for AT, CH and SE, negative for content the codec does not support.
type eventIDs map[event]int

func (ids eventIDs) of(ev event) int {
	switch ev.kind {
	case evEE:
		return 0
	case evSEAny:
		return -1
	case evCHUntyped:
		return -2
	}
	return ids[ev]
}

// numberEvents lists t's fields and numbers their events from 1 (EE is 0):
// the attributes in EXI order, the simple content, then the child elements
// in schema order. The numbers index exi.Grammar.Events; they are not EXI
// event codes, which depend on the state.
func numberEvents(s *Schema, t *Type, g *nfa) ([]*Field, eventIDs) {
	var fields []*Field
	ids := eventIDs{}
	add := func(f *Field, ev event) {
		fields = append(fields, f)
		f.Event = len(fields)
		ids[ev] = f.Event
	}
	for _, a := range sortedAttrs(t) {
		lo := 0
		if a.Required {
			lo = 1
		}
		add(&Field{Kind: evAT, Q: a.Name, Attr: a, Type: a.Type, Min: lo, Max: 1}, event{kind: evAT, q: a.Name})
	}
	if t.SimpleContent != nil {
		add(&Field{Kind: evCH, Type: t.SimpleContent, Min: 1, Max: 1}, event{kind: evCH})
	}
	if t.Content != nil {
		bounds := map[QName][2]int{}
		var order []QName
		countElems(s, t.Content, bounds, &order)
		for _, q := range order {
			b := bounds[q]
			e := g.elems[q]
			add(&Field{Kind: evSE, Q: q, Elem: e, Type: e.Type, Min: b[0], Max: b[1]}, event{kind: evSE, q: q})
		}
	}
	return fields, ids
}

// normalizer turns the proto-grammar into a normalized grammar (§8.5.4.2)
// by a subset construction: a normalized state is the kernel of
// proto-grammar states it stands for, numbered in the order first reached,
// which keeps the schema order of the states.
type normalizer struct {
	g       *nfa
	kernels [][]int
	index   map[string]int // ε-closure of a kernel -> normalized state
}

func newNormalizer(g *nfa) *normalizer {
	return &normalizer{g: g, index: map[string]int{}}
}

// intern returns the normalized state of kernel, adding it when no state
// has the same ε-closure.
func (n *normalizer) intern(kernel []int) int {
	k := n.closureKey(kernel)
	if i, ok := n.index[k]; ok {
		return i
	}
	n.index[k] = len(n.kernels)
	n.kernels = append(n.kernels, kernel)
	return len(n.kernels) - 1
}

// closureKey names the set of proto-grammar states reachable from kernel
// through ε-productions.
func (n *normalizer) closureKey(kernel []int) string {
	seen := map[int]bool{}
	todo := append([]int(nil), kernel...)
	for len(todo) > 0 {
		s := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[s] {
			continue
		}
		seen[s] = true
		for _, p := range n.g.states[s].prods {
			if p.ev.kind == evEps {
				todo = append(todo, p.next)
			}
		}
	}
	ids := make([]int, 0, len(seen))
	for s := range seen {
		ids = append(ids, s)
	}
	sort.Ints(ids)
	var b strings.Builder
	for _, s := range ids {
		fmt.Fprintf(&b, "%d,", s)
	}
	return b.String()
}

// terminal is one production of a normalized state: a terminal and the
// proto-grammar states it leads to (their union is the next state).
type terminal struct {
	ev      event
	targets []int
	ctr     int // bounded-list counter, -1 none, -2 conflicting
}

// terminals eliminates the productions without a terminal symbol
// (§8.5.4.2.1) by copying, depth first, the productions of the states they
// jump to, and merges productions with the same terminal into one that leads
// to the union of their targets (§8.5.4.2.2).
func (n *normalizer) terminals(kernel []int) []*terminal {
	ts := terminalSet{g: n.g, byEv: map[event]*terminal{}, seen: map[int]bool{}}
	for _, k := range kernel {
		ts.expand(k)
	}
	return ts.prods
}

// terminalSet collects the terminals of one normalized state.
type terminalSet struct {
	g     *nfa
	prods []*terminal // in the order first reached
	byEv  map[event]*terminal
	seen  map[int]bool // proto-grammar states expanded
}

func (ts *terminalSet) expand(s int) {
	if ts.seen[s] {
		return
	}
	ts.seen[s] = true
	for _, p := range ts.g.states[s].prods {
		if p.ev.kind == evEps {
			ts.expand(p.next)
			continue
		}
		m := ts.byEv[p.ev]
		if m == nil {
			m = &terminal{ev: p.ev, ctr: p.counter}
			ts.byEv[p.ev] = m
			ts.prods = append(ts.prods, m)
		} else if m.ctr != p.counter {
			m.ctr = -2
		}
		if !slices.Contains(m.targets, p.next) {
			m.targets = append(m.targets, p.next)
		}
	}
}

// sortByEventCode orders a state's productions by event code (§8.5.4.3):
// AT(qname) sorted by qname, SE(qname) in schema order, SE(*), EE, CH.
func sortByEventCode(prods []*terminal) {
	sort.SliceStable(prods, func(a, b int) bool {
		ra, rb := codeRank(prods[a].ev.kind), codeRank(prods[b].ev.kind)
		if ra != rb {
			return ra < rb
		}
		if ra == 0 {
			return prods[a].ev.q.less(prods[b].ev.q)
		}
		return false
	})
}

// codeRank is the rank of a kind of terminal in the event code order.
func codeRank(k evKind) int {
	switch k {
	case evAT:
		return 0
	case evSE:
		return 1
	case evSEAny:
		return 2
	case evEE:
		return 3
	}
	return 4
}

// undeclared counts the second-level productions of a state in a
// non-strict grammar without preserve options (§8.5.4.4.1): EE when it is
// not first-level; AT(xsi:type) and AT(xsi:nil) in the start state; AT(*)
// and the untyped-AT group in the states up to the content; then SE(*) and
// CH[untyped]. ee2 reports that EE is second-level (code 0) while CH is
// first-level, so simple content may be absent.
func undeclared(prods []*terminal, start, upToContent bool) (level2 int, ee2 bool) {
	hasEE, hasCH := false, false
	for _, m := range prods {
		hasEE = hasEE || m.ev.kind == evEE
		hasCH = hasCH || m.ev.kind == evCH
	}
	if !hasEE {
		level2++
	}
	if start {
		level2 += 2
	}
	if upToContent {
		level2 += 2
	}
	level2 += 2
	return level2, !hasEE && hasCH
}

// productions turns a state's terminals into its productions, interning the
// next states; a bounded list's production also gets its counter and the
// state the Max-th item leads to.
func (n *normalizer) productions(prods []*terminal, ids eventIDs) ([]GProd, error) {
	var out []GProd
	for _, m := range prods {
		gp := GProd{Event: ids.of(m.ev), Next: -1, Counter: -1, Label: label(m.ev)}
		if m.ev.kind != evEE {
			gp.Next = n.intern(m.targets)
		}
		if m.ctr == -2 {
			return nil, fmt.Errorf("%s: ambiguous bounded lists", m.ev.q)
		}
		if m.ctr >= 0 {
			c := n.g.counters[m.ctr]
			var exit []int
			for _, t := range m.targets {
				if t == c.loop {
					t = c.next
				}
				exit = append(exit, t)
			}
			gp.Counter, gp.Max, gp.Exit = m.ctr, c.max, n.intern(exit)
		}
		out = append(out, gp)
	}
	return out, nil
}

// label writes a terminal as the grammar comments and traces do.
func label(ev event) string {
	switch ev.kind {
	case evAT:
		return "AT(" + ev.q.Local + ")"
	case evSE:
		return "SE(" + ev.q.Local + ")"
	case evSEAny:
		return "SE(*)"
	case evEE:
		return "EE"
	case evCH:
		return "CH"
	}
	return "CH[untyped]"
}

// countElems walks a content model in schema order and records for each
// element qname the least and most times it can occur (-1: unbounded).
func countElems(s *Schema, p *Particle, b map[QName][2]int, order *[]QName) {
	inner := map[QName][2]int{}
	switch {
	case p.Elem != nil:
		ms := s.members(p.Elem)
		for _, m := range ms {
			lo := 0
			if len(ms) == 1 {
				lo = 1
			}
			inner[m.Name] = [2]int{lo, 1}
			note(order, m.Name)
		}
	case p.Wildcard:
	case p.Group.Choice:
		for i, c := range p.Group.Particles {
			sub := map[QName][2]int{}
			countElems(s, c, sub, order)
			for q, v := range sub {
				old, ok := inner[q]
				if !ok {
					if i > 0 {
						v[0] = 0
					}
					inner[q] = v
					continue
				}
				inner[q] = [2]int{min(old[0], v[0]), maxOcc(old[1], v[1])}
			}
			for q, old := range inner {
				if _, ok := sub[q]; !ok {
					inner[q] = [2]int{0, old[1]}
				}
			}
		}
	default:
		for _, c := range p.Group.Particles {
			sub := map[QName][2]int{}
			countElems(s, c, sub, order)
			for q, v := range sub {
				old := inner[q]
				inner[q] = [2]int{old[0] + v[0], addOcc(old[1], v[1])}
			}
		}
	}
	for q, v := range inner {
		lo, hi := v[0]*p.Min, mulOcc(v[1], p.Max)
		old := b[q]
		b[q] = [2]int{old[0] + lo, addOcc(old[1], hi)}
	}
}

// note appends q to order unless it is there.
func note(order *[]QName, q QName) {
	for _, o := range *order {
		if o == q {
			return
		}
	}
	*order = append(*order, q)
}

// maxOcc, addOcc and mulOcc combine occurrence bounds, -1 being unbounded.
func maxOcc(a, b int) int {
	if a < 0 || b < 0 {
		return -1
	}
	return max(a, b)
}

func addOcc(a, b int) int {
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}

func mulOcc(a, b int) int {
	if a < 0 || b < 0 {
		if a == 0 || b == 0 {
			return 0
		}
		return -1
	}
	return a * b
}

// bitsFor is the width of an n-bit code with n values: ⌈log2 n⌉.
func bitsFor(n int) int {
	w := 0
	for 1<<w < n {
		w++
	}
	return w
}
