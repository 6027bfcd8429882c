package v2g

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
)

// sessionFrames returns the labelled frames of the shared tables per
// capture file, in capture order, with their schema's codec.
type labelled struct {
	file, frame, schema, message string
	exi                          []byte
	codec                        Codec
}

func sessionFrames(t *testing.T) map[string][]labelled {
	dir := shared.Path(t, "vectors")
	files, _ := filepath.Glob(filepath.Join(dir, "*_labeled*.tsv"))
	if len(files) == 0 {
		t.Fatal("no labelled frame tables in", dir)
	}
	out := map[string][]labelled{}
	for _, f := range files {
		for _, r := range readFrameTable(t, f) {
			c, ok := Lookup(r["schema"])
			if !ok {
				continue
			}
			b, err := hex.DecodeString(r["exi_hex"])
			if err != nil {
				t.Fatalf("%s frame %s: bad hex", r["file"], r["frame"])
			}
			out[r["file"]] = append(out[r["file"]], labelled{r["file"], r["frame"], r["schema"], r["message"], b, c})
		}
	}
	return out
}

// TestDecoderSessions decodes every captured session with one Decoder per
// schema set, message after message as a charger does, and checks each
// document against a fresh Unmarshal of the same bytes and against its
// bytes re-encoded: nothing of an earlier message may show through.
func TestDecoderSessions(t *testing.T) {
	n := 0
	for file, frames := range sessionFrames(t) {
		decs := map[string]func([]byte) (any, int, error){}
		for _, f := range frames {
			dec := decs[f.codec.Name]
			if dec == nil {
				dec = f.codec.NewDecoder()
				decs[f.codec.Name] = dec
			}
			fresh := f.codec.New()
			wantN, wantErr := f.codec.Decode(f.exi, fresh)
			doc, gotN, err := dec(f.exi)
			if (err != nil) != (wantErr != nil) || gotN != wantN {
				t.Errorf("%s frame %s: Decode %d, %v; Unmarshal %d, %v", file, f.frame, gotN, err, wantN, wantErr)
				continue
			}
			got, _ := json.Marshal(doc)
			want, _ := json.Marshal(fresh)
			if !bytes.Equal(got, want) {
				t.Errorf("%s frame %s (%s): reused decoding gave\n%s\nfresh\n%s", file, f.frame, f.message, got, want)
				continue
			}
			if err != nil {
				continue // the same partial document, checked above
			}
			out, err := f.codec.Append(nil, doc)
			if err != nil || !bytes.Equal(out, f.exi[:gotN]) {
				t.Errorf("%s frame %s (%s): re-encoded %x, %v; want %x", file, f.frame, f.message, out, err, f.exi[:gotN])
			}
			n++
		}
	}
	t.Logf("%d frames decoded with reused decoders", n)
	if n < 5000 {
		t.Errorf("only %d frames", n)
	}
}

// typical are the messages of a session that a reused Decoder must decode
// without allocating.
var typical = map[string]bool{
	"supportedAppProtocolReq": true, "supportedAppProtocolRes": true,
	"SessionSetupReq": true, "SessionSetupRes": true,
	"ChargeParameterDiscoveryReq": true, "ChargeParameterDiscoveryRes": true,
	"CurrentDemandReq": true, "CurrentDemandRes": true,
	"ChargingStatusReq": true, "ChargingStatusRes": true,
	"DC_ChargeLoopReq": true, "DC_ChargeLoopRes": true,
	"AC_ChargeLoopReq": true, "AC_ChargeLoopRes": true,
}

// TestDecoderAllocs: once a Decoder has decoded a session's messages,
// decoding each typical one again allocates nothing.
func TestDecoderAllocs(t *testing.T) {
	checked := map[string]int{}
	for file, frames := range sessionFrames(t) {
		decs := map[string]func([]byte) (any, int, error){}
		for _, f := range frames {
			if decs[f.codec.Name] == nil {
				decs[f.codec.Name] = f.codec.NewDecoder()
			}
			decs[f.codec.Name](f.exi) // the session once, to grow the memory
		}
		seen := map[string]bool{}
		for _, f := range frames {
			if !typical[f.message] || seen[f.schema+f.message] {
				continue
			}
			seen[f.schema+f.message] = true
			dec := decs[f.codec.Name]
			var err error
			allocs := testing.AllocsPerRun(20, func() { _, _, err = dec(f.exi) })
			if err != nil {
				continue // frames that do not decode are tested elsewhere
			}
			if allocs != 0 {
				t.Errorf("%s frame %s (%s %s): %v allocations, want 0", file, f.frame, f.schema, f.message, allocs)
			}
			checked[f.schema+" "+f.message]++
		}
	}
	t.Logf("checked: %v", checked)
	for _, m := range []string{"apphand supportedAppProtocolReq", "din SessionSetupReq", "din ChargeParameterDiscoveryRes", "din CurrentDemandReq", "iso2 ChargingStatusRes", "iso2 CurrentDemandReq"} {
		if checked[m] == 0 {
			t.Errorf("no %s checked", m)
		}
	}
}
