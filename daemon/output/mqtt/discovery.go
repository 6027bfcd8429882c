package mqtt

import (
	"encoding/json"

	"github.com/ccslink/ccslink/record"
)

// unknownTemplate shows a value topic's empty payload (a value the car did
// not send, cleared at each plug-in) as unknown: Home Assistant would keep
// the last value on an empty payload.
const unknownTemplate = "{{ None if value == '' else value }}"

// device is the device block every discovery config shares.
type device struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// origin names the software that publishes the configs, for Home
// Assistant's log of discovered entities.
type origin struct {
	Name      string `json:"name"`
	SWVersion string `json:"sw_version,omitempty"`
}

// sensor is one Home Assistant MQTT sensor's discovery config.
type sensor struct {
	Name                string   `json:"name"`
	UniqueID            string   `json:"unique_id"`
	StateTopic          string   `json:"state_topic"`
	AvailabilityTopic   string   `json:"availability_topic"`
	PayloadAvailable    string   `json:"payload_available"`
	PayloadNotAvailable string   `json:"payload_not_available"`
	DeviceClass         string   `json:"device_class,omitempty"`
	Options             []string `json:"options,omitempty"`
	UnitOfMeasurement   string   `json:"unit_of_measurement,omitempty"`
	StateClass          string   `json:"state_class,omitempty"`
	Icon                string   `json:"icon,omitempty"`
	ValueTemplate       string   `json:"value_template"`
	JSONAttributesTopic string   `json:"json_attributes_topic,omitempty"`
	Device              device   `json:"device"`
	Origin              origin   `json:"origin"`
}

// states lists every state the state topic publishes, for Home
// Assistant's enum sensor.
var states = func() []string {
	var l []string
	for _, st := range record.States() {
		l = append(l, string(st))
	}
	return l
}()

// sensors lists the entities: the topic (under the prefix) each reads,
// and what Home Assistant shows.
var sensors = []struct {
	topic, name, class, unit, stateClass, icon string
	options                                    []string
}{
	{"soc", "State of charge", "battery", "%", "measurement", "", nil},
	{"full_soc", "Full state of charge", "battery", "%", "measurement", "", nil},
	// A capacity is stored energy; Home Assistant's statistics take the
	// energy class only as a running total, which a request is not either.
	{"energy_capacity", "Battery capacity", "energy_storage", "Wh", "", "", nil},
	{"energy_request", "Energy request", "energy", "Wh", "", "", nil},
	{"evccid", "EVCCID", "", "", "", "mdi:car-info", nil},
	{"protocol", "Protocol", "", "", "", "mdi:swap-horizontal", nil},
	{"state", "State", "enum", "", "", "mdi:ev-plug-ccs2", states},
	{"soc_timestamp", "SoC read at", "timestamp", "", "", "", nil},
	{"vehicle_id", "Vehicle", "", "", "", "mdi:car", nil},
	// Its state is the outcome; the strategy, the time to AC and the
	// charger's states seen are its attributes.
	{"handover", "AC charging after the SoC", "enum", "", "", "mdi:ev-station", []string{record.OutcomeACStarted, record.OutcomeNoAC, record.OutcomeNotObserved}},
	// A guess between reads, never the SoC itself: named so, its basis
	// (the SoC read, the energy since, the capacity) its attributes.
	{"soc_estimated", "State of charge (estimated)", "battery", "%", "measurement", "", nil},
}

// outcomeTemplate reads the outcome from the handover topic's JSON; an
// empty payload (a new car, not yet known) is unknown.
const outcomeTemplate = "{{ None if value == '' else value_json.outcome }}"

// discoveryConfigs returns each sensor's config topic and payload, in order.
func discoveryConfigs(s settings) (topics []string, payloads [][]byte) {
	dev := device{Identifiers: []string{s.deviceID}, Name: s.deviceName, Manufacturer: "ccslink", Model: "ISO 15118 car reader", SWVersion: s.version}
	for _, x := range sensors {
		c := sensor{
			Name:                x.name,
			UniqueID:            s.deviceID + "_" + x.topic,
			StateTopic:          s.prefix + x.topic,
			AvailabilityTopic:   s.prefix + "status",
			PayloadAvailable:    Online,
			PayloadNotAvailable: Offline,
			DeviceClass:         x.class,
			Options:             x.options,
			UnitOfMeasurement:   x.unit,
			StateClass:          x.stateClass,
			Icon:                x.icon,
			ValueTemplate:       unknownTemplate,
			Device:              dev,
			Origin:              origin{Name: "ccslink", SWVersion: s.version},
		}
		switch x.topic {
		case "handover":
			c.ValueTemplate, c.JSONAttributesTopic = outcomeTemplate, c.StateTopic
		case "soc_estimated":
			c.JSONAttributesTopic = s.prefix + "soc_estimated_basis"
		}
		b, _ := json.Marshal(c) // strings only: it cannot fail
		topics = append(topics, s.discovery+"/sensor/"+s.deviceID+"/"+x.topic+"/config")
		payloads = append(payloads, b)
	}
	return topics, payloads
}
