package tlsread

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// tap keeps a copy of what is written to a connection.
type tap struct {
	net.Conn
	mu  *sync.Mutex
	out *bytes.Buffer
}

func (t tap) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.out.Write(p)
	t.mu.Unlock()
	return t.Conn.Write(p)
}

func testCert(t testing.TB) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ZZ00000"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// session is one TLS connection over loopback TCP: the bytes each side
// wrote and the key log the server wrote.
type session struct {
	client, server []byte
	keylog         string
	state          tls.ConnectionState
}

// talk runs a TLS connection in which the client sends reqs and the server
// answers each with "re:"+req, both on real sockets.
func talk(t testing.TB, srv *tls.Config, cli *tls.Config, reqs []string) session {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var cb, sb, kl bytes.Buffer
	srv = srv.Clone()
	srv.KeyLogWriter = &kl
	done, quit := make(chan error, 1), make(chan struct{})
	defer close(quit)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		s := tls.Server(tap{c, &mu, &sb}, srv)
		defer s.Close()
		buf := make([]byte, 4096)
		for range reqs {
			n, err := s.Read(buf)
			if err != nil {
				done <- err
				return
			}
			if _, err := s.Write(append([]byte("re:"), buf[:n]...)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
		<-quit // the copy is taken before the close_notify alerts
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(tap{raw, &mu, &cb}, cli)
	buf := make([]byte, 4096)
	for _, r := range reqs {
		if _, err := c.Write([]byte(r)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:3+len(r)]); err != nil {
			t.Fatal(err)
		}
	}
	st := c.ConnectionState()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mu.Lock()
	defer mu.Unlock()
	return session{client: bytes.Clone(cb.Bytes()), server: bytes.Clone(sb.Bytes()), keylog: kl.String(), state: st}
}

func keys(t testing.TB, s string) *KeyLog {
	t.Helper()
	k, err := ReadKeyLog(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func plain(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Data))
	}
	return out
}

var reqs = []string{"SessionSetupReq", "AC_ChargeLoopReq 40 %", strings.Repeat("x", 3000)}

func want(prefix string) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, prefix+r)
	}
	return out
}

func TestRead(t *testing.T) {
	cert := testCert(t)
	for _, c := range []struct {
		name    string
		srv     *tls.Config
		version uint16
		suite   uint16
	}{
		{"TLS 1.2 ECDHE-ECDSA-AES128-CBC-SHA256", &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}, VersionTLS12, 0xC023},
		{"TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256", &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, VersionTLS12, 0xC02B},
		{"TLS 1.2 ECDHE-ECDSA-AES256-GCM-SHA384", &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}, VersionTLS12, 0xC02C},
		{"TLS 1.3 AES-128-GCM-SHA256", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
			CurvePreferences: []tls.CurveID{tls.CurveP521}}, VersionTLS13, 0x1301},
		{"TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305", &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, VersionTLS12, 0xCCA9},
		// A client that ranks ChaCha20 first gets it, as does every car from
		// a server without AES instructions (a Raspberry Pi 4).
		{"TLS 1.3 CHACHA20-POLY1305-SHA256", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, VersionTLS13, 0x1303},
	} {
		t.Run(c.name, func(t *testing.T) {
			cli := &tls.Config{InsecureSkipVerify: true, CipherSuites: c.srv.CipherSuites}
			s := talk(t, c.srv, cli, reqs)
			if s.state.CipherSuite != c.suite {
				t.Fatalf("Go chose suite 0x%04x", s.state.CipherSuite)
			}
			conn, err := Read(keys(t, s.keylog), s.client, s.server)
			if err != nil {
				t.Fatal(err)
			}
			if conn.Version != c.version || conn.Suite != c.suite || conn.ClientRest != 0 || conn.ServerRest != 0 {
				t.Errorf("version %x suite %x rest %d %d", conn.Version, conn.Suite, conn.ClientRest, conn.ServerRest)
			}
			if !slices.Equal(plain(conn.Client), reqs) || !slices.Equal(plain(conn.Server), want("re:")) {
				t.Errorf("client %q\nserver %q", plain(conn.Client), plain(conn.Server))
			}
			// Each record ends where the next starts, the last at the stream's end.
			if last := conn.Client[len(conn.Client)-1]; last.End != len(s.client) {
				t.Errorf("last client record ends at %d of %d", last.End, len(s.client))
			}

			// Without a key, with another session's, with a tampered
			// record, cut short: typed errors, never a panic.
			var nk *NoKeyError
			if _, err := Read(nil, s.client, s.server); !errors.As(err, &nk) || !bytes.Equal(nk.ClientRandom[:], s.client[11:43]) {
				t.Errorf("no key log: %v", err)
			}
			other := talk(t, c.srv, cli, reqs[:1])
			if _, err := Read(keys(t, other.keylog), s.client, s.server); !errors.As(err, &nk) {
				t.Errorf("another session's key log: %v", err)
			}
			bad := bytes.Clone(s.server)
			bad[len(bad)-3] ^= 1
			var de *DecryptError
			if _, err := Read(keys(t, s.keylog), s.client, bad); !errors.As(err, &de) || de.Dir != FromServer || de.Error() == "" {
				t.Errorf("tampered record: %v", err)
			}
			cut, err := Read(keys(t, s.keylog), s.client[:len(s.client)-10], s.server)
			if err != nil || cut.ClientRest != len(s.client)-10-conn.Client[len(conn.Client)-2].End || len(cut.Client) != len(reqs)-1 {
				t.Errorf("cut short: %v, rest %d, %d records", err, cut.ClientRest, len(cut.Client))
			}
		})
	}
}

func TestReadKeyLog(t *testing.T) {
	if _, err := ReadKeyLog(strings.NewReader("# nothing\nCLIENT_RANDOM zz 00\n")); !errors.Is(err, ErrKeyLog) {
		t.Errorf("no usable line: %v", err)
	}
	k := keys(t, "# a comment\nCLIENT_RANDOM "+strings.Repeat("ab", 32)+" "+strings.Repeat("01", 48)+"\nEXPORTER_SECRET "+strings.Repeat("ab", 32)+" 00\n")
	if k.Len() != 1 || len(k.secret([32]byte(bytes.Repeat([]byte{0xab}, 32)), "CLIENT_RANDOM")) != 48 {
		t.Errorf("%d sessions", k.Len())
	}
}

func TestMalformed(t *testing.T) {
	var me *MalformedError
	for _, c := range []struct {
		name           string
		client, server []byte
	}{
		{"bad header", []byte{0x16, 0x03, 0x01, 0xff, 0xff, 1}, nil},
		{"no ClientHello", []byte{0x17, 0x03, 0x03, 0, 1, 0}, []byte{}},
	} {
		_, err := Read(nil, c.client, c.server)
		if !errors.As(err, &me) && !errors.Is(err, ErrNotTLS) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestPoly1305: RFC 8439's example (section 2.5.2).
func TestPoly1305(t *testing.T) {
	key, _ := hex.DecodeString("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
	tag := poly1305(key, []byte("Cryptographic Forum Research Group"))
	if got := hex.EncodeToString(tag[:]); got != "a8061dc1305136c6c22b8baf0c0127a9" {
		t.Errorf("tag %s", got)
	}
}

// BenchmarkRead: reading a session of 40 requests and answers of 200
// bytes, per suite.
func BenchmarkRead(b *testing.B) {
	cert := testCert(b)
	msgs := make([]string, 40)
	for i := range msgs {
		msgs[i] = strings.Repeat(string(rune('a'+i%26)), 200)
	}
	for _, c := range []struct {
		name string
		srv  *tls.Config
	}{
		{"TLS1.2-AES128-CBC-SHA256", &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}},
		{"TLS1.3-AES128-GCM", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}},
		{"TLS1.3-CHACHA20", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}},
	} {
		s := talk(b, c.srv, &tls.Config{InsecureSkipVerify: true, CipherSuites: c.srv.CipherSuites}, msgs)
		k := keys(b, s.keylog)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(s.client) + len(s.server)))
			for b.Loop() {
				if _, err := Read(k, s.client, s.server); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
