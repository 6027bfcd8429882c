package sdp

import "syscall"

func bindToDevice(fd int, ifname string) error {
	return syscall.SetsockoptString(fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, ifname)
}
