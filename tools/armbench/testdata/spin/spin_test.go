//go:build arm || arm64

package spin

import "testing"

// An op of BenchmarkSpin3000 runs 4000 instructions more than one of
// BenchmarkSpin1000: two instructions for each of 2000 more turns.

func BenchmarkSpin1000(b *testing.B) {
	for b.Loop() {
		spin(1000)
	}
}

func BenchmarkSpin3000(b *testing.B) {
	for b.Loop() {
		spin(3000)
	}
}
