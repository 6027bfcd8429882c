package exigen

import (
	"fmt"
	"sort"
	"strings"
)

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

type nprod struct {
	ev      event
	next    int
	counter int // bounded-list counter, or -1
}

type nstate struct{ prods []nprod }

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
}

func (g *nfa) add() int { g.states = append(g.states, nstate{}); return len(g.states) - 1 }

func (g *nfa) prod(from int, ev event, to, ctr int) {
	g.states[from].prods = append(g.states[from].prods, nprod{ev, to, ctr})
}

func (g *nfa) eps(from, to int) { g.prod(from, event{kind: evEps}, to, -1) }

// term builds the grammar of a particle's term continuing at next.
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

// particle builds minOccurs mandatory copies of the term, then either a
// loop (unbounded), a counted loop (a bounded list of one element term), or
// optional copies (§8.5.4.1.5).
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

// buildGrammar builds the grammar of complex type t (§8.5.4).
func buildGrammar(s *Schema, t *Type) (*Grammar, error) {
	g := &nfa{s: s, elems: map[QName]*Element{}, attrs: map[QName]*Attribute{}}
	end := g.add()
	g.prod(end, event{kind: evEE}, -1, -1)
	first := len(g.states) // where the content's states begin
	var start int
	switch {
	case t.SimpleContent != nil:
		start = g.add()
		g.prod(start, event{kind: evCH}, end, -1)
	case t.Content != nil:
		var err error
		if start, err = g.particle(t.Content, end); err != nil {
			return nil, err
		}
	default:
		start = end
	}
	if t.Mixed {
		for i := first; i < len(g.states); i++ {
			g.prod(i, event{kind: evCHUntyped}, i, -1)
		}
		g.prod(end, event{kind: evCHUntyped}, end, -1)
	}
	contentStart := start
	attrStates := map[int]bool{}
	attrs := append([]*Attribute(nil), t.Attrs...)
	sort.SliceStable(attrs, func(i, j int) bool { return attrs[i].Name.less(attrs[j].Name) })
	for i := len(attrs) - 1; i >= 0; i-- {
		a := attrs[i]
		if _, dup := g.attrs[a.Name]; dup {
			return nil, fmt.Errorf("attribute %s declared twice", a.Name)
		}
		g.attrs[a.Name] = a
		st := g.add()
		attrStates[st] = true
		g.prod(st, event{kind: evAT, q: a.Name}, start, -1)
		if !a.Required {
			g.eps(st, start)
		}
		start = st
	}

	out := &Grammar{NumCounters: len(g.counters)}
	// Fields: attributes (sorted), simple content, then elements in schema order.
	evOf := map[event]int{}
	addField := func(f *Field, ev event) {
		out.Fields = append(out.Fields, f)
		f.Event = len(out.Fields)
		evOf[ev] = f.Event
	}
	for _, a := range attrs {
		lo := 0
		if a.Required {
			lo = 1
		}
		addField(&Field{Kind: evAT, Q: a.Name, Attr: a, Type: a.Type, Min: lo, Max: 1}, event{kind: evAT, q: a.Name})
	}
	if t.SimpleContent != nil {
		addField(&Field{Kind: evCH, Type: t.SimpleContent, Min: 1, Max: 1}, event{kind: evCH})
	}
	if t.Content != nil {
		bounds := map[QName][2]int{}
		var order []QName
		countElems(s, t.Content, bounds, &order)
		for _, q := range order {
			b := bounds[q]
			e := g.elems[q]
			addField(&Field{Kind: evSE, Q: q, Elem: e, Type: e.Type, Min: b[0], Max: b[1]}, event{kind: evSE, q: q})
		}
	}
	evID := func(ev event) int {
		switch ev.kind {
		case evEE:
			return 0
		case evSEAny:
			return -1
		case evCHUntyped:
			return -2
		}
		return evOf[ev]
	}

	// Normalization: ε-elimination and merging (§8.5.4.2), as a subset
	// construction over kernels whose order gives the schema order.
	type dstate struct {
		kernel []int
	}
	var dstates []dstate
	index := map[string]int{}
	closureKey := func(kernel []int) string {
		seen := map[int]bool{}
		var walk func(int)
		walk = func(n int) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, p := range g.states[n].prods {
				if p.ev.kind == evEps {
					walk(p.next)
				}
			}
		}
		for _, k := range kernel {
			walk(k)
		}
		ids := make([]int, 0, len(seen))
		for n := range seen {
			ids = append(ids, n)
		}
		sort.Ints(ids)
		var b strings.Builder
		for _, n := range ids {
			fmt.Fprintf(&b, "%d,", n)
		}
		return b.String()
	}
	intern := func(kernel []int) int {
		k := closureKey(kernel)
		if i, ok := index[k]; ok {
			return i
		}
		index[k] = len(dstates)
		dstates = append(dstates, dstate{kernel: kernel})
		return len(dstates) - 1
	}
	intern([]int{start})
	for i := 0; i < len(dstates); i++ {
		// Expand ε-productions in place, depth first.
		type merged struct {
			ev      event
			targets []int
			ctr     int
		}
		var prods []*merged
		byEv := map[event]*merged{}
		seen := map[int]bool{}
		var expand func(int)
		expand = func(n int) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, p := range g.states[n].prods {
				if p.ev.kind == evEps {
					expand(p.next)
					continue
				}
				m := byEv[p.ev]
				if m == nil {
					m = &merged{ev: p.ev, ctr: p.counter}
					byEv[p.ev] = m
					prods = append(prods, m)
				} else if m.ctr != p.counter {
					m.ctr = -2
				}
				dup := false
				for _, t := range m.targets {
					dup = dup || t == p.next
				}
				if !dup {
					m.targets = append(m.targets, p.next)
				}
			}
		}
		for _, k := range dstates[i].kernel {
			expand(k)
		}
		// Event code order (§8.5.4.3).
		rank := func(m *merged) int {
			switch m.ev.kind {
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
		sort.SliceStable(prods, func(a, b int) bool {
			ra, rb := rank(prods[a]), rank(prods[b])
			if ra != rb {
				return ra < rb
			}
			if ra == 0 {
				return prods[a].ev.q.less(prods[b].ev.q)
			}
			return false
		})
		st := GState{Width: bitsFor(len(prods) + 1)}
		// Second level (§8.5.4.4.1, no preserve options): EE if not first
		// level; in states up to the content AT(xsi:type) and AT(xsi:nil) (start
		// state only), AT(*) and the untyped-AT group; then SE(*), CH.
		hasEE, hasCH, atContent := false, false, i == 0
		for _, m := range prods {
			hasEE = hasEE || m.ev.kind == evEE
			hasCH = hasCH || m.ev.kind == evCH
		}
		for _, k := range dstates[i].kernel {
			atContent = atContent || attrStates[k] || k == contentStart
		}
		if !hasEE {
			st.Level2++
		}
		if i == 0 {
			st.Level2 += 2
		}
		if atContent {
			st.Level2 += 2
		}
		st.Level2 += 2
		st.EE2 = !hasEE && hasCH
		for _, m := range prods {
			gp := GProd{Event: evID(m.ev), Next: -1, Counter: -1, Label: label(m.ev)}
			if m.ev.kind != evEE {
				gp.Next = intern(m.targets)
			}
			if m.ctr == -2 {
				return nil, fmt.Errorf("%s: ambiguous bounded lists", m.ev.q)
			}
			if m.ctr >= 0 {
				c := g.counters[m.ctr]
				var exit []int
				for _, t := range m.targets {
					if t == c.loop {
						t = c.next
					}
					exit = append(exit, t)
				}
				gp.Counter, gp.Max, gp.Exit = m.ctr, c.max, intern(exit)
			}
			st.Prods = append(st.Prods, gp)
		}
		out.States = append(out.States, st)
	}
	return out, nil
}

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

func note(order *[]QName, q QName) {
	for _, o := range *order {
		if o == q {
			return
		}
	}
	*order = append(*order, q)
}

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

func bitsFor(n int) int {
	w := 0
	for 1<<w < n {
		w++
	}
	return w
}
