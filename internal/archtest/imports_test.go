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

// allowed lists, per package, the project packages it may import. The
// generated codecs import exi, the packages whose types they reuse, and
// v2g/message, the kind of message they all map theirs to.
var allowed = map[string][]string{
	"exi":                        {},
	"v2g/xmldsig":                {"exi"},
	"v2g/message":                {},
	"v2g/apphand":                {"exi", "v2g/message"},
	"v2g/din":                    {"exi", "v2g/xmldsig", "v2g/message"},
	"v2g/iso2":                   {"exi", "v2g/xmldsig", "v2g/message"},
	"v2g/iso20":                  {"exi", "v2g/xmldsig", "v2g/message"},
	"v2g/iso20/ac":               {"exi", "v2g/iso20", "v2g/xmldsig", "v2g/message"},
	"v2g/iso20/dc":               {"exi", "v2g/iso20", "v2g/xmldsig", "v2g/message"},
	"v2g/iso20/acdp":             {"exi", "v2g/iso20", "v2g/xmldsig", "v2g/message"},
	"v2g/iso20/wpt":              {"exi", "v2g/iso20", "v2g/xmldsig", "v2g/message"},
	"v2g":                        {"v2g/*", "exi"},
	"v2gtp":                      {},
	"homeplug":                   {},
	"capture":                    {"v2gtp"},
	"link":                       {},
	"clock":                      {},
	"slac":                       {"homeplug", "clock"},
	"modemsim":                   {"homeplug", "link", "clock"},
	"sdp":                        {"v2gtp", "internal/ratelog"},
	"record":                     {"v2g/message"},
	"secc":                       {"v2gtp", "exi", "v2g/apphand", "v2g/din", "v2g/iso2", "v2g/xmldsig", "record", "internal/ratelog", "v2g/message"},
	"evcc":                       {"v2gtp", "exi", "v2g/apphand", "v2g/din", "v2g/iso2", "v2g/xmldsig", "sdp", "clock", "v2g/message"},
	"charger":                    {"clock", "homeplug", "link", "slac", "sdp", "v2gtp", "secc", "record", "v2g/message"},
	"replay":                     {"capture", "v2gtp", "v2g/*", "secc", "record"},
	"output/smartevse":           {"record", "clock", "mdns", "v2g/message"},
	"mdns":                       {"clock"},
	"output/mqtt":                {"record", "v2g/message"},
	"output/httpapi":             {"record", "v2g/message"},
	"output/metrics":             {"record", "v2g/message"},
	"config":                     {},
	"output/pcap":                {"record", "v2g/message"},
	"history":                    {"record", "v2g/message"},
	"timeline":                   {"capture", "homeplug", "v2gtp", "v2g/*", "exi"},
	"doctor":                     {"link", "homeplug", "modemsim", "sdp", "clock", "output/smartevse", "mdns"},
	"sim":                        {"clock", "homeplug", "link", "modemsim", "slac", "sdp", "v2gtp", "secc", "evcc", "charger", "record", "output/smartevse", "v2g/apphand", "output/pcap", "v2g/message"},
	"netif":                      {},
	"internal/netnstest":         {},
	"internal/mosquittotest":     {},
	"internal/testlog":           {},
	"internal/shared":            {},
	"internal/ratelog":           {},
	"internal/logging":           {},
	"internal/exigen":            {},
	"internal/exigen/cmd/exigen": {"internal/exigen"},
	"internal/archtest":          {},
	"cmd/ccslink":                {"*"},
}

func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s is not in ARCHITECTURE.md's table (and this test's)", pkg)
			continue
		}
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			ok := false
			for _, r := range rules {
				ok = ok || r == "*" || r == dep || r == "v2g/*" && strings.HasPrefix(dep, "v2g/")
			}
			if !ok {
				t.Errorf("%s imports %s, which ARCHITECTURE.md does not allow", pkg, dep)
			}
		}
	}
}
