package timeline

import (
	"testing"

	"github.com/ccslink/ccslink/tools/capture"
)

func framesOf(t testing.TB, path string) []capture.Frame {
	t.Helper()
	c, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return c.Frames()
}
