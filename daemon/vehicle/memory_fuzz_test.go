package vehicle

import (
	"encoding/json"
	"testing"
)

// id3File is a memory as Save writes it, of the VW ID.3 of EVerest's
// captures after two plug-ins with two MACs.
const id3File = `{"version":1,"cars":[{"id":"007dfa083117","name":"Volkswagen","random":true,
"fingerprint":{"offered":[{"namespace":"urn:din:70121:2012:MsgDef","major":2,"minor":0,"schema_id":1,"priority":2},
{"namespace":"urn:iso:15118:2:2013:MsgDef","major":2,"minor":0,"schema_id":0,"priority":1}],"protocol":"iso2",
"max_voltage_v":413,"max_current_a":500,"oui":"00:7d:fa"},"macs":["00:7d:fa:08:31:17","00:7d:fa:07:90:af"],
"first_seen":"2026-12-07T18:00:00Z","last_seen":"2026-12-07T19:00:00Z","plug_ins":2}]}`

// FuzzParseMemory: a memory file of any content is read or refused with
// ErrFormat, never a panic; what is read is within the bounds and saves
// back to the same cars.
func FuzzParseMemory(f *testing.F) {
	f.Add([]byte(id3File))
	f.Add([]byte(`{"version":1,"cars":[]}`))
	f.Add([]byte(`{"version":1,"cars":[{"id":"a"},{"id":"a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cars, err := parseMemory(data)
		if err != nil {
			return
		}
		if len(cars) > MaxRemembered {
			t.Fatalf("%d cars", len(cars))
		}
		b, err := json.Marshal(memoryFile{Version: 1, Cars: cars})
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseMemory(b)
		if err != nil || len(back) != len(cars) {
			t.Fatalf("saved back: %d cars, %v", len(back), err)
		}
	})
}

func TestParseMemoryID3(t *testing.T) {
	cars, err := parseMemory([]byte(id3File))
	if err != nil || len(cars) != 1 || cars[0].ID != "007dfa083117" || *cars[0].Fingerprint.MaxVoltageV != 413 || len(cars[0].MACs) != 2 {
		t.Fatalf("%+v, %v", cars, err)
	}
}
