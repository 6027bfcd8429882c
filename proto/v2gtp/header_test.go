package v2gtp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Header
		err  error
	}{
		{"01fe800100000022", Header{TypeEXI, 0x22}, nil},
		{"01fe900000000002", Header{TypeSDPRequest, 2}, nil},
		{"01fe900100000014", Header{TypeSDPResponse, 20}, nil},
		{"01fe8004ffffffff", Header{TypeISO20DC, 0xFFFFFFFF}, nil},
		{"01fe1234000000000000", Header{0x1234, 0}, nil}, // unknown types are the caller's business
		{"", Header{}, ErrShortHeader},
		{"01fe8001000000", Header{}, ErrShortHeader},
		{"02fd800100000004", Header{}, ErrVersion},
		{"01ff800100000004", Header{}, ErrVersion},
		{"16030300c3010000", Header{}, ErrVersion}, // a TLS record
	} {
		h, err := ParseHeader(unhex(t, tc.in))
		if !errors.Is(err, tc.err) || h != tc.want {
			t.Errorf("ParseHeader(%s) = %+v, %v; want %+v, %v", tc.in, h, err, tc.want, tc.err)
		}
	}
	_, err := ParseHeader(unhex(t, "16030300c3010000"))
	if want := "v2gtp: version bytes are not 01 fe: got 16 03, a TLS record (the peer expects TLS)"; err == nil || err.Error() != want {
		t.Errorf("TLS record: %v, want %q", err, want)
	}
}

func TestAppend(t *testing.T) {
	got := AppendHeader([]byte{0xAA}, Header{TypeISO20CommonMessages, 0x01020304})
	if want := unhex(t, "aa01fe800201020304"); !bytes.Equal(got, want) {
		t.Errorf("AppendHeader = %x, want %x", got, want)
	}
	got = AppendMessage(nil, TypeEXI, unhex(t, "80400040"))
	if want := unhex(t, "01fe80010000000480400040"); !bytes.Equal(got, want) {
		t.Errorf("AppendMessage = %x, want %x", got, want)
	}
	got = AppendMessage(nil, TypeSDPRequest, nil)
	if want := unhex(t, "01fe900000000000"); !bytes.Equal(got, want) {
		t.Errorf("AppendMessage(empty) = %x, want %x", got, want)
	}
}

func TestSplit(t *testing.T) {
	// A SupportedAppProtocolRes and a DIN SessionSetupReq joined in one
	// segment, then the first 3 bytes of the next header.
	b := unhex(t, "01fe80010000000480400040"+"01fe800100000015809a02000000000000000011d01811959401930c00"+"01fe80")
	h, p, rest, err := Split(b)
	if err != nil || h != (Header{TypeEXI, 4}) || !bytes.Equal(p, unhex(t, "80400040")) {
		t.Fatalf("first: %+v %x %v", h, p, err)
	}
	if cap(p) != len(p) {
		t.Errorf("payload cap %d: appending to it would overwrite the next message", cap(p))
	}
	h, p, rest, err = Split(rest)
	if err != nil || h.Length != 0x15 || !bytes.Equal(p, unhex(t, "809a02000000000000000011d01811959401930c00")) {
		t.Fatalf("second: %+v %x %v", h, p, err)
	}
	if _, _, r, err := Split(rest); !errors.Is(err, ErrShortHeader) || len(r) != 3 {
		t.Errorf("tail: %v, rest %x", err, r)
	}
	if _, _, r, err := Split(unhex(t, "01fe80010000000480")); !errors.Is(err, ErrTruncated) || len(r) != 9 {
		t.Errorf("truncated: %v, rest %x", err, r)
	}
	if _, _, _, err := Split(unhex(t, "01fe8001ffffffff00")); !errors.Is(err, ErrTruncated) {
		t.Errorf("huge length: %v", err)
	}
}

func TestPayloadTypeString(t *testing.T) {
	for tp, want := range map[PayloadType]string{
		TypeEXI: "EXI", TypeISO20WPT: "ISO20WPT", TypeSDPResponse: "SDPResponse", 0x8100: "PayloadType(0x8100)",
	} {
		if got := tp.String(); got != want {
			t.Errorf("%04x: %q, want %q", uint16(tp), got, want)
		}
	}
	if !TypeISO20ACDP.Known() || PayloadType(0x8007).Known() || PayloadType(0x9002).Known() {
		t.Error("Known is wrong")
	}
}
