//go:build arm || arm64

// Package spin is a benchmark whose instructions per op are known: spin
// loops n times over two instructions, written in assembly so no compiler
// changes them.
package spin

// spin runs its loop n times (n > 0).
//
//go:noescape
func spin(n int)
