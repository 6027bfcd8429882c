package v2gtp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestSDPRequest(t *testing.T) {
	q, err := ParseSDPRequest([]byte{0x10, 0x00})
	if err != nil || q != (SDPRequest{SecurityNone, TransportTCP}) {
		t.Fatalf("ParseSDPRequest = %+v, %v", q, err)
	}
	got := AppendMessage(nil, TypeSDPRequest, q.Append(nil))
	if want := unhex(t, "01fe9000000000021000"); !bytes.Equal(got, want) {
		t.Errorf("encoded %x, want %x", got, want)
	}
	for _, bad := range []string{"", "10", "100000"} {
		if _, err := ParseSDPRequest(unhex(t, bad)); !errors.Is(err, ErrSDPLength) {
			t.Errorf("ParseSDPRequest(%s) accepted", bad)
		}
	}
}

func TestSDPResponse(t *testing.T) {
	// The answer of pyPLC to a Hyundai Ioniq (captures/pyplc, 2023-05-24).
	const frame = "01fe900100000014" + "fe80000000000000c69083f3fbcb980e" + "3b0e" + "10" + "00"
	want := SDPResponse{
		IP:        netip.MustParseAddr("fe80::c690:83f3:fbcb:980e"),
		Port:      15118,
		Security:  SecurityNone,
		Transport: TransportTCP,
	}
	h, p, _, err := Split(unhex(t, frame))
	if err != nil || h.Type != TypeSDPResponse {
		t.Fatalf("Split: %+v %v", h, err)
	}
	s, err := ParseSDPResponse(p)
	if err != nil || s != want {
		t.Fatalf("ParseSDPResponse = %+v, %v; want %+v", s, err, want)
	}
	if got := AppendMessage(nil, TypeSDPResponse, s.Append(nil)); !bytes.Equal(got, unhex(t, frame)) {
		t.Errorf("encoded %x, want %s", got, frame)
	}
	// A zone does not fit in 16 bytes; it is dropped, not an error.
	s.IP = s.IP.WithZone("eth1")
	if got := s.Append(nil); !bytes.Equal(got, p) {
		t.Errorf("with zone: %x", got)
	}
	for _, n := range []int{0, 19, 21} {
		if _, err := ParseSDPResponse(make([]byte, n)); !errors.Is(err, ErrSDPLength) {
			t.Errorf("ParseSDPResponse accepted %d bytes", n)
		}
	}
}
