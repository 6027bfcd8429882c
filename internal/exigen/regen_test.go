package exigen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
)

// TestGeneratedUpToDate regenerates every codec package from the schemas
// and compares it byte for byte with the committed code.
func TestGeneratedUpToDate(t *testing.T) {
	schemas := shared.Path(t, "schemas")
	out := t.TempDir()
	files, err := GenerateAll(schemas, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(Packages) {
		t.Fatalf("wrote %d files for %d packages", len(files), len(Packages))
	}
	for _, f := range files {
		rel, _ := filepath.Rel(out, f)
		want, err := os.ReadFile(filepath.Join("..", "..", "v2g", rel))
		if err != nil {
			t.Fatalf("committed %s: %v", rel, err)
		}
		got, _ := os.ReadFile(f)
		if !bytes.Equal(got, want) {
			t.Errorf("v2g/%s differs from what the generator writes: run go generate ./v2g", rel)
		}
	}
}

// TestDocumentGrammars checks the global element counts of each schema set
// (the size of the document grammar, §8.5.1) and the root codes of
// well-known messages against the published traces.
func TestDocumentGrammars(t *testing.T) {
	schemas := shared.Path(t, "schemas")
	want := map[string]struct {
		n    int
		root string
		code int
	}{
		"apphand":    {2, "supportedAppProtocolReq", 0},
		"din":        {81, "V2G_Message", 77},
		"iso2":       {80, "V2G_Message", 76},
		"iso20":      {54, "SessionSetupReq", 35},
		"iso20/ac":   {42, "", 0},
		"iso20/dc":   {48, "", 0},
		"iso20/acdp": {34, "", 0},
		"iso20/wpt":  {38, "", 0},
		"xmldsig":    {24, "SignedInfo", 20},
	}
	for _, p := range Packages {
		s, err := Load(filepath.Join(schemas, p.Root))
		if err != nil {
			t.Fatal(err)
		}
		var globals []*Element
		for _, e := range s.Elements {
			globals = append(globals, e)
		}
		sortElems(globals)
		w := want[p.Dir]
		if len(globals) != w.n {
			t.Errorf("%s: %d global elements, want %d", p.Dir, len(globals), w.n)
		}
		if w.root != "" && globals[w.code].Name.Local != w.root {
			t.Errorf("%s: global element %d is %s, want %s", p.Dir, w.code, globals[w.code].Name.Local, w.root)
		}
	}
}

// TestStateWidths checks grammar states against the k->w column of the
// bit-level traces in the shared reference (exi-grammar.md §5).
func TestStateWidths(t *testing.T) {
	schemas := shared.Path(t, "schemas")
	s, err := Load(filepath.Join(schemas, "din/V2G_CI_MsgDef.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	typ := func(local string) *Type {
		for q, ty := range s.Types {
			if q.Local == local {
				return ty
			}
		}
		t.Fatalf("no type %s", local)
		return nil
	}
	cases := []struct {
		typ    string
		state  int
		k, w   int
		labels string
	}{
		{"MessageHeaderType", 1, 3, 2, "SE(Notification) SE(Signature) EE"},
		{"BodyType", 0, 36, 6, ""},
		{"DC_EVChargeParameterType", 0, 1, 1, "SE(DC_EVStatus)"},
		{"ChargeParameterDiscoveryReqType", 1, 3, 2, "SE(AC_EVChargeParameter) SE(DC_EVChargeParameter) SE(EVChargeParameter)"},
		{"CurrentDemandResType", 7, 4, 3, "SE(EVSEMaximumVoltageLimit) SE(EVSEMaximumCurrentLimit) SE(EVSEMaximumPowerLimit) EE"},
		{"PhysicalValueType", 1, 2, 2, "SE(Unit) SE(Value)"},
	}
	for _, c := range cases {
		g, err := buildGrammar(s, typ(c.typ))
		if err != nil {
			t.Fatal(err)
		}
		st := g.States[c.state]
		var labels []string
		for _, p := range st.Prods {
			labels = append(labels, p.Label)
		}
		got := ""
		for i, l := range labels {
			if i > 0 {
				got += " "
			}
			got += l
		}
		if len(st.Prods) != c.k || st.Width != c.w || c.labels != "" && got != c.labels {
			t.Errorf("%s state %d: k=%d w=%d [%s], want k=%d w=%d [%s]", c.typ, c.state, len(st.Prods), st.Width, got, c.k, c.w, c.labels)
		}
	}
}
