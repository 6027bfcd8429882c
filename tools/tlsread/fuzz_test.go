package tlsread

import (
	"crypto/tls"
	"strings"
	"testing"
)

// FuzzRead: hostile streams give a Conn or a typed error, never a panic,
// and every record read lies inside its stream. The seeds are real
// sessions of Go's TLS 1.2 and 1.3 with their key log, so that mutations
// reach the decryption as well as the parsing.
func FuzzRead(f *testing.F) {
	cert := testCert(f)
	var kl strings.Builder
	for _, srv := range []*tls.Config{
		{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}},
		{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
		{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
	} {
		s := talk(f, srv, &tls.Config{InsecureSkipVerify: true, CipherSuites: srv.CipherSuites}, reqs[:2])
		kl.WriteString(s.keylog)
		f.Add(s.client, s.server)
	}
	keys := keys(f, kl.String())
	f.Fuzz(func(t *testing.T, client, server []byte) {
		c, err := Read(keys, client, server)
		if c == nil {
			if err == nil {
				t.Fatal("neither a Conn nor an error")
			}
			return
		}
		for _, d := range []struct {
			rs []Record
			n  int
		}{{c.Client, len(client)}, {c.Server, len(server)}} {
			end := 0
			for _, r := range d.rs {
				if r.End <= end || r.End > d.n || len(r.Data) > maxRecord {
					t.Fatalf("record ending at %d (after %d) of %d bytes, %d long", r.End, end, d.n, len(r.Data))
				}
				end = r.End
			}
		}
	})
}
