package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestVersionDefault runs ccslink version as the test binary was built:
// without -X values, so from whatever build information it carries.
func TestVersionDefault(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, nil, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	tail := regexp.QuoteMeta(", " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n")
	if !regexp.MustCompile(`^ccslink [^ ()]+ \([^,()]+` + tail + `$`).MatchString(out.String()) {
		t.Errorf("ccslink version printed %q; want \"ccslink <version> (<commit>, %s, %s/%s)\"", out.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}

	out.Reset()
	if code := run([]string{"version", "--json"}, nil, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("--json: exit %d, stderr %q", code, errb.String())
	}
	var v buildVersion
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	if v.Version == "" || v.Go != runtime.Version() || v.OS != runtime.GOOS || v.Arch != runtime.GOARCH {
		t.Errorf("--json printed %q", out.String())
	}
}

func TestVersionBadArgs(t *testing.T) {
	for _, args := range [][]string{{"version", "now"}, {"version", "--yaml"}} {
		var out, errb bytes.Buffer
		if code := run(args, nil, &out, &errb); code != 2 || out.Len() != 0 || errb.Len() == 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and a message on stderr", args, code, out.String(), errb.String())
		}
	}
}

// TestReadVersion covers each source of the version, in the order readVersion
// prefers them.
func TestReadVersion(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/ccslink/ccslink", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	tail := ", go1.26.1, " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	for _, tc := range []struct {
		name             string
		ldVersion, ldRev string
		bi               *debug.BuildInfo
		want             buildVersion
		line             string
	}{
		{"release", "v0.3.0-2-g5e0d64d", "5e0d64d0c3a1", vcs("0000000000000000000000000000000000000001", "true"),
			buildVersion{Version: "v0.3.0-2-g5e0d64d", Commit: "5e0d64d0c3a1"}, "ccslink v0.3.0-2-g5e0d64d (5e0d64d0c3a1" + tail},
		{"go install @version", "", "", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.3.0"}},
			buildVersion{Version: "v0.3.0"}, "ccslink v0.3.0 (unknown commit" + tail},
		{"checkout", "", "", vcs("5e0d64d0c3a1f00d5e0d64d0c3a1f00d5e0d64d0", "false"),
			buildVersion{Version: "5e0d64d0c3a1", Commit: "5e0d64d0c3a1"}, "ccslink 5e0d64d0c3a1 (5e0d64d0c3a1" + tail},
		{"modified checkout", "", "", vcs("5e0d64d0c3a1f00d5e0d64d0c3a1f00d5e0d64d0", "true"),
			buildVersion{Version: "5e0d64d0c3a1-dirty", Commit: "5e0d64d0c3a1", Modified: true}, "ccslink 5e0d64d0c3a1-dirty (5e0d64d0c3a1-dirty" + tail},
		{"-buildvcs=false", "", "", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}},
			buildVersion{Version: "devel"}, "ccslink devel (unknown commit" + tail},
	} {
		got := readVersion(tc.ldVersion, tc.ldRev, tc.bi)
		tc.want.Go, tc.want.OS, tc.want.Arch = "go1.26.1", runtime.GOOS, runtime.GOARCH
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if got.String() != tc.line {
			t.Errorf("%s: %q, want %q", tc.name, got.String(), tc.line)
		}
	}
	if got := readVersion("", "", nil); got.Version != "devel" || got.Commit != "" || got.Go != runtime.Version() {
		t.Errorf("no build information: %+v", got)
	}
}

// TestVersionLdflags builds ccslink as a release is built and runs it: the
// -X values are what it prints.
func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ccslink binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	bin := filepath.Join(t.TempDir(), "ccslink")
	build := exec.Command(gobin, "build", "-trimpath", "-ldflags", "-s -w -X main.version=v9.8.7-rc1-dirty -X main.commit=0123456789ab", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("ccslink version: %v", err)
	}
	want := "ccslink v9.8.7-rc1-dirty (0123456789ab, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if string(out) != want {
		t.Errorf("ccslink version printed %q, want %q", out, want)
	}
	out, err = exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("ccslink version --json: %v", err)
	}
	wantJSON := `{"version":"v9.8.7-rc1-dirty","commit":"0123456789ab","modified":false,"go":"` + runtime.Version() + `","os":"` + runtime.GOOS + `","arch":"` + runtime.GOARCH + `"}` + "\n"
	if string(out) != wantJSON {
		t.Errorf("ccslink version --json printed %q, want %q", out, wantJSON)
	}
}
