package sdp

import (
	"bytes"
	"encoding/hex"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/tools/capture"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Datagrams from the captures: pyPLC's request and an ABB charger's answer
// (pyplc/2022-11-25_v0.2_ABB_...), a TLS request and a TLS answer
// (dsv2gshark/ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G).
const (
	reqNoTLS = "01fe900000000002" + "1000"
	reqTLS   = "01fe900000000002" + "0000"
	resABB   = "01fe900100000014" + "fe800000000000005610ecfffea1f3e2" + "d121" + "10" + "00"
	resTLS   = "01fe900100000014" + "fe80000000000000664d70fffe0103bf" + "d74f" + "00" + "00"
)

// malformedRequests are datagrams a server must ignore, with the reason.
var malformedRequests = []struct{ hex, why string }{
	{"", badLength},
	{"01fe9000000000", badLength},
	{"01fe90000000000210", badLength},          // payload cut short
	{"01fe9000000000021000" + "00", badLength}, // a byte after the payload
	{"01fe900000000003100000", badLength},      // header says 3
	{"01fe900000000001" + "10", badLength},
	{"01fe9000ffffffff1000", badLength},
	{"02fd9000000000021000", badHeader},
	{"16030300c3010000bf03", badHeader}, // a TLS record
	{"01fe8001000000021000", badType},   // an EXI payload type
	{"01fe9001000000021000", badType},   // a response sent to the server
	{"01fe9000000000022000", badSecurity},
	{"01fe9000000000021001", badTransport},
	{"01fe90000000000210ff", badTransport},
}

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want v2gtp.SDPRequest
	}{
		{reqNoTLS, v2gtp.SDPRequest{Security: v2gtp.SecurityNone, Transport: v2gtp.TransportTCP}},
		{reqTLS, v2gtp.SDPRequest{Security: v2gtp.SecurityTLS, Transport: v2gtp.TransportTCP}},
		{"01fe9000000000021010", v2gtp.SDPRequest{Security: v2gtp.SecurityNone, Transport: v2gtp.TransportUDP}},
	} {
		if q, why := parseRequest(unhex(t, tc.hex)); why != "" || q != tc.want {
			t.Errorf("%s: %+v %q, want %+v", tc.hex, q, why, tc.want)
		}
	}
	for _, tc := range malformedRequests {
		if q, why := parseRequest(unhex(t, tc.hex)); why != tc.why || q != (v2gtp.SDPRequest{}) {
			t.Errorf("%s: %+v %q, want %q", tc.hex, q, why, tc.why)
		}
	}
}

func TestParseResponse(t *testing.T) {
	abb := v2gtp.SDPResponse{IP: netip.MustParseAddr("fe80::5610:ecff:fea1:f3e2"), Port: 53537, Security: v2gtp.SecurityNone, Transport: v2gtp.TransportTCP}
	if s, why := parseResponse(unhex(t, resABB)); why != "" || s != abb {
		t.Errorf("ABB: %+v %q", s, why)
	}
	if s, why := parseResponse(unhex(t, resTLS)); why != "" || s.Security != v2gtp.SecurityTLS || s.Port != 55119 {
		t.Errorf("TLS: %+v %q", s, why)
	}
	for _, tc := range []struct{ hex, why string }{
		{"", badLength},
		{resABB[:len(resABB)-2], badLength},
		{resABB + "00", badLength},
		{"01fe900100000013" + resABB[16:len(resABB)-2], badLength},
		{"01ff" + resABB[4:], badHeader},
		{"01fe9000" + resABB[8:], badType},
		{reqNoTLS, badType},
		{resABB[:len(resABB)-4] + "2000", badSecurity},
		{resABB[:len(resABB)-2] + "01", badTransport},
		{"01fe900100000014" + "fe800000000000005610ecfffea1f3e2" + "0000" + "1000", badAddress},
		{"01fe900100000014" + "00000000000000000000000000000000" + "d121" + "1000", badAddress},
		{"01fe900100000014" + "ff020000000000000000000000000001" + "d121" + "1000", badAddress},
		{"01fe900100000014" + "00000000000000000000ffffc0a80001" + "d121" + "1000", badAddress},
	} {
		if s, why := parseResponse(unhex(t, tc.hex)); why != tc.why || s != (v2gtp.SDPResponse{}) {
			t.Errorf("%s: %+v %q, want %q", tc.hex, s, why, tc.why)
		}
	}
}

// captureDatagrams returns the SDP datagrams (header included) of every
// shared capture, or nothing when the captures are absent.
func captureDatagrams(tb testing.TB) (reqs, ress [][]byte) {
	dir, ok := shared.SharedDir()
	if !ok {
		return nil, nil
	}
	filepath.WalkDir(filepath.Join(dir, "captures"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !(strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			return nil
		}
		c, err := capture.Open(p)
		if err != nil {
			return nil // a capture cut short: the others suffice
		}
		msgs, _ := capture.V2GTP(c.Frames())
		for _, m := range msgs {
			if m.Transport != "udp" {
				continue
			}
			b := v2gtp.AppendMessage(nil, m.Header.Type, m.Payload)
			if m.Header.Type == v2gtp.TypeSDPRequest {
				reqs = append(reqs, b)
			} else {
				ress = append(ress, b)
			}
		}
		return nil
	})
	return reqs, ress
}

// TestCaptures: every SDP datagram in the real captures parses as what it
// is, and every answer re-encodes to its bytes.
func TestCaptures(t *testing.T) {
	reqs, ress := captureDatagrams(t)
	if len(reqs) == 0 {
		shared.Path(t, "captures") // skips with the shared message when absent
		t.Fatal("no SDP requests in the captures")
	}
	tls := 0
	for _, b := range reqs {
		q, why := parseRequest(b)
		if why != "" || q.Transport != v2gtp.TransportTCP {
			t.Errorf("request %x: %+v %q", b, q, why)
		}
		if q.Security == v2gtp.SecurityTLS {
			tls++
		}
	}
	for _, b := range ress {
		s, why := parseResponse(b)
		if why != "" || !s.IP.IsLinkLocalUnicast() || s.Transport != v2gtp.TransportTCP {
			t.Errorf("response %x: %+v %q", b, s, why)
		}
		if !bytes.Equal(v2gtp.AppendMessage(nil, v2gtp.TypeSDPResponse, s.Append(nil)), b) {
			t.Errorf("response %x does not re-encode", b)
		}
	}
	t.Logf("%d requests (%d asking for TLS), %d responses", len(reqs), tls, len(ress))
	if tls == 0 || len(ress) == 0 {
		t.Errorf("want TLS requests and responses among the captures")
	}
}

func FuzzParse(f *testing.F) {
	reqs, ress := captureDatagrams(f)
	for _, b := range slices.Concat(reqs[:min(len(reqs), 4)], ress[:min(len(ress), 4)]) {
		f.Add(b)
	}
	for _, s := range []string{reqNoTLS, reqTLS, resABB, resTLS} {
		f.Add(unhex(f, s))
	}
	for _, tc := range malformedRequests {
		f.Add(unhex(f, tc.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, why := parseRequest(b); why == "" {
			if got := v2gtp.AppendMessage(nil, v2gtp.TypeSDPRequest, q.Append(nil)); !bytes.Equal(got, b) {
				t.Fatalf("request %x re-encodes as %x", b, got)
			}
		} else if q != (v2gtp.SDPRequest{}) {
			t.Fatalf("rejected request %x (%s) gives %+v", b, why, q)
		}
		if s, why := parseResponse(b); why == "" {
			if got := v2gtp.AppendMessage(nil, v2gtp.TypeSDPResponse, s.Append(nil)); !bytes.Equal(got, b) {
				t.Fatalf("response %x re-encodes as %x", b, got)
			}
			if s.Port == 0 || !s.IP.Is6() || s.IP.IsMulticast() {
				t.Fatalf("unusable response %x accepted: %+v", b, s)
			}
		}
	})
}

// TestParseAllocs: rejecting garbage and accepting a request allocate
// nothing, so a flood costs the server no garbage collection.
func TestParseAllocs(t *testing.T) {
	in := [][]byte{unhex(t, reqNoTLS), unhex(t, resABB), unhex(t, "01fe9000000000021001"), unhex(t, "16030300c3010000bf03")}
	if a := testing.AllocsPerRun(100, func() {
		for _, b := range in {
			parseRequest(b)
			parseResponse(b)
		}
	}); a != 0 {
		t.Errorf("%v allocations", a)
	}
}

func BenchmarkParseRequest(b *testing.B) {
	in := unhex(b, reqNoTLS)
	b.ReportAllocs()
	for b.Loop() {
		if _, why := parseRequest(in); why != "" {
			b.Fatal(why)
		}
	}
}
