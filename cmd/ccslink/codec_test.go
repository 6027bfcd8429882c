package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/iso2"
)

// Messages of the Hyundai Ioniq's DIN session (pyPLC capture 2023-05-24)
// and a Tesla Model Y (2024-04-20), and their JSON.
const (
	sessionSetupReqHex   = "809a02000000000000000011d01811959401930c00"
	sessionSetupReqJSON  = `{"V2G_Message":{"Header":{"SessionID":"0000000000000000"},"Body":{"SessionSetupReq":{"EVCCID":"0465650064c3"}}}}`
	serviceDiscoveryHex  = "809a02004080c1014181c2119400"
	serviceDiscoveryJSON = `{"V2G_Message":{"Header":{"SessionID":"0102030405060708"},"Body":{"ServiceDiscoveryReq":{"ServiceCategory":"EVCharging"}}}}`
	// The Tesla sends one 0x00 after its ContractAuthenticationReq.
	teslaContractAuthHex  = "809a02004080c1014181c210b800"
	teslaContractAuthJSON = `{"V2G_Message":{"Header":{"SessionID":"0102030405060708"},"Body":{"ContractAuthenticationReq":{}}}}`
)

// runCLI runs the command line with stdin and returns stdout, stderr and
// the exit status.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func outLines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestDecodeHexArgs(t *testing.T) {
	out, errs, code := runCLI(t, "", "decode", "--schema", "din", sessionSetupReqHex, serviceDiscoveryHex)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	want := sessionSetupReqJSON + "\n" + serviceDiscoveryJSON + "\n"
	if out != want {
		t.Errorf("stdout\n%s\nwant\n%s", out, want)
	}
}

func TestDecodeStdinLines(t *testing.T) {
	in := strings.Join([]string{
		sessionSetupReqHex,
		"01fe800100000015" + sessionSetupReqHex,        // V2GTP header: 0x8001, 21 bytes
		strings.ToUpper(serviceDiscoveryHex),           // either case
		"80 9a 02 00 40 80 c1 01 41 81 c2 11 94 00   ", // spaces are ignored
	}, "\n") + "\n"
	out, errs, code := runCLI(t, in, "decode", "--schema", "din")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	want := []string{sessionSetupReqJSON, sessionSetupReqJSON, serviceDiscoveryJSON, serviceDiscoveryJSON}
	got := outLines(out)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
}

// TestDecodeBadLine: a failing line prints nothing on stdout, names itself
// and the bit position on stderr, and makes the exit status 1; the lines
// around it still decode.
func TestDecodeBadLine(t *testing.T) {
	// 809a020000: header (bits 0-7), V2G_Message = 77 (8-14), SE(Header)
	// (15), SE(SessionID) (16), CH (17), then the binary length 8 in bits
	// 18-25; the 8 octets it promises are missing from bit 26 on.
	in := sessionSetupReqHex + "\n809a020000\n" + serviceDiscoveryHex + "\nff\nxyz\n"
	out, errs, code := runCLI(t, in, "decode", "--schema", "din")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := []string{sessionSetupReqJSON, serviceDiscoveryJSON}
	if got := outLines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
	e := outLines(errs)
	if len(e) != 3 {
		t.Fatalf("stderr has %d lines, want 3:\n%s", len(e), errs)
	}
	for i, w := range []string{"line 2: bit 26: ", "line 4: bit 0: ", "line 5: "} {
		if !strings.HasPrefix(e[i], w) {
			t.Errorf("stderr line %d = %q, want prefix %q", i+1, e[i], w)
		}
	}
	if !strings.Contains(e[0], "end of input") || !strings.Contains(e[1], "header byte 0xff") || !strings.Contains(e[2], "hex") {
		t.Errorf("stderr does not say what went wrong:\n%s", errs)
	}
}

// TestDecodeTrailingBytes: bytes after a complete document (a Tesla's 00)
// decode fine, exit 0, and are reported on stderr.
func TestDecodeTrailingBytes(t *testing.T) {
	out, errs, code := runCLI(t, "", "decode", "--schema", "din", teslaContractAuthHex)
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if out != teslaContractAuthJSON+"\n" {
		t.Errorf("stdout %q, want %q", out, teslaContractAuthJSON)
	}
	if !strings.HasPrefix(errs, "line 1: ") || !strings.Contains(errs, "1 bytes after the end of the document: 00") {
		t.Errorf("stderr %q does not report the trailing byte", errs)
	}
}

func TestEncodeJSONLines(t *testing.T) {
	in := sessionSetupReqJSON + "\n" + serviceDiscoveryJSON + "\n" + teslaContractAuthJSON + "\n"
	out, errs, code := runCLI(t, in, "encode", "--schema", "din")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	want := sessionSetupReqHex + "\n" + serviceDiscoveryHex + "\n" + strings.TrimSuffix(teslaContractAuthHex, "00") + "\n"
	if out != want {
		t.Errorf("stdout\n%s\nwant\n%s", out, want)
	}
}

func TestEncodeBadLine(t *testing.T) {
	in := sessionSetupReqJSON + "\n" + `{"V2G_Message":{"Header":{"SessionID":"zz"}}}` + "\n" +
		`{"NoSuchElement":{}}` + "\n" + serviceDiscoveryJSON + "\n"
	out, errs, code := runCLI(t, in, "encode", "--schema", "din")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := []string{sessionSetupReqHex, serviceDiscoveryHex}
	if got := outLines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout %q, want %q", got, want)
	}
	e := outLines(errs)
	if len(e) != 2 || !strings.HasPrefix(e[0], "line 2: ") || !strings.HasPrefix(e[1], "line 3: ") {
		t.Errorf("stderr:\n%s", errs)
	}
}

func TestDecodeEncodeOtherSchemas(t *testing.T) {
	const sap = "8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040"
	const sapJSON = `{"supportedAppProtocolReq":{"AppProtocol":[{"ProtocolNamespace":"urn:din:70121:2012:MsgDef","VersionNumberMajor":2,"VersionNumberMinor":0,"SchemaID":1,"Priority":1}]}}`
	out, errs, code := runCLI(t, "", "decode", "--schema", "apphand", sap)
	if code != 0 || out != sapJSON+"\n" {
		t.Errorf("apphand decode: exit %d, %q, stderr %q", code, out, errs)
	}
	out, errs, code = runCLI(t, sapJSON+"\n", "encode", "--schema", "apphand")
	if code != 0 || out != sap+"\n" {
		t.Errorf("apphand encode: exit %d, %q, stderr %q", code, out, errs)
	}
	// ISO-2 through JSON and back.
	const iso2CPD = "809802022669991e4a686c109442418200c80840a01f000c203e804003000000"
	out, errs, code = runCLI(t, "", "decode", "--schema", "iso2", iso2CPD)
	if code != 0 || !strings.Contains(out, `"ChargeParameterDiscoveryReq"`) {
		t.Fatalf("iso2 decode: exit %d, %q, stderr %q", code, out, errs)
	}
	back, errs, code := runCLI(t, out, "encode", "--schema", "iso2")
	if code != 0 || back != iso2CPD+"\n" {
		t.Errorf("iso2 encode: exit %d, %q, stderr %q", code, back, errs)
	}
	// A truncated ISO-2 document fails at a bit position.
	_, errs, code = runCLI(t, "", "decode", "--schema", "iso2", iso2CPD[:20])
	if code != 1 || !strings.HasPrefix(errs, "line 1: bit ") {
		t.Errorf("truncated: exit %d, stderr %q", code, errs)
	}
}

func TestUnknownSchema(t *testing.T) {
	for _, cmd := range []string{"decode", "encode"} {
		out, errs, code := runCLI(t, "", cmd, "--schema", "iso3", sessionSetupReqHex)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2", cmd, code)
		}
		if out != "" || !strings.Contains(errs, `unknown schema "iso3"`) {
			t.Errorf("%s: stdout %q, stderr %q", cmd, out, errs)
		}
	}
	// No --schema at all.
	if _, _, code := runCLI(t, "", "decode", sessionSetupReqHex); code != 2 {
		t.Errorf("decode without --schema: exit %d, want 2", code)
	}
}

func TestDecodeHelp(t *testing.T) {
	for _, args := range [][]string{{"decode", "-h"}, {"encode", "-h"}, {"help", "decode"}} {
		_, errs, code := runCLI(t, "", args...)
		if code != 0 {
			t.Errorf("%v: exit %d, want 0", args, code)
		}
		if !strings.Contains(errs, "-schema") || !strings.Contains(errs, "iso20wpt") {
			t.Errorf("%v: usage does not explain --schema:\n%s", args, errs)
		}
	}
	// Unknown flags are usage errors.
	if _, _, code := runCLI(t, "", "decode", "--no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
}

// TestDecodeNotesOutOfRange: a value the schema forbids but the bits carry
// (SAScheduleTupleID 256 in its 8-bit field) decodes, exit 0, and stderr
// names it; encoding the JSON back fails on that field.
func TestDecodeNotesOutOfRange(t *testing.T) {
	doc := func(id uint16) []byte {
		b, err := iso2.Marshal(&iso2.Document{V2G_Message: &iso2.V2G_Message{
			Header: iso2.MessageHeaderType{SessionID: []byte{1, 2, 3, 4}},
			Body:   iso2.BodyType{PowerDeliveryReq: &iso2.PowerDeliveryReqType{SAScheduleTupleID: id}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// 1 is offset 0, 255 offset 254: the first differing bit starts the field.
	one, top := doc(1), doc(255)
	bit := 0
	for (one[bit/8]^top[bit/8])<<(bit%8)&0x80 == 0 {
		bit++
	}
	for i := bit; i < bit+8; i++ {
		one[i/8] |= 0x80 >> (i % 8)
	}
	out, errs, code := runCLI(t, "", "decode", "--schema", "iso2", hex.EncodeToString(one))
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	wantJSON := `{"V2G_Message":{"Header":{"SessionID":"01020304"},"Body":{"PowerDeliveryReq":{"ChargeProgress":"Start","SAScheduleTupleID":256}}}}`
	if out != wantJSON+"\n" {
		t.Errorf("stdout %q, want %q", out, wantJSON)
	}
	wantErr := fmt.Sprintf("line 1: bit %d: SAScheduleTupleID: value 256 outside [1, 255] (kept; the schema forbids it, so it does not encode back)\n", bit)
	if errs != wantErr {
		t.Errorf("stderr %q, want %q", errs, wantErr)
	}
	out, errs, code = runCLI(t, wantJSON+"\n", "encode", "--schema", "iso2")
	if code != 1 || out != "" || errs != "line 1: exi: PowerDeliveryReqType.SAScheduleTupleID: value 256 outside [1, 255]\n" {
		t.Errorf("encode: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestOverlongLines: a line over 1 MiB gets its own error naming the line
// and the limit, and nothing on stdout; the lines after it are
// read as usual, also when the overlong one is the last, without newline.
func TestOverlongLines(t *testing.T) {
	long := strings.Repeat("a", maxLine+1)
	exact := strings.Repeat("0", maxLine) // at the limit: read, then fails as a document
	wantErr := "longer than 1048576 bytes (1 MiB), the limit for one line; skipped"
	t.Run("decode", func(t *testing.T) {
		in := sessionSetupReqHex + "\n" + long + "\n" + serviceDiscoveryHex + "\r\n" + exact + "\n" + sessionSetupReqHex + "\n" + long
		out, errs, code := runCLI(t, in, "decode", "--schema", "din")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		want := []string{sessionSetupReqJSON, serviceDiscoveryJSON, sessionSetupReqJSON}
		if got := outLines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("stdout\n%s\nwant\n%s", out, strings.Join(want, "\n"))
		}
		e := outLines(errs)
		if len(e) != 3 || e[0] != "line 2: "+wantErr || !strings.HasPrefix(e[1], "line 4: bit ") || e[2] != "line 6: "+wantErr {
			t.Errorf("stderr:\n%s", errs)
		}
	})
	t.Run("encode", func(t *testing.T) {
		in := sessionSetupReqJSON + "\n" + long + "\n" + serviceDiscoveryJSON + "\n"
		out, errs, code := runCLI(t, in, "encode", "--schema", "din")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if want := sessionSetupReqHex + "\n" + serviceDiscoveryHex + "\n"; out != want {
			t.Errorf("stdout %q, want %q", out, want)
		}
		if errs != "line 2: "+wantErr+"\n" {
			t.Errorf("stderr %q", errs)
		}
	})
}

// endlessLine yields n bytes of 'a' and then a newline and one document,
// without holding them.
type endlessLine struct {
	n    int
	tail string
}

func (r *endlessLine) Read(p []byte) (int, error) {
	if r.n == 0 {
		if r.tail == "" {
			return 0, io.EOF
		}
		k := copy(p, r.tail)
		r.tail = r.tail[k:]
		return k, nil
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = 'a'
	}
	r.n -= k
	return k, nil
}

// TestOverlongLineMemory: an overlong line is skipped without being held:
// what decoding allocates does not grow with the line (up to 1 MiB of line
// buffer, whatever the line's length).
func TestOverlongLineMemory(t *testing.T) {
	alloc := func(n int) uint64 {
		in := &endlessLine{n: n, tail: "\n" + sessionSetupReqHex + "\n"}
		var out, errb bytes.Buffer
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		code := run([]string{"decode", "--schema", "din"}, in, &out, &errb)
		runtime.ReadMemStats(&after)
		if code != 1 || out.String() != sessionSetupReqJSON+"\n" || !strings.HasPrefix(errb.String(), "line 1: longer than") {
			t.Errorf("%d-byte line: exit %d, stdout %q, stderr %q", n, code, out.String(), errb.String())
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(2<<20), alloc(64<<20)
	t.Logf("allocated %d bytes for a 2 MiB line, %d for a 64 MiB one", small, large)
	if large > small+256<<10 || large > 8<<20 {
		t.Errorf("skipping a line allocates with its length: %d bytes for 2 MiB, %d for 64 MiB", small, large)
	}
}

// FuzzLines checks the line reader against a plain split: one call per
// line, in order, the text without its line ending, or errLineTooLong for
// a line over the limit, wherever the lines cross the read buffer.
func FuzzLines(f *testing.F) {
	f.Add([]byte(sessionSetupReqHex+"\n"+serviceDiscoveryHex+"\r\n"), 16)
	f.Add([]byte("abc\n\n"+strings.Repeat("x", 40)+"\ndef"), 8)
	f.Add([]byte(strings.Repeat("y", 100)), 20)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		if limit < 0 || limit > 64 {
			return
		}
		var want []string
		pieces := strings.Split(string(in), "\n")
		if pieces[len(pieces)-1] == "" {
			pieces = pieces[:len(pieces)-1]
		}
		for _, p := range pieces {
			p = strings.TrimSuffix(p, "\r")
			if len(p) > limit {
				p = "too long"
			}
			want = append(want, p)
		}
		var got []string
		err := readLines(bytes.NewReader(in), 16, limit, func(n int, line string, err error) {
			if n != len(got)+1 {
				t.Fatalf("line %d after %d lines", n, len(got))
			}
			if err == errLineTooLong {
				line = "too long"
			} else if err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			got = append(got, line)
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Fatalf("lines %q, want %q", got, want)
		}
	})
}

// TestDecodeErrorOnly: a document that does not decode gives its error on
// stderr and nothing on stdout, not an empty object after it.
func TestDecodeErrorOnly(t *testing.T) {
	for _, c := range []struct{ arg, stderr string }{
		{"ff", "line 1: bit 0: not an EXI stream: header byte 0xff\n"},
		{"809a020000", ""},
		{"xyz", "line 1: not hex: encoding/hex: invalid byte: U+0078 'x'\n"},
	} {
		out, errs, code := runCLI(t, "", "decode", "--schema", "din", c.arg)
		if code != 1 || out != "" || c.stderr != "" && errs != c.stderr || c.stderr == "" && (!strings.HasPrefix(errs, "line 1: bit 26: ") || strings.Count(errs, "\n") != 1) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1, nothing and %q", c.arg, code, out, errs, c.stderr)
		}
	}
}
