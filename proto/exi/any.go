package exi

import (
	"fmt"
	"sort"
	"unicode/utf8"
	"unsafe"
)

// Wildcard content: what a schema leaves open (xs:any, SE(*)) and the
// character content of mixed types (CH[untyped]). xmldsig uses both
// (Transform, KeyInfo, Object, SignatureProperty...). An element matched by
// SE(*) is not described by the schema, so it is coded with the built-in
// element grammar (EXI 1.0 §8.4.3), whose productions are learned as the
// document goes on, and its qname is written through the uri and
// local-name string tables (§7.1.7, §7.3.2), which the schema pre-populates
// (§7.3.1, Appendix D). Both are per document and shared by every element
// of that qname, so Reader and Writer keep them.

// Names are the string table entries a schema set pre-populates: its URIs
// in id order, each URI's local names, and its global elements.
type Names struct {
	URIs    []string
	Locals  [][]string // by URI id, each sorted
	Globals []string   // "{uri}local" of every global element, sorted
}

// Name is an expanded XML name: a namespace URI and a local name.
type Name struct {
	Space string `json:"Space,omitempty"`
	Local string `json:"Local"`
}

func (n Name) String() string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

// AnyAttr is an attribute of an AnyElement.
type AnyAttr struct {
	Name  Name   `json:"Name"`
	Value string `json:"Value"`
}

// AnyElement is an element that the schema leaves open, kept as a generic
// tree in document order so that it encodes back as it came.
type AnyElement struct {
	Name    Name      `json:"Name"`
	Attrs   []AnyAttr `json:"Attrs,omitempty"`
	Content []Node    `json:"Content,omitempty"`
}

// Node is one item of an element's content: a child element, or character
// content when Elem is nil.
type Node struct {
	Text string      `json:"Text,omitempty"`
	Elem *AnyElement `json:"Elem,omitempty"`
}

// Mixed is one item of wildcard or mixed content of a schema type; After
// counts the declared child elements before it, which places it among
// them.
type Mixed struct {
	After int `json:"After"`
	Node
}

// MaxAnyDepth bounds the nesting of wildcard content a document may hold,
// so that hostile input cannot make the decoder recurse without end.
const MaxAnyDepth = 64

const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

// Built-in grammar productions (EXI 1.0 §8.4.3); the values are also
// their second-level codes in StartTagContent.
const (
	bEE = iota
	bAT
	bSE
	bCH
)

type bprod struct {
	kind uint8
	name Name
}

// builtin is the learned part of the built-in element grammar of one
// qname. Productions are kept in the order learned; the last learned has
// event code 0, so a code is found by index and learning costs O(1).
type builtin struct {
	start, content []bprod
	// The writer finds its productions by name.
	startIdx, contentIdx map[bprod]int
}

func (g *builtin) has(list []bprod, p bprod) bool {
	for _, q := range list {
		if q == p {
			return true
		}
	}
	return false
}

// wildState is the per-document state of wildcard content.
type wildState struct {
	names  *Names
	uris   []string
	locals [][]string
	uriIdx map[string]int      // writer only
	locIdx []map[string]int    // writer only, by URI id
	grams  map[string]*builtin // by "{uri}local"
	depth  int
}

// use starts a document of the schema set whose entries are n, forgetting
// what an earlier document learned; a state that learned nothing costs a
// store, as every message without wildcard content leaves it.
func (s *wildState) use(n *Names) {
	if s.grams != nil || s.depth != 0 {
		*s = wildState{}
	}
	s.names = n
}

func (s *wildState) init() error {
	if s.grams != nil {
		return nil
	}
	if s.names == nil {
		return fmt.Errorf("wildcard content outside a schema set's document")
	}
	n := s.names
	s.uris = n.URIs[:len(n.URIs):len(n.URIs)]
	s.locals = make([][]string, len(n.URIs))
	for i, l := range n.Locals {
		s.locals[i] = l[:len(l):len(l)]
	}
	s.grams = map[string]*builtin{}
	return nil
}

func (s *wildState) grammar(key string) (*builtin, bool) {
	g := s.grams[key]
	if g == nil {
		g = &builtin{}
		s.grams[key] = g
		return g, true
	}
	return g, false
}

func (s *wildState) global(key string) bool {
	gs := s.names.Globals
	i := sort.SearchStrings(gs, key)
	return i < len(gs) && gs[i] == key
}

// Budget charges of the learned grammar and name entries.
const (
	builtinCost = unsafe.Sizeof(builtin{}) + 64 // with its map entry
	bprodCost   = unsafe.Sizeof(bprod{})
	elemCost    = unsafe.Sizeof(AnyElement{})
	nodeCost    = unsafe.Sizeof(Node{})
	attrCost    = unsafe.Sizeof(AnyAttr{})
	mixedCost   = unsafe.Sizeof(Mixed{})
)

// UseNames sets the string table entries the schema set pre-populates; a
// generated decoder calls it after Reset, before the document.
func (r *Reader) UseNames(n *Names) { r.wild.use(n) }

// UseNames sets the string table entries the schema set pre-populates; a
// generated encoder calls it after Reset, before the document.
func (w *Writer) UseNames(n *Names) { w.wild.use(n) }

// Untyped reads the value of a CH[untyped] event, character content of a
// mixed type, and appends it to items after the given number of declared
// child elements.
func (r *Reader) Untyped(items *[]Mixed, after int) error {
	s, err := r.String(-1, "", "mixed content")
	if err != nil {
		return err
	}
	if err := r.Alloc(mixedCost); err != nil {
		return err
	}
	*items = append(*items, Mixed{After: after, Node: Node{Text: s}})
	return nil
}

// Wildcard reads the element of an SE(*) event, its qname and content, and
// appends it to items after the given number of declared child elements.
func (r *Reader) Wildcard(items *[]Mixed, after int) error {
	start := r.pos
	if err := r.wild.init(); err != nil {
		return &Error{Bit: start, Msg: err.Error()}
	}
	name, err := r.qname()
	if err != nil {
		return err
	}
	e, err := r.anyElement(name, start)
	if err != nil {
		return err
	}
	if err := r.Alloc(mixedCost); err != nil {
		return err
	}
	*items = append(*items, Mixed{After: after, Node: Node{Elem: e}})
	return nil
}

// anyElement reads the content of an element matched by SE(*), whose
// qname was read at bit.
func (r *Reader) anyElement(name Name, bit int) (*AnyElement, error) {
	key := name.String()
	if r.wild.global(key) {
		// Lax wildcards give a declared element its schema grammar (EXI
		// 1.0 §8.4.3); no V2G message puts one inside xs:any.
		return nil, &Error{Bit: bit, Msg: fmt.Sprintf("wildcard element %s is declared in the schema; its typed content inside wildcard content is not supported", key)}
	}
	if r.wild.depth >= MaxAnyDepth {
		return nil, &Error{Bit: bit, Msg: fmt.Sprintf("wildcard content nested deeper than %d elements; refused", MaxAnyDepth)}
	}
	r.wild.depth++
	defer func() { r.wild.depth-- }()
	g, fresh := r.wild.grammar(key)
	if fresh {
		if err := r.Alloc(builtinCost + uintptr(len(key))); err != nil {
			return nil, err
		}
	}
	if err := r.Alloc(elemCost); err != nil {
		return nil, err
	}
	e := &AnyElement{Name: name}
	inStart := true
	for {
		at := r.pos
		var p bprod
		learned := false
		if inStart {
			k := len(g.start)
			c, err := r.Bits(bitsFor(k + 1))
			if err != nil {
				return nil, err
			}
			switch {
			case int(c) < k:
				p, learned = g.start[k-1-int(c)], true
			case int(c) == k:
				c2, err := r.Bits(2)
				if err != nil {
					return nil, err
				}
				p.kind = uint8(c2) // EE 0, AT(*) 1, SE(*) 2, CH 3: bEE..bCH
			default:
				return nil, &Error{Bit: at, Msg: fmt.Sprintf("%s: invalid event code %d", key, c)}
			}
		} else {
			k := len(g.content)
			c, err := r.Bits(bitsFor(k + 2))
			if err != nil {
				return nil, err
			}
			switch {
			case int(c) < k:
				p, learned = g.content[k-1-int(c)], true
			case int(c) == k:
				p.kind = bEE
			case int(c) == k+1:
				c2, err := r.Bits(1)
				if err != nil {
					return nil, err
				}
				p.kind = [2]uint8{bSE, bCH}[c2]
			default:
				return nil, &Error{Bit: at, Msg: fmt.Sprintf("%s: invalid event code %d", key, c)}
			}
		}
		if !learned && (p.kind == bAT || p.kind == bSE) {
			var err error
			if p.name, err = r.qname(); err != nil {
				return nil, err
			}
			if p.kind == bAT && p.name.Space == xsiNS {
				return nil, &Error{Bit: at, Msg: fmt.Sprintf("%s: xsi:%s in wildcard content is not supported", key, p.name.Local)}
			}
		}
		if !learned && (p.kind != bEE || inStart) {
			// Learn the production: it gets event code 0 (§8.4.3).
			list := &g.content
			if inStart {
				list = &g.start
			}
			if !g.has(*list, p) {
				if err := r.Alloc(bprodCost); err != nil {
					return nil, err
				}
				*list = append(*list, p)
			}
		}
		switch p.kind {
		case bEE:
			return e, nil
		case bAT:
			v, err := r.String(-1, p.name.String(), p.name.Local)
			if err != nil {
				return nil, err
			}
			if err := r.Alloc(attrCost); err != nil {
				return nil, err
			}
			e.Attrs = append(e.Attrs, AnyAttr{Name: p.name, Value: v})
		case bSE:
			child, err := r.anyElement(p.name, at)
			if err != nil {
				return nil, err
			}
			if err := r.Alloc(nodeCost); err != nil {
				return nil, err
			}
			e.Content = append(e.Content, Node{Elem: child})
			inStart = false
		case bCH:
			v, err := r.String(-1, key, name.Local)
			if err != nil {
				return nil, err
			}
			if err := r.Alloc(nodeCost); err != nil {
				return nil, err
			}
			e.Content = append(e.Content, Node{Text: v})
			inStart = false
		}
	}
}

// qname reads a qname (EXI 1.0 §7.1.7): the URI as a compact id of the uri
// partition, 0 for a literal that is then added; the local name as length
// 0 and a compact id of the URI's partition, or length+1 and a literal.
func (r *Reader) qname() (Name, error) {
	s := &r.wild
	start := r.pos
	n := len(s.uris)
	c, err := r.Bits(bitsFor(n + 1))
	if err != nil {
		return Name{}, err
	}
	uri := int(c) - 1
	switch {
	case c == 0:
		l, err := r.Uint()
		if err != nil {
			return Name{}, err
		}
		v, err := r.nameChars(l)
		if err != nil {
			return Name{}, err
		}
		if err := r.Alloc(strEntryCost); err != nil {
			return Name{}, err
		}
		s.uris = append(s.uris, v)
		s.locals = append(s.locals, nil)
		uri = n
	case uri >= n:
		return Name{}, &Error{Bit: start, Msg: fmt.Sprintf("uri string table index %d out of %d", uri, n)}
	}
	at := r.pos
	l, err := r.Uint()
	if err != nil {
		return Name{}, err
	}
	if l == 0 {
		part := s.locals[uri]
		i, err := r.Bits(bitsFor(len(part)))
		if err != nil {
			return Name{}, err
		}
		if int(i) >= len(part) {
			return Name{}, &Error{Bit: at, Msg: fmt.Sprintf("local-name string table index %d out of %d", i, len(part))}
		}
		return Name{Space: s.uris[uri], Local: part[i]}, nil
	}
	v, err := r.nameChars(l - 1)
	if err != nil {
		return Name{}, err
	}
	if err := r.Alloc(strEntryCost); err != nil {
		return Name{}, err
	}
	s.locals[uri] = append(s.locals[uri], v)
	return Name{Space: s.uris[uri], Local: v}, nil
}

// nameChars reads n characters of a name literal.
func (r *Reader) nameChars(n uint64) (string, error) {
	if n > uint64(r.left()/8) {
		return "", r.eof(fmt.Sprintf("name of %d characters", n))
	}
	if err := r.Alloc(uintptr(n)); err != nil {
		return "", err
	}
	b := make([]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		c, err := r.Uint()
		if err != nil {
			return "", err
		}
		if c > utf8.MaxRune || c >= 0xD800 && c <= 0xDFFF {
			return "", r.Errorf("invalid character code point %#x", c)
		}
		b = utf8.AppendRune(b, rune(c))
	}
	return string(b), nil
}

// Mixed writes the items of wildcard and mixed content placed after kids
// declared child elements, from items[*next] on, through the grammar g of
// their type, and moves *next past them. At the end of the element (end
// set) every item left must be placed after all kids children.
func (w *Writer) Mixed(g *Grammar, state *int, counts []int, items []Mixed, next *int, kids int, end bool) error {
	for ; *next < len(items); *next++ {
		it := &items[*next]
		if it.After < 0 || *next > 0 && it.After < items[*next-1].After {
			return &SchemaError{Field: g.Name + ".Any", Msg: fmt.Sprintf("item %d placed after %d declared elements, out of order", *next, it.After)}
		}
		if it.After > kids {
			if end {
				return &SchemaError{Field: g.Name + ".Any", Msg: fmt.Sprintf("item %d placed after %d declared elements, the element has %d", *next, it.After, kids)}
			}
			return nil
		}
		if it.Elem == nil {
			if err := w.Event(g, state, EventUntypedText, counts); err != nil {
				return err
			}
			w.String(it.Text)
			continue
		}
		if it.Text != "" {
			return &SchemaError{Field: g.Name + ".Any", Msg: fmt.Sprintf("item %d holds both an element and text", *next)}
		}
		if err := w.initWild(); err != nil {
			return err
		}
		if err := w.checkAny(it.Elem.Name); err != nil {
			return err
		}
		if err := w.Event(g, state, EventWildcard, counts); err != nil {
			return err
		}
		w.qname(it.Elem.Name)
		if err := w.anyContent(it.Elem); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) initWild() error {
	s := &w.wild
	if s.grams != nil {
		return nil
	}
	if err := s.init(); err != nil {
		return &SchemaError{Field: "wildcard", Msg: err.Error()}
	}
	s.uriIdx = make(map[string]int, len(s.uris))
	for i, u := range s.uris {
		s.uriIdx[u] = i
	}
	s.locIdx = make([]map[string]int, len(s.locals))
	for i, part := range s.locals {
		s.locIdx[i] = make(map[string]int, len(part))
		for j, l := range part {
			s.locIdx[i][l] = j
		}
	}
	return nil
}

// checkAny refuses an element that wildcard content cannot hold here.
func (w *Writer) checkAny(n Name) error {
	if w.wild.global(n.String()) {
		return &SchemaError{Field: n.String(), Msg: "an element declared in the schema inside wildcard content (its typed content there) is not supported"}
	}
	return nil
}

// qname writes a qname through the uri and local-name tables, adding
// what they miss, as Reader.qname reads it.
func (w *Writer) qname(n Name) {
	s := &w.wild
	uri, ok := s.uriIdx[n.Space]
	if ok {
		w.Bits(uint32(uri+1), bitsFor(len(s.uris)+1))
	} else {
		w.Bits(0, bitsFor(len(s.uris)+1))
		w.Uint(uint64(utf8.RuneCountInString(n.Space)))
		w.chars(n.Space)
		uri = len(s.uris)
		s.uris = append(s.uris, n.Space)
		s.locals = append(s.locals, nil)
		s.locIdx = append(s.locIdx, map[string]int{})
		s.uriIdx[n.Space] = uri
	}
	if i, ok := s.locIdx[uri][n.Local]; ok {
		w.Uint(0)
		w.Bits(uint32(i), bitsFor(len(s.locals[uri])))
		return
	}
	w.Uint(uint64(utf8.RuneCountInString(n.Local)) + 1)
	w.chars(n.Local)
	s.locIdx[uri][n.Local] = len(s.locals[uri])
	s.locals[uri] = append(s.locals[uri], n.Local)
}

func (w *Writer) chars(s string) {
	for _, c := range s {
		w.Uint(uint64(c))
	}
}

// anyContent writes the attributes and content of an element matched by
// SE(*), and its EE, mirroring Reader.anyElement: the same codes, learned
// in the same order.
func (w *Writer) anyContent(e *AnyElement) error {
	s := &w.wild
	key := e.Name.String()
	if s.depth >= MaxAnyDepth {
		return &SchemaError{Field: key, Msg: fmt.Sprintf("wildcard content nested deeper than %d elements", MaxAnyDepth)}
	}
	s.depth++
	defer func() { s.depth-- }()
	g, _ := s.grammar(key)
	if g.startIdx == nil {
		g.startIdx, g.contentIdx = map[bprod]int{}, map[bprod]int{}
	}
	// event writes the code of p in the start tag or in the content and
	// reports whether it came through the built-in productions (*), not a
	// learned one: its qname follows then, and it is learned.
	event := func(p bprod, inStart bool) bool {
		if inStart {
			k := len(g.start)
			if i, ok := g.startIdx[p]; ok {
				w.Bits(uint32(k-1-i), bitsFor(k+1))
				return false
			}
			w.Bits(uint32(k), bitsFor(k+1))
			w.Bits(uint32(p.kind), 2) // EE 0, AT(*) 1, SE(*) 2, CH 3: bEE..bCH
			g.startIdx[p] = k
			g.start = append(g.start, p)
			return true
		}
		k := len(g.content)
		if i, ok := g.contentIdx[p]; ok {
			w.Bits(uint32(k-1-i), bitsFor(k+2))
			return false
		}
		if p.kind == bEE { // first-level in the content: never learned
			w.Bits(uint32(k), bitsFor(k+2))
			return false
		}
		w.Bits(uint32(k+1), bitsFor(k+2))
		if p.kind == bSE {
			w.Bits(0, 1)
		} else {
			w.Bits(1, 1)
		}
		g.contentIdx[p] = k
		g.content = append(g.content, p)
		return true
	}
	for _, a := range e.Attrs {
		if a.Name.Space == xsiNS {
			return &SchemaError{Field: key, Msg: "xsi:" + a.Name.Local + " in wildcard content is not supported"}
		}
		if event(bprod{kind: bAT, name: a.Name}, true) {
			w.qname(a.Name)
		}
		w.String(a.Value)
	}
	inStart := true
	for i := range e.Content {
		n := &e.Content[i]
		if n.Elem == nil {
			event(bprod{kind: bCH}, inStart)
			w.String(n.Text)
			inStart = false
			continue
		}
		if n.Text != "" {
			return &SchemaError{Field: key, Msg: fmt.Sprintf("content item %d holds both an element and text", i)}
		}
		if err := w.checkAny(n.Elem.Name); err != nil {
			return err
		}
		if event(bprod{kind: bSE, name: n.Elem.Name}, inStart) {
			w.qname(n.Elem.Name)
		}
		if err := w.anyContent(n.Elem); err != nil {
			return err
		}
		inStart = false
	}
	event(bprod{kind: bEE}, inStart)
	return nil
}
