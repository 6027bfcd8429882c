package vehicle

import (
	"bytes"
	"os"
	"testing"

	"github.com/ccslink/ccslink/daemon/vehicle/internal/ouigen"
)

// The committed table is what the generator makes of Debian's ieee-data.
func TestOUITableMatchesRegistry(t *testing.T) {
	const dir = "/usr/share/ieee-data"
	if _, err := os.Stat(dir + "/oui.csv"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Debian's ieee-data is missing (%v): apt-get install ieee-data", err)
		}
		t.Skipf("Debian's ieee-data is missing (%v): apt-get install ieee-data", err)
	}
	want, err := ouigen.Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("oui_table.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("oui_table.go is not what ieee-data gives: go generate ./daemon/vehicle")
	}
}

// The MACs of the real cars in the captures.
func TestMakerOf(t *testing.T) {
	for _, tc := range []struct {
		mac  string
		want Maker
		ok   bool
	}{
		{"00:7d:fa:08:31:17", Maker{"Volkswagen", RoleMaker}, true},           // VW ID.3
		{"00:7d:fa:09:f9:b2", Maker{"Volkswagen", RoleMaker}, true},           // Skoda Enyaq
		{"dc:44:27:1d:cd:45", Maker{"Tesla", RoleMaker}, true},                // Tesla Model 3: an MA-M block
		{"98:ed:5c:da:d9:98", Maker{"Tesla", RoleMaker}, true},                // Tesla Model Y
		{"48:c5:8d:b1:e4:3e", Maker{"Lear", RoleSupplier}, true},              // Polestar 2
		{"00:30:ab:29:c5:be", Maker{"Delta Electronics", RoleSupplier}, true}, // BMW iX
		{"00:18:23:37:23:40", Maker{"Delta Electronics", RoleSupplier}, true}, // Mercedes EQE
		{"04:e7:7e:00:f3:98", Maker{"We Corporation", RoleSupplier}, true},    // Kia EV6
		{"04:65:65:00:64:c3", Maker{"Testop", RoleSupplier}, true},            // Hyundai Ioniq
		{"dc:44:28:00:00:01", Maker{}, false},                                 // beside Tesla's MA-M block
		{"02:7d:fa:08:31:17", Maker{}, false},                                 // locally administered
		{"00:e0:4c:68:00:1d", Maker{}, false},                                 // Realtek: a simulator's
	} {
		m, _ := ParseMAC(tc.mac)
		got, ok := MakerOf(m)
		if got != tc.want || ok != tc.ok {
			t.Errorf("MakerOf(%s) = %+v, %v; want %+v, %v", tc.mac, got, ok, tc.want, tc.ok)
		}
	}
	if ouiUpdated != "1661630937" {
		t.Errorf("the table is of the registry of %s", ouiUpdated)
	}
}

func TestRandom(t *testing.T) {
	for _, tc := range []struct {
		mac           string
		local, random bool
	}{
		{"00:7d:fa:08:31:17", false, true}, // VW keeps its block, draws the rest
		{"02:11:22:33:44:55", true, true},
		{"04:65:65:00:64:c3", false, false},
		{"10:bd:43:00:00:01", false, false}, // VW ID.7 MY2027: a fixed Bosch MAC
	} {
		m, ok := ParseMAC(tc.mac)
		if !ok || m.Local() != tc.local || m.Random() != tc.random || m.String() != tc.mac {
			t.Errorf("%s: ok %v local %v random %v string %s", tc.mac, ok, m.Local(), m.Random(), m)
		}
	}
}

func TestParseMAC(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"007dfa083117", true}, {"00:7D:FA:08:31:17", true}, {"00-7d-fa-08-31-17", true},
		{"007dfa08311", false}, {"00:7d:fa:08:31:1g", false}, {"00:7d:fa.08:31:17", false}, {"", false},
	} {
		m, ok := ParseMAC(tc.in)
		if ok != tc.ok || ok && m != (MAC{0x00, 0x7d, 0xfa, 0x08, 0x31, 0x17}) {
			t.Errorf("ParseMAC(%q) = %v, %v", tc.in, m, ok)
		}
	}
}

// FuzzParseMAC: what ParseMAC accepts writes back the same, any case.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"007dfa083117", "0465650064c3", "dc:44:27:1d:cd:45", "48-C5-8D-B1-E4-3E", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := ParseMAC(s)
		if !ok {
			return
		}
		back, ok := ParseMAC(m.String())
		if !ok || back != m {
			t.Fatalf("%q -> %s -> %v, %v", s, m, back, ok)
		}
	})
}
