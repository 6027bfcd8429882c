package homeplug_test

import (
	"testing"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// benchCases are the two messages the EVSE handles most: the EV's request
// that starts matching and the attenuation report with 58 groups.
func benchCases() []goldenCase {
	var out []goldenCase
	for _, c := range goldenCases() {
		if c.name == "CM_SLAC_PARM.REQ" || c.name == "CM_ATTEN_CHAR.IND" {
			out = append(out, c)
		}
	}
	return out
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases() {
		frame := c.frame()
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := homeplug.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodePayload decodes into a reused message, as a hot loop would.
func BenchmarkDecodePayload(b *testing.B) {
	for _, c := range benchCases() {
		frame := c.frame()
		m := c.m
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				_, p, err := homeplug.DecodeHeader(frame)
				if err != nil {
					b.Fatal(err)
				}
				if err := m.DecodePayload(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, c := range benchCases() {
		buf := make([]byte, 0, 256)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(c.size))
			for b.Loop() {
				var err error
				if buf, err = homeplug.AppendFrame(buf[:0], c.h, c.m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
