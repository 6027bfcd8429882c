//go:build !amd64 && !arm64

package exi

import (
	"encoding/binary"
	"unsafe"
)

// load64 reads 8 bytes at p as a big-endian number, a byte at a time:
// 32-bit ARM (the Pi Zero) need not allow an unaligned 64-bit load.
func load64(p unsafe.Pointer) uint64 { return binary.BigEndian.Uint64((*[8]byte)(p)[:]) }
