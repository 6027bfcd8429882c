//go:build race

package secc

const raceEnabled = true
