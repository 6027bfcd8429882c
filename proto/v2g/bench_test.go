package v2g

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
)

// Real messages, embedded so the benchmarks run without ../shared:
//
//	SAP_Req                          Hyundai Ioniq's supportedAppProtocolReq (DIN only)
//	SAP_Res                          the charger's answer, pyPLC capture 2023-05-24, frame 112
//	DIN_SessionSetupReq              Hyundai Ioniq, pyPLC capture 2023-05-24
//	DIN_ChargeParameterDiscoveryReq  the same session
//	DIN_CurrentDemandReq/Res         Ioniq at an Alpitronic HYC150 (pyPLC capture
//	                                 spi_ioniq_alpiHYC150_..._2024-04-03, frames 689/690)
//	ISO2_ChargeParameterDiscoveryReq dSPACE reference session (dsV2Gshark ISO-2_AC_DS5366)
//	ISO2_CurrentDemandReq            dsV2Gshark ISO-2_DC_DS5366, frame 376
//	ISO2_ChargingStatusRes           dsV2Gshark ISO-2_AC_DS5366, frame 98
//	ISO20_SessionSetupReq            dsV2Gshark ISO-20_BPT_AC_DS5366_Josev, frame 75
//	ISO20_DC_ChargeLoopReq           EVerest libiso15118 test dc_charge_loop_req
var benchCases = []benchCase{
	mkBench("SAP_Req", "8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040",
		apphand.Unmarshal, apphand.Append, (*apphand.Decoder).Decode),
	mkBench("SAP_Res", "80400040",
		apphand.Unmarshal, apphand.Append, (*apphand.Decoder).Decode),
	mkBench("DIN_SessionSetupReq", "809a02000000000000000011d01811959401930c00",
		din.Unmarshal, din.Append, (*din.Decoder).Decode),
	mkBench("DIN_ChargeParameterDiscoveryReq", "809a02004080c1014181c210719000000ba04061a01e04070c84c02050a02000c243836804030909c0e05e0a60",
		din.Unmarshal, din.Append, (*din.Decoder).Decode),
	mkBench("DIN_CurrentDemandReq", "809a02000000000ca8919450d10000072040619002010285010004061a01e04070c84c0000c083f01c06041c006040a1404000",
		din.Unmarshal, din.Append, (*din.Decoder).Decode),
	mkBench("DIN_CurrentDemandRes", "809a02000000000ca8919450e000408000010286b0d800186b44008000060a1e80601030c98f01020387719000",
		din.Unmarshal, din.Append, (*din.Decoder).Decode),
	mkBench("ISO2_ChargeParameterDiscoveryReq", "809802022669991e4a686c109442418200c80840a01f000c203e804003000000",
		iso2.Unmarshal, iso2.Append, (*iso2.Decoder).Decode),
	mkBench("ISO2_CurrentDemandReq", "809802275de64d834b5d1f10d1000a0086141380201081f04600861413802041428270040003082694006107f1281081f04600",
		iso2.Unmarshal, iso2.Append, (*iso2.Decoder).Decode),
	mkBench("ISO2_ChargingStatusRes", "809802022669991e4a686c10c000256968c0c0c0c0c00000030c8652000000",
		iso2.Unmarshal, iso2.Append, (*iso2.Decoder).Decode),
	mkBench("ISO20_SessionSetupReq", "808c0400000000000000000b2f3f7c70620b2ba6a4ab1899199a1a9b1b9c1c9820a121a222ac00",
		iso20.Unmarshal, iso20.Append, (*iso20.Decoder).Decode),
	mkBench("ISO20_DC_ChargeLoopReq", "8034041ea65fc99ba76c4d8cdbfe1b6062810012006464000a02002400ca",
		dc.Unmarshal, dc.Append, (*dc.Decoder).Decode),
}

// benchCase is one message with its schema set's typed functions bound.
type benchCase struct {
	name string
	in   []byte
	// decode benchmarks a reused Decoder, as a session decodes; unmarshal
	// benchmarks Unmarshal into new memory; encode benchmarks Append into a
	// reused buffer; appendAllocs and decoderAllocs measure the allocations
	// of Append and of the reused Decoder.
	decode        func(*testing.B)
	unmarshal     func(*testing.B)
	encode        func(*testing.B)
	appendAllocs  func(*testing.T) float64
	decoderAllocs func(*testing.T) float64
}

func mkBench[D, Dec any](name, h string, dec func([]byte, *D) (int, error), app func([]byte, *D) ([]byte, error),
	reuse func(*Dec, []byte) (*D, int, error)) benchCase {
	in, err := hex.DecodeString(h)
	if err != nil {
		panic(name + ": " + err.Error())
	}
	// decoded returns the document, checking it takes all of in and
	// encodes back to it.
	decoded := func(tb testing.TB) *D {
		tb.Helper()
		d := new(D)
		n, err := dec(in, d)
		if err != nil || n != len(in) {
			tb.Fatalf("%s: decoded %d of %d bytes: %v", name, n, len(in), err)
		}
		out, err := app(nil, d)
		if err != nil || !bytes.Equal(out, in) {
			tb.Fatalf("%s: re-encoded %x, %v", name, out, err)
		}
		return d
	}
	return benchCase{
		name: name,
		in:   in,
		decode: func(b *testing.B) {
			decoded(b)
			dc := new(Dec)
			if _, _, err := reuse(dc, in); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, _, err := reuse(dc, in); err != nil {
					b.Fatal(err)
				}
			}
			reportPerByte(b, len(in))
		},
		decoderAllocs: func(t *testing.T) float64 {
			dc := new(Dec)
			var out []byte
			var err error
			n := testing.AllocsPerRun(100, func() {
				var d *D
				if d, _, err = reuse(dc, in); err == nil {
					out, err = app(out[:0], d)
				}
			})
			if err != nil || !bytes.Equal(out, in) {
				t.Errorf("%s: reused Decoder gave %x, %v", name, out, err)
			}
			return n
		},
		unmarshal: func(b *testing.B) {
			decoded(b)
			d := new(D)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := dec(in, d); err != nil {
					b.Fatal(err)
				}
			}
			reportPerByte(b, len(in))
		},
		encode: func(b *testing.B) {
			d := decoded(b)
			buf := make([]byte, 0, 512)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				var err error
				if buf, err = app(buf[:0], d); err != nil {
					b.Fatal(err)
				}
			}
			reportPerByte(b, len(in))
		},
		appendAllocs: func(t *testing.T) float64 {
			d := decoded(t)
			var buf []byte // grown by AllocsPerRun's warm-up run, then reused
			var err error
			n := testing.AllocsPerRun(100, func() {
				buf, err = app(buf[:0], d)
			})
			if err != nil || !bytes.Equal(buf, in) {
				t.Errorf("%s: Append gave %x, %v", name, buf, err)
			}
			return n
		},
	}
}

func reportPerByte(b *testing.B, n int) {
	if b.N > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/byte")
	}
}

// BenchmarkDecode decodes typical messages of each schema set with a
// reused Decoder, as a session does (0 allocs/op).
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, c.decode)
	}
}

// BenchmarkUnmarshal decodes them into new memory each time.
func BenchmarkUnmarshal(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, c.unmarshal)
	}
}

// BenchmarkEncode encodes them into a reused buffer (0 allocs/op).
func BenchmarkEncode(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, c.encode)
	}
}

// TestDecodeAllocs: decoding with a reused Decoder allocates nothing, and
// what it decodes encodes back to the message.
func TestDecodeAllocs(t *testing.T) {
	for _, c := range benchCases {
		if n := c.decoderAllocs(t); n != 0 {
			t.Errorf("%s: reused Decoder: %v allocations, want 0", c.name, n)
		}
	}
}

// TestAppendAllocs: encoding into a buffer with room allocates nothing.
func TestAppendAllocs(t *testing.T) {
	for _, c := range benchCases {
		if n := c.appendAllocs(t); n != 0 {
			t.Errorf("%s: Append into a reused buffer: %v allocations, want 0", c.name, n)
		}
	}
}

// smallestDocument returns the shortest document of a schema set whose
// root is a zero value: its decoding is the fixed cost of a document
// (reset, header, root, end).
func smallestDocument(tb testing.TB, c Codec) (root string, b []byte) {
	doc := reflect.ValueOf(c.New()).Elem()
	for i := range doc.NumField() {
		f := doc.Field(i)
		if f.Kind() != reflect.Pointer {
			continue
		}
		d := reflect.New(doc.Type())
		d.Elem().Field(i).Set(reflect.New(f.Type().Elem()))
		out, err := c.Append(nil, d.Interface())
		if err == nil && (b == nil || len(out) < len(b)) {
			root, b = doc.Type().Field(i).Name, out
		}
	}
	if b == nil {
		tb.Fatalf("%s: no document of a zero root encodes", c.Name)
	}
	return root, b
}

// BenchmarkDocumentCost decodes the smallest document of each schema set
// with a reused Decoder: what every message costs before its content.
func BenchmarkDocumentCost(b *testing.B) {
	for _, name := range []string{"apphand", "din", "iso2", "iso20", "iso20dc"} {
		c, _ := Lookup(name)
		root, in := smallestDocument(b, c)
		b.Run(name, func(b *testing.B) {
			dec := c.NewDecoder()
			if _, n, err := dec(in); err != nil || n != len(in) {
				b.Fatalf("%s %x: %d, %v", root, in, n, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				dec(in)
			}
		})
	}
}

// TestSmallestDocuments pins the documents BenchmarkDocumentCost decodes.
func TestSmallestDocuments(t *testing.T) {
	want := map[string]string{
		"apphand": "SupportedAppProtocolRes 804080", // ResponseCode 0, no SchemaID
		"din":     "BodyElement 8006",               // root code 3 of 7 bits, an empty BodyBaseType
		"iso2":    "BodyElement 800a",
		"iso20":   "CLReqControlMode 8010",
		"iso20dc": "CLReqControlMode 8018",
	}
	for _, name := range []string{"apphand", "din", "iso2", "iso20", "iso20dc"} {
		c, _ := Lookup(name)
		root, b := smallestDocument(t, c)
		if w := want[name]; w != root+" "+hex.EncodeToString(b) {
			t.Errorf("%s: %s %x, want %s", name, root, b, w)
		}
	}
}
