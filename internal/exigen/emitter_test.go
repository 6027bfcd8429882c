package exigen

import (
	"reflect"
	"testing"
)

func TestEmitter(t *testing.T) {
	var w emitter
	w.comment("Two\nlines")
	w.open("func f(x int) (int, error)")
	w.check("0, ", "g(%d)", 7)
	w.assign("0, ", "v", "h(x)")
	w.ifReturn("v, nil", "v > %d", 1)
	w.line("return 100 %% x, nil")
	w.closeDecl()
	want := "// Two\n// lines\nfunc f(x int) (int, error) {\n" +
		"if err := g(7); err != nil {\nreturn 0, err\n}\n" +
		"v, err := h(x)\nif err != nil {\nreturn 0, err\n}\n" +
		"if v > 1 {\nreturn v, nil\n}\n" +
		"return 100 % x, nil\n}\n\n"
	if got := w.buf.String(); got != want {
		t.Errorf("emitted\n%s\nwant\n%s", got, want)
	}
}

func TestWrap(t *testing.T) {
	cases := []struct {
		text  string
		width int
		want  string
	}{
		{"a bb ccc", 4, "a bb\nccc"},
		{"a bb ccc", 8, "a bb ccc"},
		{"  spaced   words ", 80, "spaced words"},
		{"longerthanwidth x", 5, "longerthanwidth\nx"},
	}
	for _, c := range cases {
		if got := wrap(c.text, c.width); got != c.want {
			t.Errorf("wrap(%q, %d) = %q, want %q", c.text, c.width, got, c.want)
		}
	}
	for in, want := range map[string]string{"a": "a", "a,b": "a and b", "a,b,c": "a, b and c"} {
		var items []string
		for i := 0; i < len(in); i += 2 {
			items = append(items, in[i:i+1])
		}
		if got := andList(items); got != want {
			t.Errorf("andList(%q) = %q, want %q", items, got, want)
		}
	}
}

func TestImportsOf(t *testing.T) {
	g := &gen{ext: map[*Type]*provided{{}: {pkg: "xmldsig", path: "github.com/ccslink/ccslink/proto/v2g/xmldsig"}}}
	body := []byte("func f(r *exi.Reader, s xmldsig.SignatureType) string {\n" +
		"var b strings.Builder\n_ = b.Len()\nreturn fmt.Sprint(strconv.Itoa(0))\n}\n")
	got, err := g.importsOf(body)
	if err != nil {
		t.Fatal(err)
	}
	// strings is no package the generated code uses: only the known ones count.
	want := [][]string{{"fmt", "strconv"}, {"github.com/ccslink/ccslink/proto/exi", "github.com/ccslink/ccslink/proto/v2g/xmldsig"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("importsOf = %q, want %q", got, want)
	}
	if got, err := g.importsOf([]byte("var x = 1\n")); err != nil || len(got) != 0 {
		t.Errorf("importsOf without selectors = %q, %v; want none", got, err)
	}
	if _, err := g.importsOf([]byte("func {")); err == nil {
		t.Error("importsOf of broken code: no error")
	}
}
