package mqtt_test

import (
	"log"

	"github.com/ccslink/ccslink/daemon/output/mqtt"
)

// An Output is subscribed to the charger like any other subscriber; it
// connects in the background and never holds the charger up.
func Example() {
	out, err := mqtt.New(mqtt.Config{
		Broker:   "tcp://10.0.0.5:1883",
		Name:     "pi-garage-eth1", // topics ccslink/pi-garage-eth1/..., client ID ccslink-pi-garage-eth1
		Username: "ccslink",
		Password: "secret",
	})
	if err != nil {
		log.Fatal(err) // a *mqtt.ConfigError: the URL or a prefix is wrong
	}
	defer out.Close() // publishes offline
	// charger.Subscribe(out)
	_ = out.Topic("soc") // "ccslink/pi-garage-eth1/soc"
}
