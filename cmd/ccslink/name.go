package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/ccslink/ccslink/config"
	"github.com/ccslink/ccslink/output/mqtt"
)

// nameDaemon gives c its name when neither the file nor --name did: the
// host's name and the interface.
func nameDaemon(c *config.Config) {
	host, _ := os.Hostname() // none: the interface alone
	c.Name = c.InstanceName(host)
}

// mqttConfig is the MQTT output's configuration: the client ID, the topics
// and the Home Assistant device follow the daemon's name unless set.
func mqttConfig(c config.Config, log *slog.Logger) mqtt.Config {
	bi, _ := debug.ReadBuildInfo()
	return mqtt.Config{
		Broker:          c.MQTT.Broker,
		Name:            c.Name,
		Version:         readVersion(version, commit, bi).Version,
		ClientID:        c.MQTT.ClientID,
		Username:        c.MQTT.Username,
		Password:        c.MQTT.Password,
		Prefix:          c.MQTT.Prefix,
		NoDiscovery:     !c.MQTT.HomeAssistant,
		DiscoveryPrefix: c.MQTT.DiscoveryPrefix,
		Log:             log,
	}
}
