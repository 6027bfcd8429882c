package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTLSChainExpiry: the chain's first expiry as a Unix timestamp, with
// its help; no such metric until it is set.
func TestTLSChainExpiry(t *testing.T) {
	scrape := func(m *Exporter) string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	m := New()
	if body := scrape(m); strings.Contains(body, "ccslink_tls_chain_expiry") {
		t.Errorf("an expiry without a chain:\n%s", body)
	}
	m.TLSChainExpiry(time.Date(2027, 3, 1, 11, 0, 0, 0, time.UTC))
	want := "# HELP ccslink_tls_chain_expiry_timestamp_seconds When the first certificate of the SECC's TLS chain or its root expires, in Unix seconds (cars that validate the chain refuse it after).\n" +
		"# TYPE ccslink_tls_chain_expiry_timestamp_seconds gauge\n" +
		"ccslink_tls_chain_expiry_timestamp_seconds 1.8038988e+09\n"
	if body := scrape(m); !strings.Contains(body, want) {
		t.Errorf("GET /metrics lacks\n%s\nin\n%s", want, body)
	}
}
