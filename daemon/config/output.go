package config

import (
	"bytes"
	"fmt"
	"strconv"
)

// YAML returns c as the commented configuration file a user can save;
// Parse reads it back to c.
func (c Config) YAML() []byte {
	var b bytes.Buffer
	q := strconv.Quote
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# ccslink's configuration, by default %s.\n", DefaultPath)
	p("# Every key may be left out: `ccslink config example` shows the defaults,\n")
	p("# `ccslink config check FILE` checks a file, line by line.\n")
	p("\n# This daemon's name, unique among the daemons on one MQTT broker: it names the MQTT\n")
	p("# client ID (ccslink-<name>), the topics (ccslink/<name>/) and the Home Assistant device.\n")
	p("# Lower-case letters, digits, - and _; \"\" = the host's name and the interface, e.g. pi-garage-eth1.\n")
	p("name: %s\n", q(c.Name))
	p("\n# The network interface of the HomePlug Green PHY modem (see `ip link`).\n")
	p("interface: %s\n", q(c.Interface))
	p("# soc: read the car's SoC, then end the DC attempt so that the car charges on AC;\n")
	p("# dc: a full emulated DC session; ac: an ISO 15118-2 AC session.\n")
	p("policy: %s\n", q(c.Policy))
	p("# The charger's EVSEID (ISO 15118-2 text such as DE*ABC*E1234; DIN as hex); \"\" = ccslink's own.\n")
	p("evse_id: %s\n", q(c.EVSEID))
	p("# Answer the modem's own messages in software: for a veth pair, never with a real modem.\n")
	p("emulate_modem: %v\n", c.EmulateModem)
	p("# The TCP port of the V2G server, which SDP tells the car; 0 = any free port.\n")
	p("v2g_port: %d\n", c.V2GPort)
	p("\nv2g:\n")
	p("  # Serve ISO 15118-20 AC (EIM) to a car that offers it, ranked below DIN and ISO-2\n")
	p("  # (a car that offers -20 today offers -2 or DIN too); its charge loop tells the SoC.\n")
	p("  iso20: %v\n", c.V2G.ISO20)
	p("  # Prefer ISO 15118-20 to DIN and ISO-2 (implies iso20): with the ac policy, the SoC\n")
	p("  # of a -20 car all through its AC charge.\n")
	p("  iso20_first: %v\n", c.V2G.ISO20First)
	p("\nslac:\n")
	p("  # How long a car has to start digital communication (its first CM_SLAC_PARM.REQ)\n")
	p("  # after the charger's 5 %% PWM began: 50s is ISO 15118-3's TT_EVSE_SLAC_init; 10s\n")
	p("  # tells Home Assistant and evcc sooner of a car that never talks. It counts only\n")
	p("  # when ccslink learns from the charger that a car is plugged in.\n")
	p("  init_timeout: %s\n", c.SLAC.InitTimeout)
	p("\nsmartevse:\n")
	p("  # Where the car's values are posted: the SmartEVSE's base URL, e.g. http://10.0.0.1\n")
	p("  # (/ev_state is appended), or a URL with a path, used as given; \"\" = none.\n")
	p("  url: %s\n", q(c.SmartEVSE.URL))
	p("  # How long one attempt to post may take.\n")
	p("  timeout: %s\n", c.SmartEVSE.Timeout)
	p("  # How long a delivery keeps trying, from the car's first values, whether or not\n")
	p("  # the car is still there: the SmartEVSE waits 60 s for the SoC.\n")
	p("  window: %s\n", c.SmartEVSE.Window)
	p("  # Send the recognised car's stable ID (see cars) as evccid, in place of the\n")
	p("  # session's EVCCID: the SmartEVSE's required EVCCID then works for a car whose\n")
	p("  # MAC changes on every plug-in (VW group cars).\n")
	p("  vehicle_id: %v\n", c.SmartEVSE.VehicleID)
	p("  # After a delivery, how long to watch the SmartEVSE (GET /settings, read only) for\n")
	p("  # AC charging; 0s = not watched, for a receiver without the SmartEVSE's API.\n")
	p("  watch: %s\n", c.SmartEVSE.Watch)
	p("  # Allow the x1-then-pwm handover (see cars): after the delivery, CP at 100 %% for\n")
	p("  # 2 s, then the SmartEVSE's own PWM, written as override_pwm (POST /settings).\n")
	p("  write_pwm: %v\n", c.SmartEVSE.WritePWM)
	p("  # While watch is on, read GET /settings once a second all the time (less often\n")
	p("  # while the SmartEVSE does not answer): a car plugged in that never talks is\n")
	p("  # reported after slac.init_timeout, and the SoC is estimated between reads from\n")
	p("  # the SmartEVSE's EV meter (ev_meter.charged_kwh), if it has one.\n")
	p("  follow: %v\n", c.SmartEVSE.Follow)
	p("  # The share of the energy metered on AC that reaches the battery, for the SoC\n")
	p("  # estimate (published as soc_estimated, never in place of the SoC the car sent);\n")
	p("  # 0.9: an on-board charger loses about a tenth.\n")
	p("  charge_efficiency: %v\n", c.SmartEVSE.ChargeEfficiency)
	p("\nmqtt:\n")
	p("  # The broker, e.g. tcp://192.168.1.2:1883; \"\" = no MQTT.\n")
	p("  # mqtt://host and tcp://host mean port 1883; mqtts://, ssl:// and tls:// are TLS, port 8883.\n")
	p("  broker: %s\n", q(c.MQTT.Broker))
	p("  # The topics' prefix; \"\" = ccslink/<name>/.\n")
	p("  prefix: %s\n", q(c.MQTT.Prefix))
	p("  # The MQTT client ID, which no other client on the broker may use; \"\" = ccslink-<name>.\n")
	p("  client_id: %s\n", q(c.MQTT.ClientID))
	p("  username: %s\n", q(c.MQTT.Username))
	p("  # A secret: `ccslink config show` hides it.\n")
	p("  password: %s\n", q(c.MQTT.Password))
	p("  # Announce the car's values to Home Assistant (MQTT discovery).\n")
	p("  home_assistant: %v\n", c.MQTT.HomeAssistant)
	p("  # Home Assistant's discovery prefix, as set in its MQTT integration.\n")
	p("  discovery_prefix: %s\n", q(c.MQTT.DiscoveryPrefix))
	p("\nhttp:\n")
	p("  # The address of the HTTP API and page, e.g. 127.0.0.1:8080; \"\" = off.\n")
	p("  # Any address but loopback needs the token.\n")
	p("  listen: %s\n", q(c.HTTP.Listen))
	p("  # A secret of at least 16 characters (e.g. from `openssl rand -hex 16`),\n")
	p("  # sent by clients as \"Authorization: Bearer <token>\".\n")
	p("  token: %s\n", q(c.HTTP.Token))
	p("\n# Where ccslink keeps its records of plug-ins and recordings.\n")
	p("state_dir: %s\n", q(c.StateDir))
	p("recordings:\n")
	p("  # How many packet recordings to keep (the oldest go first).\n")
	p("  keep: %d\n", c.Recordings.Keep)
	p("sessions:\n")
	p("  # How many plug-in records to keep (the oldest go first).\n")
	p("  keep: %d\n", c.Sessions.Keep)
	p("\n# The battery capacity of cars that send none (no EVEnergyCapacity), by EVCCID\n")
	p("# as `ccslink evse` prints it; \"*\" stands for any other car. A car recognised\n")
	p("# (see cars) is looked up by its ID first: a car that draws a new MAC per plug-in\n")
	p("# is known by the EVCCID of its first plug-in. For example:\n")
	p("#   capacity_fallback:\n")
	p("#     - evccid: \"0465650064c3\"\n")
	p("#       capacity_wh: 28000\n")
	if len(c.CapacityFallback) == 0 {
		p("capacity_fallback: []\n")
	} else {
		p("capacity_fallback:\n")
		for _, e := range c.CapacityFallback {
			p("  - evccid: %s\n    capacity_wh: %d\n", q(e.EVCCID), e.CapacityWh)
		}
	}
	p("\n# The owner's cars, recognised by their MAC (x: any hex digit; a VW group car keeps\n")
	p("# 00:7d:fa and draws the rest anew per plug-in). id is the car's stable ID for the\n")
	p("# outputs, evcc and the SmartEVSE; capacity_wh stands in when the car sends none;\n")
	p("# strategy pins how the car is handed over to AC charging: deliver-now,\n")
	p("# end-then-deliver, x1-then-pwm (needs smartevse.write_pwm), no-negotiation or\n")
	p("# identify-only; the last two give no SoC and act before the car's session, so\n")
	p("# they need the car known by a mac pattern. For example:\n")
	p("#   cars:\n")
	p("#     - name: Ioniq\n")
	p("#       id: ioniq\n")
	p("#       mac: \"04:65:65:00:64:c3\"\n")
	p("#       capacity_wh: 28000\n")
	if len(c.Cars) == 0 {
		p("cars: []\n")
	} else {
		p("cars:\n")
		for _, car := range c.Cars {
			p("  - name: %s\n    id: %s\n    mac:\n", q(car.Name), q(car.ID))
			for _, m := range car.MACs {
				p("      - %s\n", q(m))
			}
			if car.CapacityWh != 0 {
				p("    capacity_wh: %d\n", car.CapacityWh)
			}
			if car.Strategy != "" {
				p("    strategy: %s\n", q(car.Strategy))
			}
		}
	}
	p("\nlog:\n")
	p("  # debug, info, warn or error.\n")
	p("  level: %s\n", q(c.Log.Level))
	return b.Bytes()
}
