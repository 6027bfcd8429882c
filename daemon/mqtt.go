package daemon

import (
	"log/slog"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/output/mqtt"
)

// MQTTConfig is the MQTT output's configuration: the client ID, the topics
// and the Home Assistant device follow the daemon's name unless set.
func MQTTConfig(c config.Config, version string, log *slog.Logger) mqtt.Config {
	return mqtt.Config{
		Broker:          c.MQTT.Broker,
		Name:            c.Name,
		Version:         version,
		ClientID:        c.MQTT.ClientID,
		Username:        c.MQTT.Username,
		Password:        c.MQTT.Password,
		Prefix:          c.MQTT.Prefix,
		NoDiscovery:     !c.MQTT.HomeAssistant,
		DiscoveryPrefix: c.MQTT.DiscoveryPrefix,
		UpdateInterval:  updateInterval(c.MQTT.UpdateInterval),
		Log:             log,
	}
}

// updateInterval is an output's UpdateInterval for the configuration's: in
// the file 0s means no bound, which the outputs spell as a negative one
// (their zero is their default).
func updateInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
