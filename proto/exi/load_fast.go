//go:build amd64 || arm64

package exi

import (
	"math/bits"
	"unsafe"
)

// load64 reads 8 bytes at p as a big-endian number in one load: these
// architectures allow unaligned loads and are little-endian.
func load64(p unsafe.Pointer) uint64 { return bits.ReverseBytes64(*(*uint64)(p)) }
