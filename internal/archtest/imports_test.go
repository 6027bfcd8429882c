// Package archtest checks that the packages depend on each other only as
// ARCHITECTURE.md draws it: downwards, protocol packages never reaching the
// command line, and the codec's runtime free of everything else. The rules
// are read from ARCHITECTURE.md's table, so the page and the code cannot drift.
package archtest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ccslink/ccslink/"

const tableHeader = "| package | may import (of this project) |"

var quoted = regexp.MustCompile("`([^`]+)`")

// rules reads the import table: per package, the project packages it may
// import ("*": everything, "proto/v2g/*": every package under proto/v2g/).
func rules(doc string) (map[string][]string, error) {
	i := strings.Index(doc, tableHeader)
	if i < 0 {
		return nil, fmt.Errorf("ARCHITECTURE.md has no table headed %q", tableHeader)
	}
	lines := strings.Split(doc[i:], "\n")[2:] // past the header and its rule
	allowed := map[string][]string{}
	for n, line := range lines {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) != 4 {
			return nil, fmt.Errorf("table row %d has %d cells, want 2: %s", n+1, len(cells)-2, line)
		}
		pkgs := quoted.FindAllStringSubmatch(cells[1], -1)
		if len(pkgs) == 0 {
			return nil, fmt.Errorf("table row %d names no package: %s", n+1, line)
		}
		may := strings.TrimSpace(cells[2])
		if j := strings.Index(may, "("); j >= 0 {
			may = strings.TrimSpace(may[:j]) // commentary
		}
		var deps []string
		switch may {
		case "nothing":
		case "everything":
			deps = []string{"*"}
		default:
			for _, m := range quoted.FindAllStringSubmatch(may, -1) {
				deps = append(deps, m[1])
			}
			if len(deps) == 0 {
				return nil, fmt.Errorf("table row %d: %q is neither nothing, everything nor packages in backticks", n+1, may)
			}
		}
		for _, p := range pkgs {
			if _, dup := allowed[p[1]]; dup {
				return nil, fmt.Errorf("package %s has two rows in the table", p[1])
			}
			allowed[p[1]] = deps
		}
	}
	return allowed, nil
}

func TestImports(t *testing.T) {
	doc, err := os.ReadFile("../../ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := rules(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		listed = append(listed, pkg)
		may, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s is not in ARCHITECTURE.md's import table", pkg)
			continue
		}
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			ok := false
			for _, r := range may {
				ok = ok || r == "*" || r == dep || strings.HasSuffix(r, "/*") && strings.HasPrefix(dep, strings.TrimSuffix(r, "*"))
			}
			if !ok {
				t.Errorf("%s imports %s, which ARCHITECTURE.md does not allow", pkg, dep)
			}
		}
	}
	for pkg, deps := range allowed {
		if !slices.Contains(listed, pkg) {
			t.Errorf("ARCHITECTURE.md's import table names %s, which is no package of the module", pkg)
		}
		for _, d := range deps {
			if d != "*" && !slices.Contains(listed, strings.TrimSuffix(d, "/*")) {
				t.Errorf("ARCHITECTURE.md lets %s import %s, which is no package of the module", pkg, d)
			}
		}
	}
}

// TestRulesReadAsWritten: the reader takes exactly the backticked packages
// before any commentary, and refuses a row it cannot read.
func TestRulesReadAsWritten(t *testing.T) {
	doc := tableHeader + "\n|---|---|\n" +
		"| `a`, `b` | nothing (uses `x` inside) |\n" +
		"| `c` | `a`, `p/v2g/*` (commentary `d`) |\n" +
		"| `cmd` | everything |\n\nafter the table | `z` | `y` |\n"
	got, err := rules(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a": nil, "b": nil, "c": {"a", "p/v2g/*"}, "cmd": {"*"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rules %v, want %v", got, want)
	}
	for _, bad := range []string{
		"no table",
		tableHeader + "\n|---|---|\n| `a` | some packages |\n",
		tableHeader + "\n|---|---|\n| a | nothing |\n",
		tableHeader + "\n|---|---|\n| `a` | nothing |\n| `a` | `b` |\n",
		tableHeader + "\n|---|---|\n| `a` | nothing | extra |\n",
	} {
		if _, err := rules(bad); err == nil {
			t.Errorf("rules accepted %q", bad)
		}
	}
}
