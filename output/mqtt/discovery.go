package mqtt

import (
	"encoding/json"
)

// unknownTemplate shows the -1 of a value the car did not send as unknown.
const unknownTemplate = "{{ None if value == '-1' else value }}"

// device is the device block every discovery config shares.
type device struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
}

// sensor is one Home Assistant MQTT sensor's discovery config.
type sensor struct {
	Name                string `json:"name"`
	UniqueID            string `json:"unique_id"`
	StateTopic          string `json:"state_topic"`
	AvailabilityTopic   string `json:"availability_topic"`
	PayloadAvailable    string `json:"payload_available"`
	PayloadNotAvailable string `json:"payload_not_available"`
	DeviceClass         string `json:"device_class,omitempty"`
	UnitOfMeasurement   string `json:"unit_of_measurement,omitempty"`
	StateClass          string `json:"state_class,omitempty"`
	Icon                string `json:"icon,omitempty"`
	ValueTemplate       string `json:"value_template"`
	Device              device `json:"device"`
}

// sensors lists the entities: the topic (under the prefix) each reads,
// and what Home Assistant shows.
var sensors = []struct {
	topic, name, class, unit, stateClass, icon string
}{
	{"soc", "State of charge", "battery", "%", "measurement", ""},
	{"full_soc", "Full state of charge", "battery", "%", "measurement", ""},
	// Energy in Wh: no state_class, as Home Assistant's statistics take
	// energy only as a running total, which these are not.
	{"energy_capacity", "Battery capacity", "energy", "Wh", "", ""},
	{"energy_request", "Energy request", "energy", "Wh", "", ""},
	{"evccid", "EVCCID", "", "", "", "mdi:car-info"},
	{"protocol", "Protocol", "", "", "", "mdi:swap-horizontal"},
	{"state", "State", "", "", "", "mdi:ev-plug-ccs2"},
	{"soc_timestamp", "SoC read at", "timestamp", "", "", ""},
}

// discoveryConfigs returns each sensor's config topic and payload, in order.
func discoveryConfigs(s settings) (topics []string, payloads [][]byte) {
	dev := device{Identifiers: []string{s.deviceID}, Name: s.deviceName, Manufacturer: "ccslink", Model: "ISO 15118 car reader"}
	for _, x := range sensors {
		c := sensor{
			Name:                x.name,
			UniqueID:            s.deviceID + "_" + x.topic,
			StateTopic:          s.prefix + x.topic,
			AvailabilityTopic:   s.prefix + "status",
			PayloadAvailable:    Online,
			PayloadNotAvailable: Offline,
			DeviceClass:         x.class,
			UnitOfMeasurement:   x.unit,
			StateClass:          x.stateClass,
			Icon:                x.icon,
			ValueTemplate:       unknownTemplate,
			Device:              dev,
		}
		b, _ := json.Marshal(c) // strings only: it cannot fail
		topics = append(topics, s.discovery+"/sensor/"+s.deviceID+"/"+x.topic+"/config")
		payloads = append(payloads, b)
	}
	return topics, payloads
}
