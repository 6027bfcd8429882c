//go:build !unix

package logging

import "os"

// devIno reports no journal: systemd runs on Unix alone.
func devIno(*os.File) (dev, ino uint64, ok bool) { return 0, 0, false }
