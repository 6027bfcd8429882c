package daemon_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon"
	"github.com/ccslink/ccslink/daemon/config"
)

// TestMQTTConfigUpdateInterval: mqtt.update_interval reaches the output;
// the file's 0s (no bound) is the output's negative interval, not its
// zero, which would be its default.
func TestMQTTConfigUpdateInterval(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
	}{
		{"", time.Second},
		{"mqtt:\n  update_interval: 250ms\n", 250 * time.Millisecond},
		{"mqtt:\n  update_interval: 0s\n", -1},
	} {
		c, err := config.Parse("c.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := daemon.MQTTConfig(c, "", slog.New(slog.DiscardHandler)).UpdateInterval; got != tc.want {
			t.Errorf("%q: UpdateInterval %v, want %v", tc.yaml, got, tc.want)
		}
	}
}
