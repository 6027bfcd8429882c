//go:build !linux

package netnstest

import "testing"

func vethPair(t testing.TB, cfg Config) (a, b *Namespace) {
	t.Skip("network namespaces need Linux; skipped")
	return nil, nil
}

func do(t testing.TB, n *Namespace, fn func()) {
	t.Skip("network namespaces need Linux; skipped")
}

func deletePair(t testing.TB, a, b *Namespace) {
	t.Skip("network namespaces need Linux; skipped")
}

func recreatePair(t testing.TB, a, b *Namespace) {
	t.Skip("network namespaces need Linux; skipped")
}
