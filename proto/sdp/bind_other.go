//go:build !linux

package sdp

import (
	"fmt"
	"runtime"
)

func bindToDevice(int, string) error {
	return fmt.Errorf("%w: binding a socket to one interface is implemented for Linux only, not %s", ErrSocket, runtime.GOOS)
}
