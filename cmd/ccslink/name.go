package main

import (
	"os"

	"github.com/ccslink/ccslink/daemon/config"
)

// nameDaemon gives c its name when neither the file nor --name did: the
// host's name and the interface.
func nameDaemon(c *config.Config) {
	host, _ := os.Hostname() // none: the interface alone
	c.Name = c.InstanceName(host)
}
