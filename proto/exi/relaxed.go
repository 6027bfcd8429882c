package exi

import "fmt"

// The relaxed element fragment grammar (EXI 1.0 §8.5.3): in a fragment, an
// element whose qname the schema declares with more than one type (ISO
// 15118-2's eMAID: EMAIDType with an Id in CertificateInstallationRes and
// CertificateUpdateRes, plain eMAIDType elsewhere) is coded with one
// grammar for every such qname:
//
//	ElementFragment0: AT(A0..An-1) AT(*) ElementFragment0 | SE(F0..Fm-1) SE(*) ElementFragment1 | EE | CH ElementFragment1
//	ElementFragment1: SE(F0..Fm-1) SE(*) ElementFragment1 | EE | CH ElementFragment1
//
// with A the schema's attribute qnames and F its element qnames, both
// sorted, augmented as a nillable, type-castable element's grammar
// (§8.5.4.4), which adds the escape to the second level to both states.
// What signatures digest there is attributes and text: those are kept;
// child elements, undeclared attributes and second-level events are
// refused.

// RelaxedElement is the content of an element coded with the relaxed
// element fragment grammar: its declared attributes and its character
// content, each in stream order.
type RelaxedElement struct {
	Attrs []AnyAttr `json:"Attrs,omitempty"`
	Text  []string  `json:"Text,omitempty"`
}

// Relaxed describes a schema set's relaxed element fragment grammar: its
// attribute qnames in order and the number of its element qnames.
type Relaxed struct {
	Attrs []Name
	Elems int
}

func (g *Relaxed) widths() (w0, w1 int) {
	n, m := len(g.Attrs), g.Elems
	return bitsFor(n + m + 5), bitsFor(m + 4)
}

// Relaxed reads the content of the fragment element q (its "{uri}local")
// with the relaxed element fragment grammar g.
func (r *Reader) Relaxed(g *Relaxed, q string) (*RelaxedElement, error) {
	n, m := len(g.Attrs), g.Elems
	w0, w1 := g.widths()
	e := &RelaxedElement{}
	first := true
	for {
		start := r.pos
		var c uint32
		var err error
		if first {
			if c, err = r.Bits(w0); err != nil {
				return nil, err
			}
			switch {
			case int(c) < n:
				a := g.Attrs[c]
				v, err := r.String(-1, a.String(), a.Local)
				if err != nil {
					return nil, err
				}
				if err := r.Alloc(attrCost); err != nil {
					return nil, err
				}
				e.Attrs = append(e.Attrs, AnyAttr{Name: a, Value: v})
				continue
			case int(c) == n:
				return nil, &Error{Bit: start, Msg: q + ": an undeclared attribute (AT(*)) in a relaxed element fragment is not supported"}
			}
			// Past the attributes come ElementFragment1's productions.
			c -= uint32(n + 1)
		} else if c, err = r.Bits(w1); err != nil {
			return nil, err
		}
		// ElementFragment1 codes: SE(F) < m, SE(*) m, EE m+1, CH m+2, escape m+3.
		switch {
		case int(c) <= m:
			return nil, &Error{Bit: start, Msg: q + ": child elements in a relaxed element fragment are not supported"}
		case int(c) == m+1:
			return e, nil
		case int(c) == m+2:
			v, err := r.String(-1, q, q)
			if err != nil {
				return nil, err
			}
			if err := r.Alloc(16); err != nil {
				return nil, err
			}
			e.Text = append(e.Text, v)
			first = false
		case int(c) == m+3:
			return nil, &Error{Bit: start, Msg: q + ": second-level events (xsi:type, xsi:nil, undeclared content) in a relaxed element fragment are not supported"}
		default:
			return nil, &Error{Bit: start, Msg: fmt.Sprintf("%s: invalid event code %d", q, c)}
		}
	}
}

// Relaxed writes e, the content of fragment element q, with the relaxed
// element fragment grammar g.
func (w *Writer) Relaxed(g *Relaxed, q string, e *RelaxedElement) error {
	n, m := len(g.Attrs), g.Elems
	w0, w1 := g.widths()
	for _, a := range e.Attrs {
		i := -1
		for j, d := range g.Attrs {
			if d == a.Name {
				i = j
			}
		}
		if i < 0 {
			return &SchemaError{Field: q, Msg: fmt.Sprintf("attribute %s is not declared in the schema (AT(*) in a relaxed element fragment is not supported)", a.Name)}
		}
		w.Bits(uint32(i), w0)
		w.String(a.Value)
	}
	for i, t := range e.Text {
		if i == 0 {
			w.Bits(uint32(n+m+3), w0)
		} else {
			w.Bits(uint32(m+2), w1)
		}
		w.String(t)
	}
	if len(e.Text) == 0 {
		w.Bits(uint32(n+m+2), w0)
	} else {
		w.Bits(uint32(m+1), w1)
	}
	return nil
}
