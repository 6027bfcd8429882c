package v2gpki

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// carConfig is a car's TLS client: it checks the SECC's chain against
// root as a car does (no host name: cars have none to check), offering
// what ISO 15118-2 names and the versions given.
func carConfig(root *x509.Certificate, minV, maxV uint16) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(root)
	return &tls.Config{
		MinVersion: minV, MaxVersion: maxV,
		CipherSuites:       []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		InsecureSkipVerify: true, // the chain is verified below, without a host name
		VerifyConnection: func(cs tls.ConnectionState) error {
			inter := x509.NewCertPool()
			for _, x := range cs.PeerCertificates[1:] {
				inter.AddCert(x)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			return err
		},
	}
}

// handshake runs one TLS handshake over loopback TCP (net.Pipe has no
// buffer: a HelloRetryRequest and the car's second hello would block each
// other); it returns both ends' states.
func handshake(t testing.TB, srv, car *tls.Config) (server, client tls.ConnectionState, serr, cerr error) {
	a, b := tcpPair(t)
	defer a.Close()
	defer b.Close()
	s, c := tls.Server(a, srv), tls.Client(b, car)
	done := make(chan error, 1)
	go func() {
		err := s.Handshake()
		if err != nil {
			a.Close() // the client's read must not wait for an answer that never comes
		}
		done <- err
	}()
	cerr = c.Handshake()
	if cerr != nil {
		b.Close()
	}
	serr = <-done
	return s.ConnectionState(), c.ConnectionState(), serr, cerr
}

// tcpPair is both ends of one loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func loadTest(t testing.TB) *Chain {
	t.Helper()
	c, err := Load(initNow(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// initNow writes a chain made now into a new directory.
func initNow(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := Init(dir, "DE*ABC*E1"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestServerConfigProfiles: each profile's version, cipher suite and
// group as a car that offers everything gets them, the chain the car
// sees (leaf, sub-CA 2, sub-CA 1; no root), and no client certificate asked.
func TestServerConfigProfiles(t *testing.T) {
	c := loadTest(t)
	for _, tc := range []struct {
		p          Profile
		minV, maxV uint16        // the car's
		groups     []tls.CurveID // the car's
		version    uint16
		suite      uint16
		curve      tls.CurveID
	}{
		{ISO2, tls.VersionTLS12, tls.VersionTLS13, []tls.CurveID{tls.X25519, tls.CurveP256}, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.CurveP256},
		{ISO20, tls.VersionTLS12, tls.VersionTLS13, []tls.CurveID{tls.X25519, tls.CurveP521}, tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, tls.CurveP521},
		{ISO20, tls.VersionTLS13, tls.VersionTLS13, []tls.CurveID{tls.CurveP384}, tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, tls.CurveP384},
		{Both, tls.VersionTLS12, tls.VersionTLS12, []tls.CurveID{tls.X25519, tls.CurveP256}, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.CurveP256},
		{Both, tls.VersionTLS12, tls.VersionTLS13, []tls.CurveID{tls.X25519, tls.CurveP521}, tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, tls.CurveP521},
	} {
		t.Run(tc.p.String()+" "+tls.VersionName(tc.maxV)+" "+tc.groups[len(tc.groups)-1].String(), func(t *testing.T) {
			srv, err := c.ServerConfig(Options{Profile: tc.p})
			if err != nil {
				t.Fatal(err)
			}
			car := carConfig(c.Root, tc.minV, tc.maxV)
			car.CurvePreferences = tc.groups
			s, cl, serr, cerr := handshake(t, srv, car)
			if serr != nil || cerr != nil {
				t.Fatalf("server %v, car %v", serr, cerr)
			}
			if cl.Version != tc.version || cl.CipherSuite != tc.suite || cl.CurveID != tc.curve || s.CurveID != tc.curve {
				t.Errorf("%s %s %v, want %s %s %v", tls.VersionName(cl.Version), tls.CipherSuiteName(cl.CipherSuite), cl.CurveID,
					tls.VersionName(tc.version), tls.CipherSuiteName(tc.suite), tc.curve)
			}
			if len(cl.PeerCertificates) != 3 || cl.PeerCertificates[0].Subject.CommonName != "DE*ABC*E1" ||
				cl.PeerCertificates[1].Subject.CommonName != "CPOSubCA2" || cl.PeerCertificates[2].Subject.CommonName != "CPOSubCA1" {
				t.Errorf("the car saw %d certificates", len(cl.PeerCertificates))
			}
			if len(s.PeerCertificates) != 0 {
				t.Errorf("the car was asked for a certificate")
			}
		})
	}
	// A car that offers what -2 does not name is refused under ISO2, not served weaker.
	srv, _ := c.ServerConfig(Options{Profile: ISO2})
	car := carConfig(c.Root, tls.VersionTLS12, tls.VersionTLS12)
	car.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	if _, _, serr, _ := handshake(t, srv, car); serr == nil || !strings.Contains(serr.Error(), "no cipher suite supported by both client and server") {
		t.Errorf("GCM-only car under ISO2: %v", serr)
	}
	car = carConfig(c.Root, tls.VersionTLS12, tls.VersionTLS12)
	car.CurvePreferences = []tls.CurveID{tls.X25519}
	if _, _, serr, _ := handshake(t, srv, car); serr == nil {
		t.Error("an X25519-only car was served under ISO2")
	}
	srv, _ = c.ServerConfig(Options{Profile: ISO20})
	car = carConfig(c.Root, tls.VersionTLS13, tls.VersionTLS13)
	car.CurvePreferences = []tls.CurveID{tls.X25519, tls.X25519MLKEM768}
	if _, _, serr, _ := handshake(t, srv, car); serr == nil {
		t.Error("a car without the NIST groups was served under ISO20")
	}
	if _, _, serr, _ := handshake(t, srv, carConfig(c.Root, tls.VersionTLS12, tls.VersionTLS12)); serr == nil || !strings.Contains(serr.Error(), "client offered only unsupported versions") {
		t.Errorf("TLS 1.2 car under ISO20: %v", serr)
	}
	if _, err := c.ServerConfig(Options{Profile: Profile(7)}); err == nil {
		t.Error("Profile(7) accepted")
	}
}

// TestServerConfigMutual: with ClientRoots, a car without a certificate
// is refused and one whose certificate leads to the root is served and seen.
func TestServerConfigMutual(t *testing.T) {
	c, car := loadTest(t), loadTest(t) // the car's own chain stands in for an OEM's
	roots := x509.NewCertPool()
	roots.AddCert(car.Root)
	srv, err := c.ServerConfig(Options{Profile: ISO20, ClientRoots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, serr, _ := handshake(t, srv, carConfig(c.Root, tls.VersionTLS13, tls.VersionTLS13)); serr == nil || !strings.Contains(serr.Error(), "client didn't provide a certificate") {
		t.Errorf("car without a certificate: %v", serr)
	}
	withCert := carConfig(c.Root, tls.VersionTLS13, tls.VersionTLS13)
	cert := tls.Certificate{PrivateKey: car.Key}
	for _, x := range car.Certs {
		cert.Certificate = append(cert.Certificate, x.Raw)
	}
	withCert.Certificates = []tls.Certificate{cert}
	s, _, serr, cerr := handshake(t, srv, withCert)
	if serr != nil || cerr != nil {
		t.Fatalf("server %v, car %v", serr, cerr)
	}
	if len(s.VerifiedChains) != 1 || len(s.VerifiedChains[0]) != 4 || s.PeerCertificates[0].Subject.CommonName != "DE*ABC*E1" {
		t.Errorf("the charger saw %d chains", len(s.VerifiedChains))
	}
	// A certificate under another root is refused.
	roots = x509.NewCertPool()
	roots.AddCert(c.Root)
	srv, _ = c.ServerConfig(Options{Profile: ISO20, ClientRoots: roots})
	var unknown x509.UnknownAuthorityError
	if _, _, serr, _ := handshake(t, srv, withCert); !errors.As(serr, &unknown) {
		t.Errorf("car under another root: %v", serr)
	}
}

// TestKeyLog: the key log is made 0600 (also a file that was wider), gets
// a line per secret in the NSS format, and holds nothing before a handshake.
func TestKeyLog(t *testing.T) {
	c := loadTest(t)
	path := filepath.Join(t.TempDir(), "keys.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenKeyLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, _ := os.Stat(path); st.Mode() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	for _, p := range []Profile{ISO2, ISO20} {
		srv, _ := c.ServerConfig(Options{Profile: p, KeyLog: f})
		if _, _, serr, cerr := handshake(t, srv, carConfig(c.Root, tls.VersionTLS12, tls.VersionTLS13)); serr != nil || cerr != nil {
			t.Fatal(serr, cerr)
		}
	}
	b, _ := os.ReadFile(path)
	var labels []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || len(f[1]) != 64 {
			t.Errorf("line %q", sc.Text())
			continue
		}
		labels = append(labels, f[0])
	}
	want := "CLIENT_RANDOM CLIENT_HANDSHAKE_TRAFFIC_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET CLIENT_TRAFFIC_SECRET_0 SERVER_TRAFFIC_SECRET_0"
	if strings.Join(labels, " ") != want {
		t.Errorf("labels %v, want %s", labels, want)
	}
	// Without the option nothing is written anywhere: the default config has no writer.
	if srv, _ := c.ServerConfig(Options{}); srv.KeyLogWriter != nil {
		t.Error("a key log without being asked")
	}
	new := filepath.Join(t.TempDir(), "new.log")
	g, err := OpenKeyLog(new)
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if st, _ := os.Stat(new); st.Mode() != 0o600 {
		t.Errorf("new file mode %v", st.Mode())
	}
	var ke *KeyLogError
	if _, err := OpenKeyLog(filepath.Join(t.TempDir(), "no", "such", "dir")); !errors.As(err, &ke) || !strings.Contains(err.Error(), "give a file in a writable directory, or leave the key log off") {
		t.Errorf("%v", err)
	}
}

// BenchmarkHandshake: one full handshake (no resumption: cars reconnect
// rarely) over loopback TCP, server and car in this process, the car
// verifying the chain; the connection's setup counts too. Each edition's
// car offers its standard's group: secp256r1 for -2, secp521r1 for -20;
// the chain is P-256 (-2's certificates) or P-521 (-20's: the leaf signs
// ecdsa_secp521r1_sha512, the car verifies three P-521 signatures).
func BenchmarkHandshake(b *testing.B) {
	p256 := loadTest(b)
	dir := filepath.Join(b.TempDir(), "pki")
	if err := InitCurve(dir, "DE*ABC*E1", P521); err != nil {
		b.Fatal(err)
	}
	p521, err := Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		c     *Chain
		p     Profile
		group tls.CurveID
	}{
		{"iso2-tls1.2-p256", p256, ISO2, tls.CurveP256},
		{"iso20-tls1.3-p521", p256, ISO20, tls.CurveP521},
		{"iso20-tls1.3-p256", p256, ISO20, tls.CurveP256},
		{"iso20-tls1.3-p521-p521leaf", p521, ISO20, tls.CurveP521},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv, _ := bc.c.ServerConfig(Options{Profile: bc.p})
			srv.SessionTicketsDisabled = true
			car := carConfig(bc.c.Root, tls.VersionTLS12, tls.VersionTLS13)
			car.CurvePreferences = []tls.CurveID{bc.group}
			b.ReportAllocs()
			for b.Loop() {
				if s, _, serr, cerr := handshake(b, srv, car); serr != nil || cerr != nil || s.CurveID != bc.group {
					b.Fatal(serr, cerr, s.CurveID)
				}
			}
		})
	}
}

// TestLoadRoots: a roots file, and its errors in words of the side that
// checks with it: the charger (the cars' roots) or a car (the charger's).
func TestLoadRoots(t *testing.T) {
	dir := initNow(t)
	root := filepath.Join(dir, RootFile)
	c, _ := Load(dir)
	for _, side := range []RootsFor{ForCars, ForCharger} {
		pool, err := LoadRoots(root, side)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Certs[2].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("sub-CA 1 does not verify against the pool: %v", err)
		}
	}
	const cars = "give a PEM file of the roots the cars' certificates lead to (the V2G root, an OEM's)"
	const charger = "give a PEM file of the root the charger's chain leads to (the V2G root), such as the v2gRootCACert.pem that `ccslink pki init` writes"
	none, key, big := filepath.Join(dir, "none.pem"), filepath.Join(dir, KeyFile), filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, maxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		side RootsFor
		want string
	}{
		{none, ForCars, none + " (the roots of the cars' certificates) does not exist: " + cars},
		{key, ForCars, key + `: holds a PEM block "PRIVATE KEY" where certificates belong: ` + cars},
		{none, ForCharger, none + " (the root of the charger's certificate chain) does not exist: " + charger},
		{key, ForCharger, key + `: holds a PEM block "PRIVATE KEY" where certificates belong: ` + charger},
		{big, ForCharger, big + ": larger than 64 KiB, which no certificate chain is: " + charger},
		{dir, ForCharger, dir + " (the root of the charger's certificate chain): read " + dir + ": is a directory: " + charger},
	} {
		if _, err := LoadRoots(tc.path, tc.side); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v\nwant %s", tc.path, err, tc.want)
		}
	}
}
