package capture

import (
	"net/netip"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
)

func TestFirstFrame(t *testing.T) {
	c, err := Open(shared.Path(t, "captures", "dsv2gshark", "ISO-20_TLS13_DC_DS5366_Josev.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	_, streams := V2GTP(c.Frames())
	var got []int
	for _, s := range streams {
		if s.Reason == ReasonTLS {
			got = append(got, FirstFrame(c.Frames(), s))
		}
	}
	// The car's ClientHello, then the charger's ServerHello.
	if len(got) != 2 || got[0] != 73 || got[1] != 75 {
		t.Fatalf("TLS streams start at frames %v, want [73 75]", got)
	}
	none := Stream{Transport: "tcp", Src: netip.MustParseAddrPort("[fe80::1]:1"), Dst: netip.MustParseAddrPort("[fe80::2]:2")}
	if f := FirstFrame(c.Frames(), none); f != -1 {
		t.Errorf("FirstFrame of a stream not in the capture = %d, want -1", f)
	}
}
