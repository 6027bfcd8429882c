package v2gpki

import (
	"path/filepath"
	"testing"
	"time"
)

// TestFirstExpiry: the certificate that expires first, named, with its
// file; of two at the same time, the one nearer the leaf; its state and
// next change at the edges, and its message in plain words.
func TestFirstExpiry(t *testing.T) {
	dir := initChain(t, "DE*ABC*E1")
	c, err := loadAt(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(-time.Hour).Add(365 * 24 * time.Hour)
	want := Expiry{Which: "the SECC certificate", Subject: "CN=DE*ABC*E1", Path: filepath.Join(dir, ChainFile), NotAfter: end}
	if e := c.FirstExpiry(); e != want {
		t.Errorf("%+v, want %+v", e, want)
	}
	// Sub-CA 2 made to end with the leaf: the leaf is named.
	c.Certs[1].NotAfter = end
	if e := c.FirstExpiry(); e.Which != "the SECC certificate" {
		t.Errorf("tie: %+v", e)
	}
	c.Certs[1].NotAfter = end.Add(-time.Second)
	if e := c.FirstExpiry(); e.Which != "CPO Sub-CA 2" || e.Subject != "CN=CPOSubCA2" || !e.NotAfter.Equal(end.Add(-time.Second)) {
		t.Errorf("sub-CA 2 first: %+v", e)
	}
	c.Root.NotAfter = end.Add(-2 * time.Second)
	if e := c.FirstExpiry(); e.Which != "the V2G root certificate" || e.Path != filepath.Join(dir, RootFile) || c.NotAfter() != e.NotAfter {
		t.Errorf("root first: %+v", e)
	}

	const day = 24 * time.Hour
	do := "make a new test chain with `ccslink pki init DIR` into an empty directory (a test chain), or install your CPO's renewed chain; then restart ccslink evse"
	head := "the SECC certificate (CN=DE*ABC*E1, in " + want.Path + ") "
	for _, tc := range []struct {
		now   time.Time
		state ExpiryState
		next  time.Time
		msg   string
	}{
		{end.Add(-ExpiryWarning - time.Nanosecond), Valid, end.Add(-ExpiryWarning), ""},
		{end.Add(-ExpiryWarning), ExpiresSoon, end.Add(time.Nanosecond),
			head + "expires on 2027-03-01 11:00:00 UTC, in 30 days: from then on, cars that validate the charger's chain refuse V2G over TLS; " + do},
		{end.Add(-2*day + time.Second), ExpiresSoon, end.Add(time.Nanosecond),
			head + "expires on 2027-03-01 11:00:00 UTC, in 1 day: from then on, cars that validate the charger's chain refuse V2G over TLS; " + do},
		{end, ExpiresSoon, end.Add(time.Nanosecond),
			head + "expires on 2027-03-01 11:00:00 UTC, within a day: from then on, cars that validate the charger's chain refuse V2G over TLS; " + do},
		{end.Add(time.Nanosecond), Expired, time.Time{},
			head + "expired on 2027-03-01 11:00:00 UTC: cars that validate the charger's chain refuse V2G over TLS; " + do},
	} {
		if s, n, m := want.State(tc.now), want.Next(tc.now), want.Message(tc.now); s != tc.state || !n.Equal(tc.next) || m != tc.msg {
			t.Errorf("at %v: %v, next %v, %q\nwant %v, next %v, %q", tc.now, s, n, m, tc.state, tc.next, tc.msg)
		}
	}
}
