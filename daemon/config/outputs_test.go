package config

import (
	"slices"
	"testing"
)

func TestOutputs(t *testing.T) {
	c := Default()
	if got := c.Outputs(); got != nil {
		t.Fatalf("the defaults' outputs %q, want none", got)
	}
	c.SmartEVSE.URL = "http://admin:pw@10.0.0.1"
	c.MQTT.Broker = "tcp://u:secret@broker:1883"
	c.HTTP.Listen = "127.0.0.1:8080"
	want := []string{"SmartEVSE http://" + RedactedValue + "@10.0.0.1", "MQTT tcp://" + RedactedValue + "@broker:1883", "HTTP 127.0.0.1:8080"}
	if got := c.Outputs(); !slices.Equal(got, want) {
		t.Fatalf("outputs %q, want %q", got, want)
	}
}
