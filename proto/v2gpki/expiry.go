package v2gpki

import (
	"fmt"
	"path/filepath"
	"time"
)

// ExpiryWarning is how long before the chain's first certificate expires
// a running charger warns: time to get a CPO's renewed chain.
const ExpiryWarning = 30 * 24 * time.Hour

// Expiry is the certificate of a chain that expires first.
type Expiry struct {
	Which    string // "the SECC certificate", "CPO Sub-CA 2", "CPO Sub-CA 1", "the V2G root certificate"
	Subject  string // "CN=..."
	Path     string
	NotAfter time.Time
}

// FirstExpiry is the certificate of the chain or its root that expires
// first; of two at the same time, the one nearer the leaf.
func (c *Chain) FirstExpiry() Expiry {
	e := Expiry{Which: "the V2G root certificate", Subject: "CN=" + c.Root.Subject.CommonName, Path: filepath.Join(c.Dir, RootFile), NotAfter: c.Root.NotAfter}
	for i := len(c.Certs) - 1; i >= 0; i-- {
		if x := c.Certs[i]; !x.NotAfter.After(e.NotAfter) {
			e = Expiry{Which: certName(i, len(c.Certs)), Subject: "CN=" + x.Subject.CommonName, Path: filepath.Join(c.Dir, ChainFile), NotAfter: x.NotAfter}
		}
	}
	return e
}

// ExpiryState is what a chain's first expiry means at a moment.
type ExpiryState int

const (
	// Valid: more than ExpiryWarning left.
	Valid ExpiryState = iota
	// ExpiresSoon: within ExpiryWarning of the end.
	ExpiresSoon
	// Expired: past the end; cars that validate the chain refuse it.
	Expired
)

func (s ExpiryState) String() string {
	switch s {
	case Valid:
		return "valid"
	case ExpiresSoon:
		return "expires soon"
	case Expired:
		return "expired"
	}
	return fmt.Sprintf("ExpiryState(%d)", int(s))
}

// State is what e means at now. A certificate is valid through its
// NotAfter second, as X.509 has it.
func (e Expiry) State(now time.Time) ExpiryState {
	switch {
	case now.After(e.NotAfter):
		return Expired
	case e.NotAfter.Sub(now) <= ExpiryWarning:
		return ExpiresSoon
	}
	return Valid
}

// Next is when e's state changes after now; zero once it has expired.
func (e Expiry) Next(now time.Time) time.Time {
	switch e.State(now) {
	case Valid:
		return e.NotAfter.Add(-ExpiryWarning)
	case ExpiresSoon:
		return e.NotAfter.Add(time.Nanosecond)
	}
	return time.Time{}
}

// renewRunning is what to do about a chain that expires while the charger runs.
const renewRunning = "make a new test chain with `ccslink pki init DIR` into an empty directory (a test chain), or install your CPO's renewed chain; then restart ccslink evse"

// Message says in plain words what e means at now and what to do: for a
// log line of the running charger; "" while it is Valid.
func (e Expiry) Message(now time.Time) string {
	at := e.NotAfter.UTC().Format(time.DateTime + " UTC")
	switch e.State(now) {
	case ExpiresSoon:
		left := "within a day"
		if days := int(e.NotAfter.Sub(now) / (24 * time.Hour)); days == 1 {
			left = "in 1 day"
		} else if days > 1 {
			left = fmt.Sprintf("in %d days", days)
		}
		return fmt.Sprintf("%s (%s, in %s) expires on %s, %s: from then on, cars that validate the charger's chain refuse V2G over TLS; %s",
			e.Which, e.Subject, e.Path, at, left, renewRunning)
	case Expired:
		return fmt.Sprintf("%s (%s, in %s) expired on %s: cars that validate the charger's chain refuse V2G over TLS; %s",
			e.Which, e.Subject, e.Path, at, renewRunning)
	}
	return ""
}
