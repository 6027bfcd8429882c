package v2gpki

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/peertest"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// TestOpenSSLOverVeth: a client this project did not write, Debian's
// openssl s_client, in the car's network namespace, completes TLS with
// the SECC server in the charger's over a veth pair, verifies Init's
// chain against its root (-CAfile), and exchanges SupportedAppProtocol
// through it: on a P-256 chain TLS 1.3 as ISO 15118-20 asks (on
// secp521r1) and TLS 1.2 with ECDHE-ECDSA-AES128-SHA256 as ISO 15118-2
// does; on a P-521 chain (ISO 15118-20's certificates) TLS 1.3 signed
// ecdsa_secp521r1_sha512, while a TLS 1.2 client is refused.
func TestOpenSSLOverVeth(t *testing.T) {
	openssl := peertest.Path(t, "openssl", "openssl", "checks our TLS as a client we did not write")
	nsE, nsP := netnstest.VethPair(t)
	tls13 := []string{"-tls1_3", "-groups", "P-521", "-ciphersuites", "TLS_AES_256_GCM_SHA384"}
	for _, chain := range []struct {
		curve Curve
		runs  []opensslRun
	}{
		{P256, []opensslRun{
			{"tls1.3", tls13,
				[]string{"New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384", "Server Temp Key: ECDH, secp521r1, 521 bits", "Peer signature type: ECDSA", "Peer signing digest: SHA256", "Verify return code: 0 (ok)"}, false},
			{"tls1.2", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"},
				[]string{"New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-SHA256", "Server Temp Key: ECDH, prime256v1, 256 bits", "Verify return code: 0 (ok)"}, false},
		}},
		{P521, []opensslRun{
			{"tls1.3", append(tls13, "-sigalgs", "ecdsa_secp521r1_sha512"),
				[]string{"New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384", "Server Temp Key: ECDH, secp521r1, 521 bits", "Peer signature type: ECDSA", "Peer signing digest: SHA512", "Verify return code: 0 (ok)"}, false},
			{"tls1.2 refused", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"}, nil, true},
		}},
	} {
		t.Run(chain.curve.String(), func(t *testing.T) { opensslChain(t, openssl, nsE, nsP, chain.curve, chain.runs) })
	}
}

// TestOpenSSLBothChains: s_client over veth against a server with
// ISO 15118-2's chain on P-256 and -20's on P-521: TLS 1.2 gets the P-256
// chain and verifies it against the -2 root; TLS 1.3 offering
// ecdsa_secp521r1_sha512 gets the P-521 chain, signed with it, and
// verifies it against the -20 root; TLS 1.3 offering only
// ecdsa_secp256r1_sha256 gets the P-256 chain. Each root verifies its own
// chain alone, so "Verify return code: 0" names the chain served.
func TestOpenSSLBothChains(t *testing.T) {
	openssl := peertest.Path(t, "openssl", "openssl", "checks our TLS as a client we did not write")
	nsE, nsP := netnstest.VethPair(t)
	roots := map[Curve]string{}
	var chains []*Chain
	for _, curve := range []Curve{P521, P256} {
		dir := filepath.Join(t.TempDir(), curve.String())
		if err := InitCurve(dir, "DE*ABC*E1", curve); err != nil {
			t.Fatal(err)
		}
		c, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		chains, roots[curve] = append(chains, c), filepath.Join(dir, RootFile)
	}
	s, err := NewSet(chains...)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := s.ServerConfig(Options{Profile: Both})
	if err != nil {
		t.Fatal(err)
	}
	tls13 := []string{"-tls1_3", "-groups", "P-521", "-ciphersuites", "TLS_AES_256_GCM_SHA384"}
	runs := []opensslRun{
		// Offering ecdsa_secp521r1_sha512 first: in TLS 1.2 it names the
		// hash alone, which the P-256 key then signs with.
		{"tls1.2 p256", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256", "-sigalgs", "ecdsa_secp521r1_sha512:ecdsa_secp256r1_sha256"},
			[]string{"New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-SHA256", "Server Temp Key: ECDH, prime256v1, 256 bits", "Peer signing digest: SHA512", "Verify return code: 0 (ok)"}, false},
		{"tls1.3 p521", append(tls13, "-sigalgs", "ecdsa_secp521r1_sha512"),
			[]string{"New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384", "Server Temp Key: ECDH, secp521r1, 521 bits", "Peer signature type: ECDSA", "Peer signing digest: SHA512", "Verify return code: 0 (ok)"}, false},
		{"tls1.3 p256", append(tls13, "-sigalgs", "ecdsa_secp256r1_sha256"),
			[]string{"New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384", "Server Temp Key: ECDH, secp521r1, 521 bits", "Peer signature type: ECDSA", "Peer signing digest: SHA256", "Verify return code: 0 (ok)"}, false},
	}
	rootOf := func(r opensslRun) string {
		if r.name == "tls1.3 p521" {
			return roots[P521]
		}
		return roots[P256]
	}
	opensslServe(t, openssl, nsE, nsP, tc, rootOf, runs)
}

// opensslRun is one s_client run against a chain.
type opensslRun struct {
	name    string // the edition's TLS, as a car of it offers
	args    []string
	want    []string // lines of s_client's report
	refused bool     // the handshake must fail
}

// opensslChain serves a new chain on curve over the veth pair and runs
// s_client against it as each of runs says.
func opensslChain(t *testing.T, openssl string, nsE, nsP *netnstest.Namespace, curve Curve, runs []opensslRun) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := InitCurve(dir, "DE*ABC*E1", curve); err != nil {
		t.Fatal(err)
	}
	chain, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := chain.ServerConfig(Options{Profile: Both})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, RootFile)
	opensslServe(t, openssl, nsE, nsP, tc, func(opensslRun) string { return root }, runs)
}

// opensslServe serves tc over the veth pair and runs s_client against it
// as each of runs says, checking the chain against the root rootOf names.
func opensslServe(t *testing.T, openssl string, nsE, nsP *netnstest.Namespace, tc *tls.Config, rootOf func(opensslRun) string, runs []opensslRun) {
	var (
		ln  net.Listener
		err error
	)
	nsE.Do(t, func() {
		ln, err = net.Listen("tcp6", net.JoinHostPort(nsE.LinkLocal.String(), "0"))
	})
	if err != nil {
		t.Fatal(err)
	}
	s := secc.NewServer(secc.Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, tls.NewListener(ln, tc)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	dst := nsP.PeerAddr(nsE, uint16(ln.Addr().(*net.TCPAddr).Port)).String()

	sap, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{
		{ProtocolNamespace: secc.NamespaceDIN, VersionNumberMajor: 2, SchemaID: 1, Priority: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	req := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, sap)
	const sapRes = "01fe8001000000048040" + "0040" // OK_SuccessfulNegotiation, SchemaID 1, framed

	for _, tc := range runs {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"s_client", "-connect", dst, "-CAfile", rootOf(tc), "-verify_return_error", "-no_ign_eof", "-nocommands", "-showcerts"}, tc.args...)
			cmd := nsP.Command(ctx, openssl, args...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			stdin.Write(req)
			// s_client closes the connection at the end of its input: only
			// once the answer is in (ctx bounds the wait).
			want, _ := hex.DecodeString(sapRes)
			var out bytes.Buffer
			buf := make([]byte, 4096)
			for {
				n, err := stdout.Read(buf)
				out.Write(buf[:n])
				if stdin != nil && bytes.Contains(out.Bytes(), want) {
					stdin.Close()
					stdin = nil
				}
				if err != nil {
					break
				}
			}
			err = cmd.Wait()
			if tc.refused {
				// The handshake fails on the server's protocol_version alert.
				if err == nil || !strings.Contains(stderr.String(), "alert protocol version") || bytes.Contains(out.Bytes(), want) {
					t.Errorf("s_client: %v, a TLS 1.2 handshake with a P-521 chain was not refused:\n%s\n%s", err, out.String(), stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("s_client: %v\n%s\n%s", err, out.String(), stderr.String())
			}
			report := out.String()
			for _, w := range tc.want {
				if !strings.Contains(report, w+"\n") {
					t.Errorf("s_client's report lacks %q:\n%s", w, report)
				}
			}
			// The chain as the car saw it: leaf, sub-CA 2, sub-CA 1, each verified.
			for _, w := range []string{
				"depth=3 DC = V2G, O = ccslink test PKI, CN = V2GRootCA\nverify return:1\n",
				"depth=2 DC = V2G, O = ccslink test PKI, CN = CPOSubCA1\nverify return:1\n",
				"depth=1 DC = V2G, O = ccslink test PKI, CN = CPOSubCA2\nverify return:1\n",
				"depth=0 DC = CPO, O = ccslink test PKI, CN = DE*ABC*E1\nverify return:1\n",
				" 0 s:DC = CPO, O = ccslink test PKI, CN = DE*ABC*E1\n",
				" 1 s:DC = V2G, O = ccslink test PKI, CN = CPOSubCA2\n",
				" 2 s:DC = V2G, O = ccslink test PKI, CN = CPOSubCA1\n",
			} {
				if !strings.Contains(stderr.String()+report, w) {
					t.Errorf("s_client's output lacks %q", w)
				}
			}
			if strings.Contains(report, " 3 s:") {
				t.Error("the root was sent")
			}
			// The answer to SupportedAppProtocol came through the tunnel.
			if !strings.Contains(report, string(want)) {
				t.Errorf("no SupportedAppProtocol answer %s in s_client's output:\n%q", sapRes, report)
			}
		})
	}
}
