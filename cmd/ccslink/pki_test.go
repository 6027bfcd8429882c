package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2gpki"
)

// TestPKIInit: ccslink pki init writes a chain that loads, names the
// EVSEID from --evseid (flags before or after DIR) or the configuration,
// says what each file is for and what a real car needs, and refuses to
// overwrite.
func TestPKIInit(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ccslink.yaml")
	if err := os.WriteFile(cfg, []byte("evse_id: DE*CFG*E7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string // DIR is replaced
		evseID string
	}{
		{[]string{"pki", "init", "DIR", "--evseid", "DE*ABC*E1", "--config", cfg}, "DE*ABC*E1"},
		{[]string{"pki", "--evseid", "DE*ABC*E2", "init", "DIR"}, "DE*ABC*E2"},
		{[]string{"pki", "--config", cfg, "init", "DIR"}, "DE*CFG*E7"},
	} {
		dir := filepath.Join(t.TempDir(), "pki")
		args := strings.Split(strings.ReplaceAll(strings.Join(tc.args, "\x00"), "DIR", dir), "\x00")
		var out, errb bytes.Buffer
		if code := run(args, nil, &out, &errb); code != 0 || errb.Len() != 0 {
			t.Fatalf("%q: exit %d\n%s", args, code, errb.String())
		}
		c, err := v2gpki.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := "a test chain for EVSEID " + tc.evseID + " in " + dir + " on secp256r1 (ISO 15118-2's certificates), valid until " + c.NotAfter().UTC().Format(time.DateOnly) + ":\n" +
			"  v2gRootCACert.pem    the V2G root: a test car (or openssl s_client -CAfile) trusts this one\n" +
			"  cpoCertChain.pem     the SECC certificate, then CPO Sub-CA 2 and CPO Sub-CA 1: sent to the car\n" +
			"  seccLeaf.key         the SECC certificate's key (mode 0600)\n" +
			"serve V2G over TLS with it: ccslink evse --tls " + dir + "\n" +
			"a car that checks the chain against the real V2G root refuses this one; such a car needs your CPO's chain in these three files\n"
		if out.String() != want || c.EVSEID() != tc.evseID {
			t.Errorf("%q said\n%s\nwant\n%s", args, out.String(), want)
		}
		// Again: refused, nothing overwritten.
		before, _ := os.ReadFile(filepath.Join(dir, v2gpki.KeyFile))
		out.Reset()
		errb.Reset()
		if code := run(args, nil, &out, &errb); code != 1 || out.Len() != 0 ||
			errb.String() != "ccslink pki: "+filepath.Join(dir, v2gpki.RootFile)+" exists already: a chain is never overwritten; move the directory's files away or choose another directory\n" {
			t.Errorf("second init: exit %d, %q", code, errb.String())
		}
		if after, _ := os.ReadFile(filepath.Join(dir, v2gpki.KeyFile)); !bytes.Equal(before, after) {
			t.Error("the key was overwritten")
		}
	}
}

// TestPKIWords: a pki command that cannot be done says why and what to give.
func TestPKIWords(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"pki"}, 2, "ccslink pki: what to do is missing: give init DIR, e.g. ccslink pki init /etc/ccslink/pki\n"},
		{[]string{"pki", "init"}, 2, "ccslink pki: unexpected \"init\": give init DIR, e.g. ccslink pki init /etc/ccslink/pki\n"},
		{[]string{"pki", "make", dir}, 2, "ccslink pki: unexpected \"make " + dir + "\": give init DIR, e.g. ccslink pki init /etc/ccslink/pki\n"},
		{[]string{"pki", "init", dir, "more"}, 2, "ccslink pki: unexpected \"init " + dir + " more\": give init DIR, e.g. ccslink pki init /etc/ccslink/pki\n"},
		{[]string{"pki", "init", filepath.Join(dir, "a"), "--evseid", "DE ABC"}, 1, "ccslink pki: \"DE ABC\" is not an EVSEID: give at most 37 printable ASCII characters without spaces, e.g. DE*ABC*E1234\n"},
		{[]string{"pki", "init", filepath.Join(dir, "b"), "--curve", "p384"}, 2, "ccslink pki: --curve: curve \"p384\": give p256 (secp256r1, ISO 15118-2) or p521 (secp521r1, ISO 15118-20)\n"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, nil, &out, &errb); code != c.code || out.Len() != 0 || errb.String() != c.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, out.String(), errb.String(), c.code, c.stderr)
		}
	}
}

// TestPKIInitP521: --curve p521 writes a chain of ISO 15118-20's
// certificates, says so and what it serves; ccslink evse serves it as TLS
// 1.3 alone and warns that a TLS 1.2 car is refused, in plain words.
func TestPKIInitP521(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	var out, errb bytes.Buffer
	if code := run([]string{"pki", "init", dir, "--curve", "p521", "--evseid", "DE*ABC*E1"}, nil, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	c, err := v2gpki.Load(dir)
	if err != nil || c.Curve != v2gpki.P521 {
		t.Fatalf("%v %v", c, err)
	}
	until := c.NotAfter().UTC().Format(time.DateOnly)
	want := "a test chain for EVSEID DE*ABC*E1 in " + dir + " on secp521r1 (ISO 15118-20's certificates), valid until " + until + ":\n" +
		"  v2gRootCACert.pem    the V2G root: a test car (or openssl s_client -CAfile) trusts this one\n" +
		"  cpoCertChain.pem     the SECC certificate, then CPO Sub-CA 2 and CPO Sub-CA 1: sent to the car\n" +
		"  seccLeaf.key         the SECC certificate's key (mode 0600)\n" +
		"serve V2G over TLS with it: ccslink evse --tls " + dir + "\n" +
		"on secp521r1 it serves ISO 15118-20's TLS 1.3 alone; an ISO 15118-2 car (TLS 1.2) needs a chain made with --curve p256\n" +
		"a car that checks the chain against the real V2G root refuses this one; such a car needs your CPO's chain in these three files\n"
	if out.String() != want {
		t.Errorf("said\n%s\nwant\n%s", out.String(), want)
	}
	errb.Reset()
	// The interface does not exist: the daemon stops right after the TLS checks.
	if code := run([]string{"evse", "--iface", "nosuch0", "--tls", dir, "--evseid", "DE*ABC*E1"}, nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	for _, w := range []string{
		`level=WARN msg="the chain is on secp521r1, ISO 15118-20's: V2G over TLS is served as TLS 1.3 alone, and a car that asks for ISO 15118-2's TLS 1.2 is refused at the handshake; for such cars make a chain with ccslink pki init DIR --curve p256, or install your CPO's -2 chain"`,
		`msg="serving V2G over TLS too" chain=` + dir + ` evseid=DE*ABC*E1 valid_until=` + until + ` curve=secp521r1 tls="1.3 (-20) alone" mutual=false`,
	} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("log lacks %s:\n%s", w, errb.String())
		}
	}
}

// TestEVSETLSWords: ccslink evse checks its chain before it starts, and
// says what is wrong and what to do; TLS flags without --tls are refused.
func TestEVSETLSWords(t *testing.T) {
	good := filepath.Join(t.TempDir(), "pki")
	if err := v2gpki.Init(good, ""); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "pki")
	if err := v2gpki.Init(other, ""); err != nil {
		t.Fatal(err)
	}
	mixed := filepath.Join(t.TempDir(), "pki")
	os.MkdirAll(mixed, 0o755)
	for _, f := range []string{v2gpki.RootFile, v2gpki.ChainFile} {
		b, _ := os.ReadFile(filepath.Join(good, f))
		os.WriteFile(filepath.Join(mixed, f), b, 0o644)
	}
	b, _ := os.ReadFile(filepath.Join(other, v2gpki.KeyFile))
	os.WriteFile(filepath.Join(mixed, v2gpki.KeyFile), b, 0o600)
	empty := t.TempDir()
	renew := "make a new test chain with `ccslink pki init DIR` into an empty directory, or install your CPO's chain\n"
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--tls", empty}, "ccslink evse: --tls " + empty + ": " + filepath.Join(empty, v2gpki.RootFile) + " (the V2G root certificate) does not exist: " + renew},
		{[]string{"--tls", mixed}, "ccslink evse: --tls " + mixed + ": the key in " + filepath.Join(mixed, v2gpki.KeyFile) + " is not the SECC certificate's in " +
			filepath.Join(mixed, v2gpki.ChainFile) + " (files of two different chains?): put the leaf's own key there, or " + renew},
		{[]string{"--tls-keylog", filepath.Join(empty, "k")}, "ccslink evse: --tls-keylog needs --tls DIR: the certificate chain to serve V2G over TLS with\n"},
		{[]string{"--tls-car-root", filepath.Join(good, v2gpki.RootFile)}, "ccslink evse: --tls-car-root needs --tls DIR: the certificate chain to serve V2G over TLS with\n"},
		{[]string{"--tls-port", "15200"}, "ccslink evse: --tls-port needs --tls DIR: the certificate chain to serve V2G over TLS with\n"},
		{[]string{"--tls", good, "--v2g-port", "15200", "--tls-port", "15200"}, "ccslink evse: --tls-port 15200: give a free TCP port other than the plain V2G port (15200), or 0 for any\n"},
		{[]string{"--tls", good, "--tls-car-root", filepath.Join(empty, "roots.pem")}, "ccslink evse: --tls-car-root: " + filepath.Join(empty, "roots.pem") +
			" (the roots of the cars' certificates) does not exist: give a PEM file of the roots the cars' certificates lead to (the V2G root, an OEM's)\n"},
		{[]string{"--tls", good, "--tls", other}, "ccslink evse: --tls: " + good + " and " + other + " both hold a chain on secp256r1 (ISO 15118-2's): a charger serves at most one chain per curve, ISO 15118-2's on secp256r1 and -20's on secp521r1; give only one of them\n"},
		{[]string{"--tls", good, "--tls", good}, "ccslink evse: --tls " + good + " is given twice: give each chain's directory once (one for ISO 15118-2 on secp256r1, one for -20 on secp521r1)\n"},
		{[]string{"--tls", good, "--tls", empty}, "ccslink evse: --tls " + empty + ": " + filepath.Join(empty, v2gpki.RootFile) + " (the V2G root certificate) does not exist: " + renew},
		{[]string{"--tls", good, "--tls-keylog", filepath.Join(empty, "no", "k")}, "ccslink evse: --tls-keylog: the TLS key log " + filepath.Join(empty, "no", "k") +
			" cannot be opened (open " + filepath.Join(empty, "no", "k") + ": no such file or directory): give a file in a writable directory, or leave the key log off\n"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"evse", "--iface", "lo"}, c.args...)
		if code := run(args, nil, &out, &errb); code != 2 || out.Len() != 0 || errb.String() != c.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr\n%s\nwant 2 and\n%s", args, code, out.String(), errb.String(), c.stderr)
		}
	}
}

// TestEVSETLSStart: a sound chain is announced in the log with its
// EVSEID and end; the key log is written only when asked for, by
// SSLKEYLOGFILE or --tls-keylog (which wins), mode 0600, with a warning;
// an EVSEID other than the charger's is a warning.
func TestEVSETLSStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := v2gpki.Init(dir, "DE*ABC*E1"); err != nil {
		t.Fatal(err)
	}
	c, _ := v2gpki.Load(dir)
	until := c.NotAfter().UTC().Format(time.DateOnly)
	env := filepath.Join(t.TempDir(), "env.log")
	t.Setenv("SSLKEYLOGFILE", env)
	// The interface does not exist: the daemon stops right after the TLS checks.
	var out, errb bytes.Buffer
	if code := run([]string{"evse", "--iface", "nosuch0", "--tls", dir, "--evseid", "DE*ABC*E1"}, nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	for _, w := range []string{
		`msg="writing the TLS sessions' secrets: whoever reads the file can decrypt the V2G sessions it covers; delete it after the bug report" file=` + env + ` from=SSLKEYLOGFILE`,
		`msg="serving V2G over TLS too" chain=` + dir + ` evseid=DE*ABC*E1 valid_until=` + until + ` curve=secp256r1 tls="1.2 (ISO 15118-2) and 1.3 (-20)" mutual=false`,
	} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("log lacks %s:\n%s", w, errb.String())
		}
	}
	if strings.Contains(errb.String(), "names EVSEID") {
		t.Errorf("an EVSEID warning for the same EVSEID:\n%s", errb.String())
	}
	if st, err := os.Stat(env); err != nil || st.Mode() != 0o600 {
		t.Errorf("SSLKEYLOGFILE's key log: %v %v", st, err)
	}
	os.Remove(env)

	keys := filepath.Join(t.TempDir(), "keys.log")
	errb.Reset()
	if code := run([]string{"evse", "--iface", "nosuch0", "--tls", dir, "--tls-keylog", keys, "--tls-car-root", filepath.Join(dir, v2gpki.RootFile)}, nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	for _, w := range []string{
		`msg="writing the TLS sessions' secrets: whoever reads the file can decrypt the V2G sessions it covers; delete it after the bug report" file=` + keys + ` from=--tls-keylog`,
		`msg="the SECC certificate names EVSEID DE*ABC*E1, and the charger answers with ZZ00000: a car that compares them may refuse; give --evseid DE*ABC*E1, or make a chain for ZZ00000"`,
		`mutual=true`,
	} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("log lacks %s:\n%s", w, errb.String())
		}
	}
	if _, err := os.Stat(env); !os.IsNotExist(err) {
		t.Errorf("SSLKEYLOGFILE written though --tls-keylog was given: %v", err)
	}
	if st, err := os.Stat(keys); err != nil || st.Mode() != 0o600 {
		t.Errorf("key log: %v %v", st, err)
	}
}

// TestEVSETLSBothStart: with a chain per curve (in either order) the
// start line names each chain, by its curve, and which cars it serves;
// an EVSEID other than the charger's is a warning that names the chain.
func TestEVSETLSBothStart(t *testing.T) {
	p256, p521 := filepath.Join(t.TempDir(), "pki2"), filepath.Join(t.TempDir(), "pki20")
	if err := v2gpki.Init(p256, "DE*ABC*E1"); err != nil {
		t.Fatal(err)
	}
	if err := v2gpki.InitCurve(p521, "DE*ABC*E2", v2gpki.P521); err != nil {
		t.Fatal(err)
	}
	c256, _ := v2gpki.Load(p256)
	c521, _ := v2gpki.Load(p521)
	line := `level=INFO msg="serving V2G over TLS too" secp256r1.chain=` + p256 + ` secp256r1.evseid=DE*ABC*E1 secp256r1.valid_until=` + c256.NotAfter().UTC().Format(time.DateOnly) +
		` secp256r1.tls="1.2 (ISO 15118-2), and 1.3 (-20) to cars that do not offer ecdsa_secp521r1_sha512"` +
		` secp521r1.chain=` + p521 + ` secp521r1.evseid=DE*ABC*E2 secp521r1.valid_until=` + c521.NotAfter().UTC().Format(time.DateOnly) +
		` secp521r1.tls="1.3 (-20) to cars that offer ecdsa_secp521r1_sha512" mutual=false` + "\n"
	warn := `level=WARN msg="the SECC certificate in ` + filepath.Join(p521, v2gpki.ChainFile) + ` names EVSEID DE*ABC*E2, and the charger answers with DE*ABC*E1: a car that compares them may refuse; give --evseid DE*ABC*E2, or make a chain for DE*ABC*E1"` + "\n"
	for _, args := range [][]string{{"--tls", p256, "--tls", p521}, {"--tls", p521, "--tls", p256}} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"evse", "--iface", "nosuch0", "--evseid", "DE*ABC*E1"}, args...), nil, &out, &errb); code != 1 {
			t.Fatalf("exit %d\n%s", code, errb.String())
		}
		log := errb.String()
		for _, w := range []string{warn, line} {
			if !strings.Contains(log, w) {
				t.Errorf("%q: log lacks\n%s\nin\n%s", args, w, log)
			}
		}
		if strings.Count(log, "names EVSEID") != 1 || strings.Contains(log, "TLS 1.3 alone") || strings.Index(log, warn) > strings.Index(log, line) {
			t.Errorf("%q: the log is\n%s", args, log)
		}
	}
}

// TestPEVTLSRootWords: ccslink pev reads --tls-root as the charger reads
// its cars' roots, and says in the car's words what is wrong and what to
// give, before it touches the interface.
func TestPEVTLSRootWords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := v2gpki.Init(dir, ""); err != nil {
		t.Fatal(err)
	}
	give := "give a PEM file of the root the charger's chain leads to (the V2G root), such as the v2gRootCACert.pem that `ccslink pki init` writes\n"
	none, key := filepath.Join(dir, "none.pem"), filepath.Join(dir, v2gpki.KeyFile)
	for _, c := range []struct{ root, stderr string }{
		{none, "ccslink pev: --tls-root: " + none + " (the root of the charger's certificate chain) does not exist: " + give},
		{key, "ccslink pev: --tls-root: " + key + ": holds a PEM block \"PRIVATE KEY\" where certificates belong: " + give},
	} {
		var out, errb bytes.Buffer
		args := []string{"pev", "--iface", "nosuch0", "--car", "iso20-ac-tls", "--tls-root", c.root}
		if code := run(args, nil, &out, &errb); code != 2 || out.Len() != 0 || errb.String() != c.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr\n%s\nwant 2 and\n%s", args, code, out.String(), errb.String(), c.stderr)
		}
	}
}
