//go:build !linux

package netnstest

import "testing"

func startFlood(t testing.TB, n *Namespace, f *Flood, frames [][]byte, perTick int) {
	t.Skip("raw sockets in network namespaces need Linux; skipped")
}
