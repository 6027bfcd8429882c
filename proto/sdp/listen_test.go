package sdp

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestListenErrors(t *testing.T) {
	_, err := Listen("no-such-if0", Port)
	if !errors.Is(err, ErrNoInterface) || !strings.HasPrefix(err.Error(), `sdp: no such network interface: "no-such-if0"; there are: `) {
		t.Errorf("unknown interface: %v", err)
	}
	if _, err := LinkLocal("no-such-if0"); !errors.Is(err, ErrNoInterface) {
		t.Errorf("LinkLocal of an unknown interface: %v", err)
	}
	lo, err := net.InterfaceByIndex(1)
	if err != nil || lo.Flags&net.FlagLoopback == 0 {
		t.Skipf("no loopback interface at index 1: %v", err)
	}
	// Loopback has ::1 but never a link-local address.
	if _, err := LinkLocal(lo.Name); !errors.Is(err, ErrNoLinkLocal) || !strings.HasPrefix(err.Error(), "sdp: no IPv6 link-local address on the interface: "+lo.Name+" (is it up") {
		t.Errorf("LinkLocal(%s): %v", lo.Name, err)
	}
	if _, err := Listen(lo.Name, 0); !errors.Is(err, ErrNoLinkLocal) {
		t.Errorf("Listen(%s): %v", lo.Name, err)
	}
}
