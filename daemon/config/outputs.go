package config

// Outputs names, in words, where the daemon hands the cars' values under
// this configuration: "SmartEVSE http://10.0.0.1", "MQTT tcp://broker:1883",
// "HTTP 127.0.0.1:8080" (credentials in a URL redacted). None means the
// values go nowhere; the daemon and doctor both say so from this.
func (c Config) Outputs() []string {
	var out []string
	if c.SmartEVSE.URL != "" {
		out = append(out, "SmartEVSE "+redactURL(c.SmartEVSE.URL))
	}
	if c.MQTT.Broker != "" {
		out = append(out, "MQTT "+redactURL(c.MQTT.Broker))
	}
	if c.HTTP.Listen != "" {
		out = append(out, "HTTP "+c.HTTP.Listen)
	}
	return out
}
