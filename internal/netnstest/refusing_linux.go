//go:build linux

package netnstest

import (
	"net"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// RefusingAddr returns 127.0.0.1:port of a TCP socket that is bound but
// never listens: every connection to it is refused for as long as the test
// runs, and no other socket (a parallel test's listener, or a client's own
// source port) can take the port, as it could one that was closed.
func RefusingAddr(t testing.TB) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
}
