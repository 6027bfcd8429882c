package v2g

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/tools/capture"
)

// schemaOfPayload picks the schema set of a V2GTP payload: the payload type
// names ISO-20's sets; for 0x8001 the document grammar's first code tells
// SupportedAppProtocol (2 bits), DIN (V2G_Message = 77 of 7 bits) and ISO-2
// (76) apart.
func schemaOfPayload(t v2gtp.PayloadType, b []byte) string {
	switch t {
	case v2gtp.TypeISO20CommonMessages:
		return "iso20"
	case v2gtp.TypeISO20AC:
		return "iso20ac"
	case v2gtp.TypeISO20DC:
		return "iso20dc"
	case v2gtp.TypeISO20ACDP:
		return "iso20acdp"
	case v2gtp.TypeISO20WPT:
		return "iso20wpt"
	case v2gtp.TypeEXI:
		if len(b) < 2 {
			return ""
		}
		switch {
		case b[1]>>6 <= 1:
			return "apphand"
		case b[1]>>1 == 77:
			return "din"
		case b[1]>>1 == 76:
			return "iso2"
		}
	}
	return ""
}

// TestCaptures decodes and re-encodes every EXI message of every capture:
// TCP streams reassembled, V2GTP split, by the capture package.
func TestCaptures(t *testing.T) {
	root := shared.Path(t, "captures")
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no captures under", root)
	}
	total := 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		t.Run(rel, func(t *testing.T) {
			c, err := capture.Open(f)
			switch {
			case errors.Is(err, io.ErrUnexpectedEOF) && c != nil:
				t.Logf("capture cut short, reading the frames before the cut: %v", err)
			case err != nil:
				t.Fatal(err)
			}
			msgs, streams := capture.V2GTP(c.Frames())
			counts := map[string]int{}
			for _, m := range msgs {
				if m.Header.Type == v2gtp.TypeSDPRequest || m.Header.Type == v2gtp.TypeSDPResponse {
					continue
				}
				schema := schemaOfPayload(m.Header.Type, m.Payload)
				if schema == "" {
					t.Errorf("frame %d: cannot tell the schema of payload type %#x %x", m.Frame, uint16(m.Header.Type), m.Payload)
					continue
				}
				counts[schema]++
				_, rest, err := roundTrip(t, schema, m.Payload)
				switch {
				case err != nil:
					t.Errorf("frame %d (%s, %s -> %s): %v", m.Frame, schema, m.Src, m.Dst, err)
				case len(rest) > 0:
					t.Logf("frame %d: %d bytes after the document: %x", m.Frame, len(rest), rest)
				}
			}
			for _, s := range streams {
				t.Logf("stream not decoded: %+v", s)
			}
			t.Logf("EXI messages: %v", counts)
			for _, n := range counts {
				total += n
			}
		})
	}
	t.Logf("%d EXI messages in %d captures", total, len(files))
}
