package exigen

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const xsNS = "http://www.w3.org/2001/XMLSchema"

// QName is a namespace-qualified name.
type QName struct{ NS, Local string }

func (q QName) String() string {
	if q.NS == "" {
		return q.Local
	}
	return "{" + q.NS + "}" + q.Local
}

// less orders qnames as EXI does: local name first, then namespace.
func (q QName) less(o QName) bool {
	if q.Local != o.Local {
		return q.Local < o.Local
	}
	return q.NS < o.NS
}

// node is a parsed XSD element with its in-scope namespace bindings.
type node struct {
	name     xml.Name
	attrs    map[string]string
	ns       map[string]string // prefix -> namespace ("" = default)
	children []*node
	file     *schemaFile
}

func (n *node) attr(k string) (string, bool) { v, ok := n.attrs[k]; return v, ok }

// qname resolves a QName-valued attribute in the node's scope.
func (n *node) qname(v string) QName {
	prefix, local := "", v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		prefix, local = v[:i], v[i+1:]
	}
	return QName{NS: n.ns[prefix], Local: local}
}

func (n *node) kids(local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name.Space == xsNS && c.name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

func sortElems(es []*Element) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Name.less(es[j].Name) })
}

type schemaFile struct {
	path     string
	target   string
	elemQual bool
	attrQual bool
	root     *node
}

func parseFile(path string) (*schemaFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	d.Strict = true
	sf := &schemaFile{path: path}
	var stack []*node
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, attrs: map[string]string{}, ns: map[string]string{}, file: sf}
			if len(stack) > 0 {
				for k, v := range stack[len(stack)-1].ns {
					n.ns[k] = v
				}
			}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					n.ns[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					n.ns[""] = a.Value
				case a.Name.Space == "":
					n.attrs[a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				sf.root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if sf.root == nil || sf.root.name.Local != "schema" {
		return nil, fmt.Errorf("%s: not an XML schema", path)
	}
	sf.target = sf.root.attrs["targetNamespace"]
	sf.elemQual = sf.root.attrs["elementFormDefault"] == "qualified"
	sf.attrQual = sf.root.attrs["attributeFormDefault"] == "qualified"
	return sf, nil
}

// Schema is a loaded schema set: a root XSD and everything it imports.
type Schema struct {
	files     []*schemaFile
	elemNodes map[QName]*node
	typeNodes map[QName]*node
	Elements  map[QName]*Element // global elements
	Types     map[QName]*Type
	anonTypes []*Type
	substOf   map[QName][]*Element // head -> direct members
	builtins  map[string]*Type     // the XSD built-in types used, by local name
}

// Element is an element declaration.
type Element struct {
	Name       QName
	Type       *Type
	Abstract   bool
	Global     bool
	substGroup QName
}

// Attribute is an attribute use.
type Attribute struct {
	Name     QName
	Type     *Type
	Required bool
}

// Particle is a term with occurrence bounds; Max < 0 means unbounded.
type Particle struct {
	Min, Max int
	Elem     *Element
	Group    *Group
	Wildcard bool
}

// Group is a sequence or choice model group.
type Group struct {
	Choice    bool
	Particles []*Particle
}

// Type is a simple or complex type.
type Type struct {
	Name   QName // zero for anonymous types
	GoName string
	Simple *SimpleType

	Abstract      bool
	Mixed         bool
	Attrs         []*Attribute
	SimpleContent *Type
	Content       *Particle // nil: empty content
	elemName      QName     // for anonymous types: the declaring element
}

// describe names t for doc comments and error messages: its qualified
// name, or "anonymous type of" its element.
func (t *Type) describe() string {
	if t.Name.Local != "" {
		return t.Name.String()
	}
	return "anonymous type of " + t.elemName.String()
}

// key identifies t within its schema set in a type's fingerprint, where a
// named and an anonymous type must never compare equal.
func (t *Type) key() string {
	if t.Name.Local != "" {
		return t.Name.String()
	}
	return "anon:" + t.elemName.String()
}

// localName is t's name without namespace, or its element's for an
// anonymous type: the name a grammar table and the notes of its simple
// content print.
func (t *Type) localName() string {
	if t.Name.Local != "" {
		return t.Name.Local
	}
	return t.elemName.Local
}

// SimpleType holds what decides the EXI representation of a simple value.
type SimpleType struct {
	Builtin  string // nearest built-in ancestor (local name in the XSD namespace)
	Enum     []string
	Min, Max *big.Int // integer bounds; nil: unbounded
	MaxLen   int      // -1: none
}

// Load reads the schema set rooted at path.
func Load(path string) (*Schema, error) {
	s := &Schema{
		elemNodes: map[QName]*node{},
		typeNodes: map[QName]*node{},
		Elements:  map[QName]*Element{},
		Types:     map[QName]*Type{},
		substOf:   map[QName][]*Element{},
		builtins:  map[string]*Type{},
	}
	seen := map[string]bool{}
	var load func(p string) error
	load = func(p string) error {
		abs, _ := filepath.Abs(p)
		if seen[abs] {
			return nil
		}
		seen[abs] = true
		sf, err := parseFile(abs)
		if err != nil {
			return err
		}
		for _, f := range s.files {
			if f.target == sf.target && filepath.Base(f.path) == filepath.Base(sf.path) {
				return nil // the same schema through another path
			}
		}
		s.files = append(s.files, sf)
		for _, c := range sf.root.children {
			if c.name.Space != xsNS {
				continue
			}
			switch c.name.Local {
			case "import", "include":
				if loc, ok := c.attr("schemaLocation"); ok {
					if err := load(filepath.Join(filepath.Dir(abs), loc)); err != nil {
						return err
					}
				}
			case "element":
				s.elemNodes[QName{sf.target, c.attrs["name"]}] = c
			case "complexType", "simpleType":
				s.typeNodes[QName{sf.target, c.attrs["name"]}] = c
			case "annotation":
			default:
				return fmt.Errorf("%s: unsupported top-level <%s>", abs, c.name.Local)
			}
		}
		return nil
	}
	if err := load(path); err != nil {
		return nil, err
	}
	for q := range s.elemNodes {
		if _, err := s.globalElement(q); err != nil {
			return nil, err
		}
	}
	for q := range s.typeNodes {
		if _, err := s.namedType(q); err != nil {
			return nil, err
		}
	}
	for _, e := range s.Elements {
		if e.substGroup != (QName{}) {
			s.substOf[e.substGroup] = append(s.substOf[e.substGroup], e)
		}
	}
	return s, nil
}

func (s *Schema) globalElement(q QName) (*Element, error) {
	if e, ok := s.Elements[q]; ok {
		return e, nil
	}
	n, ok := s.elemNodes[q]
	if !ok {
		return nil, fmt.Errorf("unknown element %s", q)
	}
	e := &Element{Name: q, Global: true}
	s.Elements[q] = e
	if err := s.fillElement(e, n); err != nil {
		return nil, err
	}
	return e, nil
}

func (s *Schema) fillElement(e *Element, n *node) error {
	e.Abstract = n.attrs["abstract"] == "true"
	if sg, ok := n.attr("substitutionGroup"); ok {
		e.substGroup = n.qname(sg)
	}
	var err error
	if t, ok := n.attr("type"); ok {
		e.Type, err = s.typeRef(n.qname(t))
	} else if ct := n.kids("complexType"); len(ct) == 1 {
		e.Type, err = s.anonType(ct[0], e.Name)
	} else if st := n.kids("simpleType"); len(st) == 1 {
		e.Type, err = s.anonType(st[0], e.Name)
	} else if e.substGroup != (QName{}) {
		// The type of the substitution group head.
		var h *Element
		if h, err = s.globalElement(e.substGroup); err == nil {
			e.Type = h.Type
		}
	} else {
		e.Type, err = s.typeRef(QName{xsNS, "anyType"})
	}
	if err != nil {
		return fmt.Errorf("element %s: %w", e.Name, err)
	}
	return nil
}

func (s *Schema) typeRef(q QName) (*Type, error) {
	if q.NS == xsNS {
		return s.builtinType(q.Local)
	}
	return s.namedType(q)
}

// builtinType returns the XSD built-in type named local, one *Type per
// schema set.
func (s *Schema) builtinType(local string) (*Type, error) {
	if t, ok := s.builtins[local]; ok {
		return t, nil
	}
	st := &SimpleType{Builtin: local, MaxLen: -1}
	switch local {
	case "anyType":
		return nil, fmt.Errorf("xs:anyType is not supported")
	case "boolean", "string", "normalizedString", "token", "anyURI", "ID", "IDREF", "NCName", "Name",
		"language", "NMTOKEN", "hexBinary", "base64Binary":
	case "byte":
		st.setRange(math.MinInt8, math.MaxInt8)
	case "short":
		st.setRange(math.MinInt16, math.MaxInt16)
	case "int":
		st.setRange(math.MinInt32, math.MaxInt32)
	case "long":
		st.setRange(math.MinInt64, math.MaxInt64)
	case "unsignedByte":
		st.setRange(0, math.MaxUint8)
	case "unsignedShort":
		st.setRange(0, math.MaxUint16)
	case "unsignedInt":
		st.setRange(0, math.MaxUint32)
	case "unsignedLong":
		st.Min, st.Max = big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64)
	case "integer":
	case "nonNegativeInteger":
		st.Min = big.NewInt(0)
	case "positiveInteger":
		st.Min = big.NewInt(1)
	default:
		return nil, fmt.Errorf("built-in type xs:%s is not supported", local)
	}
	t := &Type{Name: QName{xsNS, local}, Simple: st}
	s.builtins[local] = t
	return t, nil
}

func (st *SimpleType) setRange(lo, hi int64) {
	st.Min, st.Max = big.NewInt(lo), big.NewInt(hi)
}

func (s *Schema) namedType(q QName) (*Type, error) {
	if t, ok := s.Types[q]; ok {
		return t, nil
	}
	n, ok := s.typeNodes[q]
	if !ok {
		return nil, fmt.Errorf("unknown type %s", q)
	}
	t := &Type{Name: q}
	s.Types[q] = t
	if err := s.fillType(t, n); err != nil {
		return nil, fmt.Errorf("type %s: %w", q, err)
	}
	return t, nil
}

func (s *Schema) anonType(n *node, elem QName) (*Type, error) {
	t := &Type{elemName: elem}
	s.anonTypes = append(s.anonTypes, t)
	if err := s.fillType(t, n); err != nil {
		return nil, fmt.Errorf("anonymous type of %s: %w", elem, err)
	}
	return t, nil
}

func (s *Schema) fillType(t *Type, n *node) error {
	if n.name.Local == "simpleType" {
		st, err := s.simple(n)
		t.Simple = st
		return err
	}
	t.Abstract = n.attrs["abstract"] == "true"
	t.Mixed = n.attrs["mixed"] == "true"
	for _, c := range n.children {
		if c.name.Space != xsNS {
			continue
		}
		switch c.name.Local {
		case "annotation":
		case "sequence", "choice":
			p, err := s.particle(c)
			if err != nil {
				return err
			}
			t.Content = p
		case "attribute":
			a, err := s.attribute(c)
			if err != nil {
				return err
			}
			t.Attrs = append(t.Attrs, a)
		case "complexContent":
			if c.attrs["mixed"] == "true" {
				t.Mixed = true
			}
			if err := s.derivation(t, c, false); err != nil {
				return err
			}
		case "simpleContent":
			if err := s.derivation(t, c, true); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unsupported <%s>", c.name.Local)
		}
	}
	return nil
}

func (s *Schema) derivation(t *Type, n *node, simpleContent bool) error {
	var d *node
	for _, c := range n.children {
		if c.name.Space == xsNS && (c.name.Local == "extension" || c.name.Local == "restriction") {
			d = c
		}
	}
	if d == nil {
		return fmt.Errorf("content without extension or restriction")
	}
	base, err := s.typeRef(d.qname(d.attrs["base"]))
	if err != nil {
		return err
	}
	ext := d.name.Local == "extension"
	if simpleContent {
		if !ext {
			return fmt.Errorf("simpleContent restriction is not supported")
		}
		if base.Simple != nil {
			t.SimpleContent = base
		} else {
			t.SimpleContent = base.SimpleContent
			t.Attrs = append(t.Attrs, base.Attrs...)
		}
	} else if ext {
		t.Attrs = append(t.Attrs, base.Attrs...)
		t.Mixed = t.Mixed || base.Mixed
	}
	var own *Particle
	for _, c := range d.children {
		if c.name.Space != xsNS {
			continue
		}
		switch c.name.Local {
		case "annotation":
		case "sequence", "choice":
			if own, err = s.particle(c); err != nil {
				return err
			}
		case "attribute":
			a, err := s.attribute(c)
			if err != nil {
				return err
			}
			t.Attrs = append(t.Attrs, a)
		default:
			return fmt.Errorf("unsupported <%s> in derivation", c.name.Local)
		}
	}
	switch {
	case simpleContent:
	case !ext:
		t.Content = own
	case base.Content == nil:
		t.Content = own
	case own == nil:
		t.Content = base.Content
	default:
		t.Content = &Particle{Min: 1, Max: 1, Group: &Group{Particles: []*Particle{base.Content, own}}}
	}
	return nil
}

func occurs(n *node) (int, int, error) {
	lo, hi := 1, 1
	if v, ok := n.attr("minOccurs"); ok {
		x, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, err
		}
		lo = x
	}
	if v, ok := n.attr("maxOccurs"); ok {
		if v == "unbounded" {
			hi = -1
		} else {
			x, err := strconv.Atoi(v)
			if err != nil {
				return 0, 0, err
			}
			hi = x
		}
	}
	return lo, hi, nil
}

func (s *Schema) particle(n *node) (*Particle, error) {
	lo, hi, err := occurs(n)
	if err != nil {
		return nil, err
	}
	p := &Particle{Min: lo, Max: hi}
	switch n.name.Local {
	case "element":
		if ref, ok := n.attr("ref"); ok {
			p.Elem, err = s.globalElement(n.qname(ref))
			return p, err
		}
		name := QName{Local: n.attrs["name"]}
		if f, ok := n.attr("form"); ok && f == "qualified" || !ok && n.file.elemQual {
			name.NS = n.file.target
		}
		p.Elem = &Element{Name: name}
		return p, s.fillElement(p.Elem, n)
	case "any":
		p.Wildcard = true
		return p, nil
	case "sequence", "choice":
		g := &Group{Choice: n.name.Local == "choice"}
		for _, c := range n.children {
			if c.name.Space != xsNS || c.name.Local == "annotation" {
				continue
			}
			cp, err := s.particle(c)
			if err != nil {
				return nil, err
			}
			g.Particles = append(g.Particles, cp)
		}
		p.Group = g
		return p, nil
	}
	return nil, fmt.Errorf("unsupported particle <%s>", n.name.Local)
}

func (s *Schema) attribute(n *node) (*Attribute, error) {
	if _, ok := n.attr("ref"); ok {
		return nil, fmt.Errorf("attribute references are not supported")
	}
	a := &Attribute{Name: QName{Local: n.attrs["name"]}, Required: n.attrs["use"] == "required"}
	if f, ok := n.attr("form"); ok && f == "qualified" || !ok && n.file.attrQual {
		a.Name.NS = n.file.target
	}
	var err error
	if t, ok := n.attr("type"); ok {
		a.Type, err = s.typeRef(n.qname(t))
	} else if st := n.kids("simpleType"); len(st) == 1 {
		a.Type, err = s.anonType(st[0], a.Name)
	} else {
		a.Type, err = s.builtinType("string")
	}
	return a, err
}

func (s *Schema) simple(n *node) (*SimpleType, error) {
	r := n.kids("restriction")
	if len(r) != 1 {
		return nil, fmt.Errorf("only restriction simple types are supported")
	}
	var base *Type
	var err error
	if b, ok := r[0].attr("base"); ok {
		base, err = s.typeRef(r[0].qname(b))
	} else if st := r[0].kids("simpleType"); len(st) == 1 {
		base, err = s.anonType(st[0], QName{})
	} else {
		err = fmt.Errorf("restriction without base")
	}
	if err != nil {
		return nil, err
	}
	if base.Simple == nil {
		return nil, fmt.Errorf("simple type restricting complex type %s", base.Name)
	}
	st := *base.Simple
	st.Enum = nil
	for _, f := range r[0].children {
		if f.name.Space != xsNS {
			continue
		}
		v := f.attrs["value"]
		switch f.name.Local {
		case "annotation":
		case "enumeration":
			st.Enum = append(st.Enum, v)
		case "minInclusive", "minExclusive", "maxInclusive", "maxExclusive":
			x, ok := new(big.Int).SetString(v, 10)
			if !ok {
				return nil, fmt.Errorf("facet %s=%q is not an integer", f.name.Local, v)
			}
			one := big.NewInt(1)
			switch f.name.Local {
			case "minInclusive":
				st.Min = x
			case "minExclusive":
				st.Min = x.Add(x, one)
			case "maxInclusive":
				st.Max = x
			case "maxExclusive":
				st.Max = x.Sub(x, one)
			}
		case "maxLength", "length":
			x, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			st.MaxLen = x
		case "minLength", "pattern", "whiteSpace", "totalDigits", "fractionDigits":
			// No effect on the EXI representation.
		default:
			return nil, fmt.Errorf("unsupported facet %s", f.name.Local)
		}
	}
	if len(st.Enum) == 0 && base.Simple.Enum != nil {
		st.Enum = base.Simple.Enum
	}
	return &st, nil
}

// members returns an element term's substitution group, head included even
// when abstract, sorted as EXI sorts element terms (§8.5.4.1.6).
func (s *Schema) members(e *Element) []*Element {
	out := []*Element{e}
	if !e.Global {
		return out
	}
	var walk func(h QName)
	walk = func(h QName) {
		for _, m := range s.substOf[h] {
			out = append(out, m)
			walk(m.Name)
		}
	}
	walk(e.Name)
	sortElems(out)
	return out
}
