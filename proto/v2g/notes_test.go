package v2g

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/exi"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
)

// labeledFrame returns the EXI bytes of one frame of a shared labelled table.
func labeledFrame(t *testing.T, table, file, frame string) []byte {
	t.Helper()
	for _, r := range readFrameTable(t, filepath.Join(shared.Path(t, "vectors"), table)) {
		if r["file"] == file && r["frame"] == frame {
			b, err := hex.DecodeString(r["exi_hex"])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("%s: no frame %s of %s", table, frame, file)
	return nil
}

// TestDecodeKeepsOutOfRange takes a real ISO-2 PowerDeliveryReq, sets its
// SAScheduleTupleID (SAIDType 1..255, an 8-bit field holding value-1) to
// all ones, 256, as a car sends it: the message decodes, keeps 256 and
// notes it; encoding it back fails naming the field.
func TestDecodeKeepsOutOfRange(t *testing.T) {
	orig := labeledFrame(t, "dsV2Gshark_v2gtp_frames_labeled.tsv", "ISO-2_DC_DS5366.pcapng", "367")
	var d iso2.Document
	n, notes, err := iso2.UnmarshalWithNotes(orig, &d)
	if err != nil || n != len(orig) || notes != nil {
		t.Fatalf("real frame: %d of %d bytes, notes %v, %v", n, len(orig), notes, err)
	}
	pd := d.V2G_Message.Body.PowerDeliveryReq
	if pd == nil || pd.SAScheduleTupleID != 1 {
		t.Fatalf("real frame: %+v, want a PowerDeliveryReq with SAScheduleTupleID 1", pd)
	}

	// Where the field lies: encode 255 (offset 254, 11111110) and compare
	// with 1 (offset 0); the first differing bit is the field's first.
	pd.SAScheduleTupleID = 255
	b255, err := iso2.Append(nil, &d)
	if err != nil || len(b255) != len(orig) {
		t.Fatalf("SAScheduleTupleID 255: %x, %v", b255, err)
	}
	bit := -1
	for i := 0; i < len(orig)*8 && bit < 0; i++ {
		if (orig[i/8]^b255[i/8])<<(i%8)&0x80 != 0 {
			bit = i
		}
	}
	if bit < 0 {
		t.Fatal("255 encodes like 1")
	}
	mut := append([]byte(nil), orig...)
	for i := bit; i < bit+8; i++ {
		mut[i/8] |= 0x80 >> (i % 8)
	}
	t.Logf("SAScheduleTupleID at bit %d: %x -> %x", bit, orig, mut)

	var m iso2.Document
	n, notes, err = iso2.UnmarshalWithNotes(mut, &m)
	if err != nil || n != len(mut) {
		t.Fatalf("mutated frame: %d of %d bytes, %v", n, len(mut), err)
	}
	if got := m.V2G_Message.Body.PowerDeliveryReq.SAScheduleTupleID; got != 256 {
		t.Errorf("SAScheduleTupleID %d, want 256 kept", got)
	}
	want := []exi.Note{{Bit: bit, Field: "SAScheduleTupleID", Msg: "value 256 outside [1, 255]"}}
	if len(notes) != 1 || notes[0] != want[0] {
		t.Errorf("notes %+v, want %+v", notes, want)
	}
	// Everything else decodes as in the real frame.
	m.V2G_Message.Body.PowerDeliveryReq.SAScheduleTupleID = 1
	pd.SAScheduleTupleID = 1
	if a, b := mustJSON(t, &d), mustJSON(t, &m); a != b {
		t.Errorf("mutated frame decodes differently elsewhere:\n%s\n%s", b, a)
	}
	// Plain Unmarshal accepts it too, silently.
	if _, err := iso2.Unmarshal(mut, &m); err != nil || m.V2G_Message.Body.PowerDeliveryReq.SAScheduleTupleID != 256 {
		t.Errorf("Unmarshal: %v", err)
	}

	// Encoding stays strict.
	out, err := iso2.Append([]byte{0xAA}, &m)
	var se *exi.SchemaError
	if !errors.As(err, &se) || se.Field != "PowerDeliveryReqType.SAScheduleTupleID" || se.Msg != "value 256 outside [1, 255]" {
		t.Errorf("re-encoding 256: %v, want a SchemaError on PowerDeliveryReqType.SAScheduleTupleID", err)
	}
	if err != nil && err.Error() != "exi: PowerDeliveryReqType.SAScheduleTupleID: value 256 outside [1, 255]" {
		t.Errorf("error text %q", err)
	}
	if string(out) != "\xaa" {
		t.Errorf("Append returned %x on error, want dst", out)
	}
}

// TestDecodeKeepsEnumPastLast: an enumeration index the bits can carry but
// the schema does not name (ChargeProgress has 3 values in 2 bits) is kept,
// noted, marshals to JSON by number and is refused by Append.
func TestDecodeKeepsEnumPastLast(t *testing.T) {
	orig := labeledFrame(t, "dsV2Gshark_v2gtp_frames_labeled.tsv", "ISO-2_DC_DS5366.pcapng", "367")
	var d iso2.Document
	if _, err := iso2.Unmarshal(orig, &d); err != nil {
		t.Fatal(err)
	}
	if d.V2G_Message.Body.PowerDeliveryReq.ChargeProgress != iso2.ChargeProgressStart {
		t.Fatalf("ChargeProgress %v, want Start", d.V2G_Message.Body.PowerDeliveryReq.ChargeProgress)
	}
	// Start is index 0; Renegotiate (2) sets the first of the two bits.
	d.V2G_Message.Body.PowerDeliveryReq.ChargeProgress = iso2.ChargeProgressRenegotiate
	b2, err := iso2.Append(nil, &d)
	if err != nil {
		t.Fatal(err)
	}
	bit := -1
	for i := 0; i < len(orig)*8 && bit < 0; i++ {
		if (orig[i/8]^b2[i/8])<<(i%8)&0x80 != 0 {
			bit = i
		}
	}
	mut := append([]byte(nil), b2...)
	mut[(bit+1)/8] |= 0x80 >> ((bit + 1) % 8) // index 3
	var m iso2.Document
	_, notes, err := iso2.UnmarshalWithNotes(mut, &m)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.V2G_Message.Body.PowerDeliveryReq.ChargeProgress; got != 3 || got.String() != "ChargeProgressType(3)" {
		t.Errorf("ChargeProgress %d %q, want 3 kept", got, got)
	}
	want := exi.Note{Bit: bit, Field: "ChargeProgress", Msg: "enumeration index 3 past the last of 3 values"}
	if len(notes) != 1 || notes[0] != want {
		t.Errorf("notes %+v, want %+v", notes, want)
	}
	if js := mustJSON(t, &m); !strings.Contains(js, `"ChargeProgress":"ChargeProgressType(3)"`) {
		t.Errorf("JSON %s", js)
	}
	_, err = iso2.Marshal(&m)
	var se *exi.SchemaError
	if !errors.As(err, &se) || se.Msg != "invalid ChargeProgressType value 3 (it has 3)" {
		t.Errorf("re-encoding index 3: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDecodeNotesVectors: tux-evse's certificate responses carry an eMAID of
// 23 characters (maxLength 15); they decode with a note and do not encode.
func TestDecodeNotesVectors(t *testing.T) {
	found := 0
	for _, v := range readVectors(t) {
		k := v.key()
		if k != "iso2-test.rs: certificate_install_response" && k != "iso2-test.rs: certificate_update_response" {
			continue
		}
		found++
		_, b, _ := schemaOf(v)
		var d iso2.Document
		_, notes, err := iso2.UnmarshalWithNotes(b, &d)
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		if len(notes) != 1 || notes[0].Field != "EMAIDType" || notes[0].Msg != "string of 23 characters, schema allows 15" {
			t.Errorf("%s: notes %+v", k, notes)
		}
		_, err = iso2.Marshal(&d)
		var se *exi.SchemaError
		if !errors.As(err, &se) || se.Field != "EMAIDType.Value" {
			t.Errorf("%s: encoding: %v", k, err)
		}
	}
	if found != 2 {
		t.Errorf("found %d of the 2 vectors", found)
	}
}
