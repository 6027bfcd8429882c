// Package archtest checks that the packages depend on each other only as
// ARCHITECTURE.md draws it: downwards, protocol packages never reaching the
// command line, and the codec's runtime free of everything else.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ccslink/ccslink/"

// allowed lists, per package, the project packages it may import; v2g/...
// stands for the generated codec packages.
var allowed = map[string][]string{
	"exi":                        {},
	"v2g/...":                    {"exi"},
	"v2g":                        {"v2g/..."},
	"v2gtp":                      {},
	"homeplug":                   {},
	"capture":                    {"v2gtp"},
	"link":                       {},
	"slac":                       {"homeplug"},
	"modemsim":                   {"homeplug", "link"},
	"internal/shared":            {},
	"internal/exigen":            {},
	"internal/exigen/cmd/exigen": {"internal/exigen"},
	"internal/archtest":          {},
	"cmd/ccslink":                {"*"},
}

func class(p string) string {
	if strings.HasPrefix(p, "v2g/") {
		return "v2g/..."
	}
	return p
}

func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := class(strings.TrimPrefix(f[0], module))
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s is not in ARCHITECTURE.md's table (and this test's)", pkg)
			continue
		}
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := class(strings.TrimPrefix(imp, module))
			ok := false
			for _, r := range rules {
				ok = ok || r == "*" || r == dep
			}
			if !ok {
				t.Errorf("%s imports %s, which ARCHITECTURE.md does not allow", pkg, dep)
			}
		}
	}
}
