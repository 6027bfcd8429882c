package daemon

import (
	"errors"
	"net"
	"syscall"

	"github.com/ccslink/ccslink/daemon/output/httpapi"
)

// PortInUseError is the HTTP API's port held by another program.
type PortInUseError struct {
	Addr string
	Err  error
}

func (e *PortInUseError) Error() string {
	return "--http " + e.Addr + ": the port is in use by another program: pick another port (http.listen in the configuration), or stop that program (`ss -ltnp` names it)"
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// listenHTTP binds the HTTP API's address, so that the daemon says it is
// ready only once the API can be reached.
func listenHTTP(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &PortInUseError{Addr: addr, Err: err}
	}
	if err != nil {
		return nil, &httpapi.AddressError{Listen: addr, Err: err}
	}
	return ln, nil
}
