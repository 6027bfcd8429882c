package exigen

import (
	"fmt"
	"os"
	"path/filepath"
)

// Packages lists the generated packages: directory (relative to v2g/) and
// configuration with Root relative to the schema directory. A package comes
// after the packages it uses.
var Packages = []struct {
	Dir string
	Config
}{
	{"xmldsig", Config{Root: "xmldsig-core-schema.xsd", Package: "xmldsig", Fragment: true, Provides: true,
		Doc: "Package xmldsig is the EXI codec of XML Signature elements; ISO 15118-2\nAnnex J signs the EXI fragment of SignedInfo encoded with this schema alone.\nThe DIN, ISO-2 and ISO-20 codecs use its types for their signatures."}},
	{"apphand", Config{Root: "apphand/V2G_CI_AppProtocol.xsd", Package: "apphand",
		Doc: "Package apphand is the EXI codec of the V2G SupportedAppProtocol handshake\n(ISO 15118-2 Annex; urn:iso:15118:2:2010:AppProtocol)."}},
	{"din", Config{Root: "din/V2G_CI_MsgDef.xsd", Package: "din", Fragment: true, Uses: []string{"xmldsig"},
		Doc: "Package din is the EXI codec of DIN SPEC 70121:2014 V2G messages\n(urn:din:70121:2012:MsgDef)."}},
	{"iso2", Config{Root: "iso2/V2G_CI_MsgDef.xsd", Package: "iso2", Fragment: true, Uses: []string{"xmldsig"},
		Doc: "Package iso2 is the EXI codec of ISO 15118-2:2014 V2G messages\n(urn:iso:15118:2:2013:MsgDef)."}},
	{"iso20", Config{Root: "iso20/V2G_CI_CommonMessages.xsd", Package: "iso20", Fragment: true, Uses: []string{"xmldsig"}, Provides: true,
		Doc: "Package iso20 is the EXI codec of ISO 15118-20 common messages\n(urn:iso:std:iso:15118:-20:CommonMessages)."}},
	{"iso20/ac", Config{Root: "iso20/V2G_CI_AC.xsd", Package: "ac", Uses: []string{"iso20", "xmldsig"},
		Doc: "Package ac is the EXI codec of ISO 15118-20 AC messages\n(urn:iso:std:iso:15118:-20:AC)."}},
	{"iso20/dc", Config{Root: "iso20/V2G_CI_DC.xsd", Package: "dc", Uses: []string{"iso20", "xmldsig"},
		Doc: "Package dc is the EXI codec of ISO 15118-20 DC messages\n(urn:iso:std:iso:15118:-20:DC)."}},
	{"iso20/acdp", Config{Root: "iso20/V2G_CI_ACDP.xsd", Package: "acdp", Uses: []string{"iso20", "xmldsig"},
		Doc: "Package acdp is the EXI codec of ISO 15118-20 ACDP messages\n(urn:iso:std:iso:15118:-20:ACDP)."}},
	{"iso20/wpt", Config{Root: "iso20/V2G_CI_WPT.xsd", Package: "wpt", Uses: []string{"iso20", "xmldsig"},
		Doc: "Package wpt is the EXI codec of ISO 15118-20 WPT messages\n(urn:iso:std:iso:15118:-20:WPT)."}},
}

// GenerateAll writes every package under outDir from the schemas in
// schemaDir, then package message from the messages of them all, and
// returns the files written. It removes the files of an
// earlier generation that the generator no longer writes (codec.go, which
// held a whole package).
func GenerateAll(schemaDir, outDir string) ([]string, error) {
	var written []string
	reg := Registry{}
	msgs := map[string][]string{}
	for _, p := range Packages {
		cfg := p.Config
		cfg.Source = filepath.ToSlash(filepath.Join("shared/schemas", cfg.Root))
		cfg.Root = filepath.Join(schemaDir, cfg.Root)
		cfg.ImportPath = "github.com/ccslink/ccslink/proto/v2g/" + p.Dir
		cfg.dir = p.Dir
		files, names, err := generate(cfg, reg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Dir, err)
		}
		msgs[p.Dir] = names
		dir := filepath.Join(outDir, p.Dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		keep := map[string]bool{}
		for _, f := range files {
			path := filepath.Join(dir, f.Name)
			if err := os.WriteFile(path, f.Data, 0o644); err != nil {
				return nil, err
			}
			keep[f.Name] = true
			written = append(written, path)
		}
		stale, err := generatedIn(dir)
		if err != nil {
			return nil, err
		}
		for _, name := range stale {
			if !keep[name] {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					return nil, err
				}
			}
		}
	}
	path, err := writeMessage(outDir, msgs)
	if err != nil {
		return nil, err
	}
	return append(written, path), nil
}

// generatedIn lists the Go files in dir that the generator wrote.
func generatedIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".go" {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if isGenerated(src) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
