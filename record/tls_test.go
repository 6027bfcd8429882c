package record

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestSessionTLS: the session keeps the TLS version of the car's latest
// connection, in its JSON too; plain TCP leaves it out.
func TestSessionTLS(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var s Session
	s.Apply(Event{Kind: KindConnected, At: at, TLS: "TLS 1.3 TLS_AES_128_GCM_SHA256", TLSVersion: "1.3"})
	b, _ := json.Marshal(&s)
	if s.TLS != "1.3" || !strings.Contains(string(b), `"tls":"1.3"`) {
		t.Fatalf("TLS %q, JSON %s", s.TLS, b)
	}
	s.Apply(Event{Kind: KindConnected, At: at.Add(time.Second)})
	b, _ = json.Marshal(&s)
	if s.TLS != "" || strings.Contains(string(b), `"tls"`) {
		t.Fatalf("after a plain connection: TLS %q, JSON %s", s.TLS, b)
	}
}
