package exigen

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
)

// TestGeneratedUpToDate regenerates every codec package and package message
// from the schemas and compares each file byte for byte with the committed
// code; a committed generated file that the generator no longer writes
// fails too.
func TestGeneratedUpToDate(t *testing.T) {
	schemas := shared.Path(t, "schemas")
	out := t.TempDir()
	if _, err := GenerateAll(schemas, out); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, p := range Packages {
		dirs = append(dirs, p.Dir)
	}
	for _, dir := range append(dirs, messageDir) {
		fresh, err := generatedIn(filepath.Join(out, dir))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case dir == messageDir && !slices.Equal(fresh, []string{messageSource}):
			t.Errorf("proto/v2g/%s: generated %v, want [%s]", dir, fresh, messageSource)
		case dir != messageDir && (len(fresh) < 4 || !slices.Contains(fresh, "types.go")):
			t.Errorf("proto/v2g/%s: generated %v, want types.go, grammar.go, decode.go and encode.go at least", dir, fresh)
		}
		committed, err := generatedIn(filepath.Join("..", "..", "proto", "v2g", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range committed {
			if !slices.Contains(fresh, name) {
				t.Errorf("proto/v2g/%s/%s is a generated file the generator no longer writes: run go generate ./proto/v2g", dir, name)
			}
		}
		for _, name := range fresh {
			rel := filepath.Join(dir, name)
			got, err := os.ReadFile(filepath.Join(out, rel))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("..", "..", "proto", "v2g", rel))
			if err != nil {
				t.Errorf("committed proto/v2g/%s: %v: run go generate ./proto/v2g", rel, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("proto/v2g/%s differs from what the generator writes: run go generate ./proto/v2g", rel)
			}
		}
	}
}

// TestGenerateAllRemovesStale checks that regenerating over an earlier
// generation removes its generated files that are no longer written, and
// keeps every file it did not generate.
func TestGenerateAllRemovesStale(t *testing.T) {
	schemas := shared.Path(t, "schemas")
	out := t.TempDir()
	dir := filepath.Join(out, "apphand")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"codec.go":    generatedHeader + " from shared/schemas/apphand/V2G_CI_AppProtocol.xsd; DO NOT EDIT.\n\npackage apphand\n",
		"extra.go":    "package apphand\n",
		"doc_test.go": "package apphand\n",
		"notes.txt":   generatedHeader + "\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	written, err := GenerateAll(schemas, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "codec.go")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale codec.go: Stat = %v, want it removed", err)
	}
	for _, name := range []string{"extra.go", "doc_test.go", "notes.txt"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != files[name] {
			t.Errorf("%s: %q, %v; want it kept as it was", name, got, err)
		}
	}
	got, err := generatedIn(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"decode.go", "encode.go", "grammar.go", "json.go", "types.go"}
	if !slices.Equal(got, want) {
		t.Errorf("apphand holds generated files %v, want %v", got, want)
	}
	if !slices.Contains(written, filepath.Join(dir, "types.go")) {
		t.Errorf("GenerateAll did not report %s among %d files written", filepath.Join(dir, "types.go"), len(written))
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
