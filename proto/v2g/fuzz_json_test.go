package v2g

import (
	"encoding/json"
	"testing"
)

// FuzzJSON feeds hostile JSON to the encoding side, the path of
// `ccslink encode`: unmarshalling may fail, but encoding whatever it
// produced either fails with an error or gives a document that decodes
// back to the same JSON. It never panics. Seeds are the JSON forms of the
// shared DIN and ISO-2 frames.
func FuzzJSON(f *testing.F) {
	for _, schema := range []string{"din", "iso2"} {
		c, _ := Lookup(schema)
		seeds := fuzzSeeds(f, schema)
		if len(seeds) > 200 {
			seeds = seeds[:200]
		}
		for _, b := range seeds {
			doc := c.New()
			if _, err := c.Decode(b, doc); err != nil {
				continue
			}
			j, err := json.Marshal(doc)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(schema == "iso2", j)
		}
	}
	f.Add(false, []byte(`{"V2G_Message":{"Header":{"SessionID":"00"},"Body":{"SessionStopReq":{}}}}`))
	// A signature with wildcard and mixed content (exi.Mixed items).
	f.Add(true, []byte(`{"V2G_Message":{"Header":{"SessionID":"00","Signature":{"SignedInfo":{"CanonicalizationMethod":{"Algorithm":"a","Any":[{"After":0,"Text":" "}]},"SignatureMethod":{"Algorithm":"b"},"Reference":[{"Transforms":{"Transform":[{"Algorithm":"c","XPath":["x"],"Any":[{"After":0,"Elem":{"Name":{"Space":"urn:x","Local":"y"},"Attrs":[{"Name":{"Local":"z"},"Value":"1"}],"Content":[{"Text":"t"},{"Elem":{"Name":{"Space":"urn:x","Local":"y"}}}]}},{"After":1,"Text":"u"}]}]},"DigestMethod":{"Algorithm":"d"},"DigestValue":"00"}]},"SignatureValue":{"Value":"00"}}},"Body":{"SessionStopReq":{"ChargingSession":"Terminate"}}}}`))
	f.Fuzz(func(t *testing.T, iso2 bool, data []byte) {
		schema := "din"
		if iso2 {
			schema = "iso2"
		}
		c, _ := Lookup(schema)
		doc := c.New()
		if json.Unmarshal(data, doc) != nil {
			return
		}
		out, err := c.Append(nil, doc)
		if err != nil {
			return
		}
		back := c.New()
		if _, err := c.Decode(out, back); err != nil {
			t.Fatalf("our own encoding does not decode: %v\n%x", err, out)
		}
		j1, _ := json.Marshal(doc)
		j2, _ := json.Marshal(back)
		if string(j1) != string(j2) {
			t.Fatalf("JSON changed across encode/decode:\n%s\n%s", j1, j2)
		}
	})
}
