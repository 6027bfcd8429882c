package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are set by the release build:
//
//	go build -ldflags "-X main.version=v0.1.0 -X main.commit=0123456789ab" ./cmd/ccslink
//
// Left empty, they come from the build information the Go toolchain embeds.
var (
	version string
	commit  string
)

func init() {
	register(command{name: "version", summary: "print the version of this binary and how it was built", run: runVersion})
}

// buildVersion is what ccslink version prints.
type buildVersion struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"` // empty when unknown
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// String is the one line ccslink version prints.
func (v buildVersion) String() string {
	c := v.Commit
	if c == "" {
		c = "unknown commit"
	} else if v.Modified {
		c += "-dirty"
	}
	return fmt.Sprintf("ccslink %s (%s, %s, %s/%s)", v.Version, c, v.Go, v.OS, v.Arch)
}

// readVersion combines the -X values with the embedded build information
// (bi is nil when the binary carries none): a release's -X values win, then
// the module version (go install ...@v1.2.3), then the VCS revision.
func readVersion(ldVersion, ldCommit string, bi *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: ldVersion, Commit: ldCommit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	var rev string
	var modified bool
	if bi != nil {
		if bi.GoVersion != "" {
			v.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
	}
	if v.Commit == "" && rev != "" {
		v.Commit, v.Modified = rev, modified
	}
	if v.Version == "" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	if v.Version == "" && rev != "" {
		v.Version = rev
		if modified {
			v.Version += "-dirty"
		}
	}
	if v.Version == "" {
		// Built without VCS stamping (-buildvcs=false, or outside a checkout).
		v.Version = "devel"
	}
	return v
}

func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "version [--json]", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object: version, commit, modified, go, os, arch")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ccslink version: unexpected argument %q; it takes only --json\n", fs.Arg(0))
		return 2
	}
	bi, _ := debug.ReadBuildInfo()
	v := readVersion(version, commit, bi)
	if *asJSON {
		b, err := json.Marshal(v)
		if err != nil {
			fmt.Fprintf(stderr, "ccslink version: cannot encode the version as JSON: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	fmt.Fprintln(stdout, v)
	return 0
}
