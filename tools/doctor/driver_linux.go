package doctor

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// sysNet is where Linux shows the network interfaces.
var sysNet = "/sys/class/net"

// driver reads the driver of a device's interface from sysfs, and asks
// ethtool's ioctl for a virtual one, which has no device there.
func driver(iface string) (string, bool, error) {
	if _, err := os.Stat(filepath.Join(sysNet, iface)); err != nil {
		return "", false, errors.New("no " + filepath.Join(sysNet, iface))
	}
	if target, err := os.Readlink(filepath.Join(sysNet, iface, "device", "driver")); err == nil {
		return filepath.Base(target), false, nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", false, err
	}
	defer unix.Close(fd)
	info, err := unix.IoctlGetEthtoolDrvinfo(fd, iface)
	if err != nil {
		return "", false, errors.New("it has no device in sysfs and ethtool does not name its driver")
	}
	name := unix.ByteSliceToString(info.Driver[:])
	_, verr := os.Stat(filepath.Join("/sys/devices/virtual/net", iface))
	return name, verr == nil, nil
}
