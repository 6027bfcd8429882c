package config

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse feeds Parse hostile YAML and ini files: it never panics, its
// errors are *Error values, and what it accepts is valid and survives a
// round trip through YAML.
func FuzzParse(f *testing.F) {
	f.Add(Default().YAML(), false)
	f.Add([]byte(fullYAML), false)
	f.Add(full.YAML(), false)
	f.Add([]byte("capacity_fallback:\n  - {evccid: \"*\", capacity_wh: 28000}\nhttp: {listen: \":80\"}\n"), false)
	f.Add([]byte("a: &x [*x, *x]\n<<: *x\n"), false)
	f.Add([]byte("cars:\n  - {name: ID.3, id: id3, mac: [\"00:7d:fa:xx:xx:xx\"], capacity_wh: 58000, strategy: deliver-now}\n  - name: Ioniq\n    id: ioniq\n    mac: \"04:65:65:00:64:c3\"\nsmartevse: {vehicle_id: true}\n"), false)
	f.Add([]byte(pyplcINI), true)
	f.Add([]byte("[DEFAULT]\nmqtt_topic = h\n[general]\nmode=EvseMode\ncharge_parameter_backend=mqtt\nmqtt_broker=b\neth_interface=%(mqtt_topic)s\n  x\n"), true)
	f.Add([]byte("[general]\nsoc_callback_enabled = on\nsoc_callback_endpoint = http://%(h)s\nh = 10.0.0.1\nsoc_fallback_energy_capacity = 2700\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, ini bool) {
		name := "f.yaml"
		if ini {
			name = "f.ini"
		}
		c, err := Parse(name, data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Msg == "" || e.File != name {
				t.Fatalf("error %v (%T) is not an *Error naming the file", err, err)
			}
			var l Errors
			if errors.As(err, &l) {
				for _, e := range l {
					if e.Line == 0 && !errors.Is(e, ErrSyntax) {
						t.Fatalf("error without a line: %v", e)
					}
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		back, err := Parse("back.yaml", c.YAML())
		if err != nil {
			t.Fatalf("YAML of an accepted file does not parse: %v\n%s", err, c.YAML())
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, c)
		}
		if ini {
			fc, _, err := FromPyPLC(data)
			if err != nil || !reflect.DeepEqual(fc, c) {
				t.Fatalf("FromPyPLC disagrees with Parse: %+v, %v", fc, err)
			}
		}
	})
}
