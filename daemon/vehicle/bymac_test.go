package vehicle

import "testing"

func TestOfMAC(t *testing.T) {
	pinned := Known{Name: "ID.3", ID: "id3", Strategy: "identify-only", Patterns: []Pattern{{Value: MAC{0x00, 0x7d, 0xfa}, Mask: MAC{0xff, 0xff, 0xff}}}}
	r := New([]Known{pinned}, nil)
	for _, tc := range []struct {
		name  string
		mac   MAC
		ok    bool
		id    string
		known bool
		vw    bool
	}{
		{"a pattern of the cars list", MAC{0x00, 0x7d, 0xfa, 0x12, 0x34, 0x56}, true, "id3", true, true},
		{"a locally administered MAC: random", MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, false, "", false, false},
		{"a fixed MAC: its hex", MAC{0x00, 0x1e, 0xc0, 0x01, 0x02, 0x03}, true, "001ec0010203", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := r.OfMAC(tc.mac)
			if ok != tc.ok || b.ID != tc.id || (b.Known != nil) != tc.known || b.VWGroup != tc.vw {
				t.Fatalf("OfMAC(%v) = %+v, %v", tc.mac, b, ok)
			}
			if tc.known && b.Known.Strategy != "identify-only" {
				t.Fatalf("pin %q", b.Known.Strategy)
			}
		})
	}
	// VW group's random block without a pattern: known too late.
	if b, ok := New(nil, nil).OfMAC(MAC{0x00, 0x7d, 0xfa, 0x12, 0x34, 0x56}); ok || !b.VWGroup || b.ID != "" {
		t.Fatalf("random VW MAC: %+v %v", b, ok)
	}
}
