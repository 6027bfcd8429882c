package evsetwin

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ServeHTTP answers as the firmware does: POST /ev_state and GET /settings;
// anything else is 404. A twin that is not running answers 503.
func (t *Twin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body string
	ok := false
	switch {
	case r.URL.Path == "/ev_state" && r.Method == http.MethodPost:
		// Only the query counts; a body is ignored, as the firmware ignores it.
		ok = t.do(r.Context(), func() { body = t.evState(r.URL.RawQuery) })
		body += "\r\n"
	case r.URL.Path == "/settings" && r.Method == http.MethodGet:
		ok = t.do(r.Context(), func() { body = t.settings() })
		body += "\n"
	case r.URL.Path == "/settings" && r.Method == http.MethodPost:
		ok = t.do(r.Context(), func() { body = t.postSettings(r.URL.RawQuery) })
		body += "\n"
	default:
		http.NotFound(w, r)
		return
	}
	if !ok {
		http.Error(w, "SmartEVSE twin not running", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(body))
}

// PostEVState takes a POST /ev_state query as the HTTP handler does and
// returns the reply body (without its trailing CRLF), for callers without
// a socket.
func (t *Twin) PostEVState(ctx context.Context, rawQuery string) (reply string, ok bool) {
	ok = t.do(ctx, func() { reply = t.evState(rawQuery) })
	return reply, ok
}

// Settings returns GET /settings' body (without its trailing newline).
func (t *Twin) Settings(ctx context.Context) (body string, ok bool) {
	ok = t.do(ctx, func() { body = t.settings() })
	return body, ok
}

// param is the firmware's getParam on the query: the first name=value
// with exactly this name, URL-decoded ('+' is a space), cut at a NUL as a
// C string is; found is false when it is absent or does not decode.
func param(rawQuery, name string) (value string, found bool) {
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, hasEq := strings.Cut(kv, "=")
		if !hasEq || k != name {
			continue
		}
		d, err := url.QueryUnescape(v)
		if err != nil {
			return "", false
		}
		if i := strings.IndexByte(d, 0); i >= 0 {
			d = d[:i]
		}
		return d, true
	}
	return "", false
}

// toInt is Arduino's String.toInt (atol on a 32-bit long): leading
// blanks, a sign, digits up to the first other byte, saturated at the
// 32-bit limits; anything else is 0. A missing parameter reads as "".
func toInt(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n <= math.MaxInt32+1 {
			n = n*10 + int64(s[i]-'0')
		}
	}
	if neg {
		n = -n
	}
	return int(max(math.MinInt32, min(math.MaxInt32, n)))
}

// PostSettings takes a POST /settings query as the HTTP handler does and
// returns the reply body (without its trailing newline).
func (t *Twin) PostSettings(ctx context.Context, rawQuery string) (reply string, ok bool) {
	ok = t.do(ctx, func() { reply = t.postSettings(rawQuery) })
	return reply, ok
}

// postSettings is the part of the firmware's POST /settings a modem
// computer uses: override_pwm (0 disconnects CP, -1 releases it at 10 %
// until the next loop, 1..1024 a duty) and required_evccid; other
// parameters are not emulated. Nothing taken answers "null", as an empty
// ArduinoJson document serializes.
func (t *Twin) postSettings(rawQuery string) string {
	var j jsonObject
	if v, ok := param(rawQuery, "override_pwm"); ok {
		pwm := toInt(v)
		t.mu.Lock()
		if pwm < 0 {
			t.overridden, t.released, pwm = false, true, 100
		} else {
			t.overridden, t.override, t.released = true, pwm, false
		}
		t.mu.Unlock()
		t.drive()
		j.int("override_pwm", pwm)
	}
	if v, ok := param(rawQuery, "required_evccid"); ok && !t.cfg.NoModem {
		if len(v) <= 32 {
			if len(v) > 31 {
				v = v[:31]
			}
			t.mu.Lock()
			t.required = v
			t.mu.Unlock()
			j.str("required_evccid", v)
		} else {
			j.str("required_evccid", "EVCCID too long (max 32 char)")
		}
	}
	if len(j.b) == 0 {
		return "null"
	}
	return j.String()
}

// evState is the firmware's POST /ev_state handler (MODEM builds, v3).
func (t *Twin) evState(rawQuery string) string {
	get := func(name string) int { v, _ := param(rawQuery, name); return toInt(v) }
	currentSoC := get("current_soc")
	fullSoC := get("full_soc")
	energyRequest := get("energy_request")
	energyCapacity := get("energy_capacity")

	var j jsonObject
	t.mu.Lock()
	if v, ok := param(rawQuery, "evccid"); ok && len(v) <= 32 {
		if len(v) > 31 {
			v = v[:31] // strncpy into char[32], the last byte NUL
		}
		t.ev.EVCCID = v
		j.str("evccid", v)
	}
	// full_soc, capacity and request "only go up" until the car is gone.
	if fullSoC >= t.ev.FullSoC {
		t.ev.FullSoC = fullSoC
	}
	if energyCapacity >= t.ev.EnergyCapacity {
		t.ev.EnergyCapacity = energyCapacity
	}
	if energyRequest >= t.ev.EnergyRequest {
		t.ev.EnergyRequest = energyRequest
	}
	valid := currentSoC >= 0 && currentSoC <= 100
	if valid {
		t.ev.InitialSoC = currentSoC
		t.ev.ComputedSoC = currentSoC
	}
	t.ev.recompute(t.cfg.ChargeCurrent / 10)
	j.int("current_soc", currentSoC)
	j.int("full_soc", fullSoC)
	j.int("energy_capacity", energyCapacity)
	j.int("energy_request", energyRequest)
	reply := j.String()
	// Kept before the state moves, so that a watcher of the move finds it.
	t.posts = append(t.posts, Post{At: t.clk.Now(), Query: rawQuery, Reply: reply, Valid: valid})
	t.mu.Unlock()
	if valid && (t.state == StateModemRequest || t.state == StateModemWait || t.state == StateModemDone) {
		t.setState(StateModemDone, "SoC received")
	}
	return reply
}

// recompute is the firmware's RecomputeSoC with no energy metered yet:
// the remaining SoC and the time until full from the values posted, in
// the firmware's float32 and integer arithmetic.
func (e *EVState) recompute(maxAmps int) {
	if !(e.InitialSoC > 0 && e.FullSoC > 0 && e.EnergyCapacity > 0) {
		e.TimeUntilFull = -1
		return
	}
	if e.InitialSoC == e.FullSoC {
		e.ComputedSoC, e.RemainingSoC, e.TimeUntilFull = e.FullSoC, 0, -1
		return
	}
	target := int32(float32(e.FullSoC) / 100 * float32(e.EnergyCapacity))
	if target <= 0 {
		return // the firmware would divide by zero; the twin keeps what it has
	}
	var remaining int32
	if e.EnergyRequest > 0 {
		remaining = int32(e.EnergyRequest)
	} else {
		remaining = int32(float32(target) - float32(e.InitialSoC)/100*float32(e.EnergyCapacity))
	}
	e.RemainingSoC = int(int32(e.FullSoC) * remaining / target)
	if e.RemainingSoC > 1 {
		e.ComputedSoC = e.FullSoC - e.RemainingSoC
	} else {
		e.ComputedSoC = e.FullSoC
	}
	if remaining > -1 {
		// No power measured: the cable's maximum on three phases.
		if toGo := 3600 * remaining / int32(maxAmps*3*230); toGo < 100000 {
			e.TimeUntilFull = int(toGo)
		}
	}
	if e.ComputedSoC > e.FullSoC {
		e.ComputedSoC, e.RemainingSoC, e.TimeUntilFull = e.FullSoC, 0, -1
	}
}

// settings is GET /settings as the firmware builds it with MODEM=1, in its
// key order; parts the twin has no hardware for (WiFi, meters, MQTT,
// colours) are left out.
func (t *Twin) settings() string {
	t.mu.Lock()
	s, pwm, ev, required := t.state, t.pwm, t.ev, t.required
	chargedWh, totalWh := t.chargedWh, t.totalWh
	switch {
	case t.overridden:
		pwm = t.override
	case t.released:
		pwm = 100
	}
	t.mu.Unlock()
	connected := s != StateA
	charge := 0
	if s == StateC {
		charge = t.cfg.ChargeCurrent
	}
	var evse, set, evs, doc jsonObject
	evse.int("temp", 25)
	evse.int("temp_max", 65)
	evse.bool("connected", connected)
	evse.int("access", 1)
	evse.int("mode", 0)
	evse.int("loadbl", 0)
	evse.int("pwm", pwm)
	evse.bool("custombutton", false)
	evse.int("solar_stop_timer", 0)
	evse.str("state", s.WebName())
	evse.int("state_id", int(s))
	evse.str("error", "None")
	evse.int("error_id", 0)
	evse.str("rfidreader", "Disabled")
	evse.int("nrofphases", 3)
	evse.str("rfid", "Not Installed")
	evse.str("iec61851_state", s.IEC61851())
	evse.bool("charging_enabled", s.Charging())

	set.int("charge_current", charge)
	set.int("override_current", 0)
	set.int("current_min", 6)
	set.int("current_max", t.cfg.ChargeCurrent/10)
	set.int("current_main", 25)
	set.int("current_max_circuit", 16)
	set.int("current_max_sum_mains", 600)
	set.int("max_sum_mains_time", 0)
	set.int("solar_max_import", 0)
	set.int("solar_start_current", 4)
	set.int("solar_stop_time", 10)
	set.str("enable_C2", "Always On")
	set.str("mains_meter", "Disabled")
	set.int("starttime", 0)
	set.int("stoptime", 0)
	set.int("repeat", 0)
	set.int("lcdlock", 0)
	set.int("lock", 0)
	set.int("cablelock", 0)
	set.int("prio_strategy", 0)
	set.int("rotation_interval", 0)
	set.int("idle_timeout", 60)
	if !t.cfg.NoModem {
		set.str("required_evccid", required)
		set.str("modem", "Experiment")
		evs.int("initial_soc", ev.InitialSoC)
		evs.int("remaining_soc", ev.RemainingSoC)
		evs.int("full_soc", ev.FullSoC)
		evs.int("energy_capacity", positiveOr(ev.EnergyCapacity))
		evs.int("energy_request", positiveOr(ev.EnergyRequest))
		evs.int("computed_soc", ev.ComputedSoC)
		evs.str("evccid", ev.EVCCID)
		evs.int("time_until_full", ev.TimeUntilFull)
	}

	doc.str("version", t.cfg.Version)
	doc.int("serialnr", 51446)
	doc.str("mode", "NORMAL")
	doc.int("mode_id", 1)
	doc.bool("car_connected", connected)
	doc.obj("evse", evse)
	doc.obj("settings", set)
	if !t.cfg.NoModem {
		doc.obj("ev_state", evs)
	}
	var hb jsonObject
	hb.int("current", 0)
	hb.int("last_update", 0)
	doc.obj("home_battery", hb)
	if t.cfg.EVMeter {
		// The firmware's units: kWh and kW with one decimal, currents in deciamps.
		w := t.power()
		dA := 0
		if w > 0 {
			dA = t.cfg.ChargeCurrent
		}
		var m, cur jsonObject
		m.str("description", "Eastron3P")
		m.int("address", 12)
		m.float("import_active_power", math.Round(w/100)/10)
		m.float("total_kwh", math.Round(totalWh/100)/10)
		m.float("charged_kwh", math.Round(chargedWh/100)/10)
		cur.int("TOTAL", 3*dA)
		cur.int("L1", dA)
		cur.int("L2", dA)
		cur.int("L3", dA)
		m.obj("currents", cur)
		m.float("import_active_energy", math.Round(totalWh/100)/10)
		m.float("export_active_energy", 0)
		doc.obj("ev_meter", m)
	}
	return doc.String()
}

func positiveOr(v int) int {
	if v > 0 {
		return v
	}
	return -1
}

// jsonObject writes a JSON object as ArduinoJson serializes one: keys in
// insertion order, no spaces, strings escaped as ArduinoJson 6 does (only
// " \ \b \f \n \r \t; other bytes as they are).
type jsonObject struct{ b []byte }

func (j *jsonObject) key(k string) {
	if len(j.b) == 0 {
		j.b = append(j.b, '{')
	} else {
		j.b = append(j.b, ',')
	}
	j.b = appendString(j.b, k)
	j.b = append(j.b, ':')
}

func (j *jsonObject) int(k string, v int) { j.key(k); j.b = strconv.AppendInt(j.b, int64(v), 10) }
func (j *jsonObject) bool(k string, v bool) {
	j.key(k)
	j.b = strconv.AppendBool(j.b, v)
}
func (j *jsonObject) str(k, v string) { j.key(k); j.b = appendString(j.b, v) }
func (j *jsonObject) float(k string, v float64) {
	j.key(k)
	j.b = strconv.AppendFloat(j.b, v, 'f', -1, 64)
}
func (j *jsonObject) obj(k string, v jsonObject) { j.key(k); j.b = append(j.b, v.String()...) }

func (j jsonObject) String() string {
	if len(j.b) == 0 {
		return "{}"
	}
	return string(j.b) + "}"
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
