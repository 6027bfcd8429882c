//go:build !race

package secc

const raceEnabled = false
