package daemon_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/v2gpki"
)

// messages is the level and message of each log line, without its time.
func messages(log string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if _, rest, ok := strings.Cut(l, " level="); ok {
			out = append(out, rest)
		}
	}
	return out
}

// TestChainExpiryWatch: the running daemon looks at its TLS chain at
// start and every 12 h on its clock, and at once when the chain crosses
// 30 days before the leaf's end and the end itself: nothing while more
// than 30 days are left, a WARN from then on naming the certificate, its
// subject and date and what to do, an ERROR once it is over; Close stops
// the checks.
func TestChainExpiryWatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := v2gpki.Init(dir, "DE*ABC*E1"); err != nil {
		t.Fatal(err)
	}
	chain, err := v2gpki.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	end := chain.Leaf().NotAfter
	if e := chain.FirstExpiry(); e.Which != "the SECC certificate" || !e.NotAfter.Equal(end) {
		t.Fatalf("first expiry %+v", e)
	}
	const day = 24 * time.Hour
	fake := clock.NewFake(end.Add(-30*day - 13*time.Hour))
	log, buf := testlog.New()
	c := config.Default()
	c.StateDir = ""
	d, err := daemon.New(daemon.Config{Config: c, Clock: fake, Log: log, TLSChains: []*v2gpki.Chain{chain}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	at := end.UTC().Format(time.DateTime)
	leaf := "the SECC certificate (CN=DE*ABC*E1, in " + filepath.Join(dir, v2gpki.ChainFile) + ")"
	const do = "make a new test chain with `ccslink pki init DIR` into an empty directory (a test chain), or install your CPO's renewed chain; then restart ccslink evse"
	warn := func(left string) string {
		return `WARN msg="` + leaf + " expires on " + at + " UTC, " + left + ": from then on, cars that validate the charger's chain refuse V2G over TLS; " + do + `"`
	}
	expired := `ERROR msg="` + leaf + " expired on " + at + " UTC: cars that validate the charger's chain refuse V2G over TLS; " + do + `"`
	var want []string
	fake.WaitCreated(0, nil) // the loop waits on its first timer
	made := 1
	// step moves the clock by wait, to the next check (none comes
	// earlier), and waits for the loop to wait again.
	step := func(wait time.Duration, line string) {
		t.Helper()
		if next, ok := fake.Next(); !ok || !next.Equal(fake.Now().Add(wait)) {
			t.Fatalf("at %v the next check is at %v (%v), want after %v", fake.Now(), next, ok, wait)
		}
		fake.Advance(wait)
		fake.WaitCreated(made, nil)
		made++
		if line != "" {
			want = append(want, line)
		}
		if got := messages(buf.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("at %v the log is\n%s\nwant\n%s", fake.Now(), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if buf.String() != "" {
		t.Fatalf("a chain valid for 30 days and 13 hours more: %s", buf.String())
	}
	step(12*time.Hour, "")              // 30 days 1 hour left: nothing
	step(time.Hour, warn("in 30 days")) // exactly 30 days: the warning
	step(12*time.Hour, warn("in 29 days"))
	step(12*time.Hour, warn("in 29 days"))
	// Near the end (the clock jumped): the next 12 h check warns, the
	// one at the end's next instant is the error, and so on every 12 h.
	fake.Set(end.Add(-25 * time.Hour))
	fake.WaitCreated(made, nil)
	made++
	want = append(want, warn("in 1 day"))
	step(12*time.Hour, warn("within a day"))
	step(12*time.Hour, warn("within a day"))
	step(time.Hour+time.Nanosecond, expired)
	step(12*time.Hour, expired)
	d.Close()
	if n := fake.Pending(); n != 0 {
		t.Errorf("%d timers left after Close", n)
	}
}

// TestChainExpiryAtStart: an expired chain (the clock moved on since
// Load) is an ERROR at once, a chain within 30 days a WARN, before New
// returns; the metrics export the first expiry.
func TestChainExpiryAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := v2gpki.InitCurve(dir, "DE*ABC*E1", v2gpki.P521); err != nil {
		t.Fatal(err)
	}
	chain, err := v2gpki.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	end := chain.NotAfter()
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{end.Add(-2 * 24 * time.Hour), "level=WARN msg=\"the SECC certificate (CN=DE*ABC*E1, in " + filepath.Join(dir, v2gpki.ChainFile) + ") expires on " + end.UTC().Format(time.DateTime) + " UTC, in 2 days: "},
		{end.Add(time.Second), "level=ERROR msg=\"the SECC certificate (CN=DE*ABC*E1, in " + filepath.Join(dir, v2gpki.ChainFile) + ") expired on " + end.UTC().Format(time.DateTime) + " UTC: "},
	} {
		log, buf := testlog.New()
		c := config.Default()
		c.StateDir, c.HTTP.Listen = "", "127.0.0.1:0"
		d, err := daemon.New(daemon.Config{Config: c, Clock: clock.NewFake(tc.now), Log: log, TLSChains: []*v2gpki.Chain{chain}})
		if err != nil {
			t.Fatal(err)
		}
		if got := messages(buf.String()); len(got) != 1 || !strings.HasPrefix(got[0], strings.TrimPrefix(tc.want, "level=")) {
			t.Errorf("at start %v: %q, want one line %s...", tc.now, got, tc.want)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
		body := string(get(t, "http://"+d.HTTPAddr().String()+"/metrics"))
		if line := "\nccslink_tls_chain_expiry_timestamp_seconds " + formatFloat(end) + "\n"; !strings.Contains(body, line) {
			t.Errorf("/metrics lacks %q", line)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		d.Close()
	}
}

// formatFloat is t in Unix seconds as the exposition format writes it.
func formatFloat(t time.Time) string { return strconv.FormatFloat(float64(t.Unix()), 'g', -1, 64) }

// TestChainsExpiryWatch: with a -2 chain on P-256 and a -20 chain on
// P-521 that expires 5 days earlier, each chain is looked at on its own
// dates and named in its own lines (its directory), in the order given;
// the metric is the earlier expiry.
func TestChainsExpiryWatch(t *testing.T) {
	const day = 24 * time.Hour
	var chains []*v2gpki.Chain
	for _, curve := range []v2gpki.Curve{v2gpki.P256, v2gpki.P521} {
		dir := filepath.Join(t.TempDir(), curve.String())
		if err := v2gpki.InitCurve(dir, "DE*ABC*E1", curve); err != nil {
			t.Fatal(err)
		}
		c, err := v2gpki.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		chains = append(chains, c)
	}
	p256, p521 := chains[0], chains[1]
	end := p256.Leaf().NotAfter
	// The -20 chain was issued earlier: its leaf ends first.
	p521.Leaf().NotAfter = end.Add(-5 * day)
	end521 := p521.Leaf().NotAfter
	fake := clock.NewFake(end521.Add(-30*day - 13*time.Hour))
	log, buf := testlog.New()
	c := config.Default()
	c.StateDir, c.HTTP.Listen = "", "127.0.0.1:0"
	d, err := daemon.New(daemon.Config{Config: c, Clock: fake, Log: log, TLSChains: chains})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const do = "make a new test chain with `ccslink pki init DIR` into an empty directory (a test chain), or install your CPO's renewed chain; then restart ccslink evse"
	leaf := func(c *v2gpki.Chain) string {
		return "the SECC certificate (CN=DE*ABC*E1, in " + filepath.Join(c.Dir, v2gpki.ChainFile) + ")"
	}
	warn := func(c *v2gpki.Chain, left string) string {
		return `WARN msg="` + leaf(c) + " expires on " + c.Leaf().NotAfter.UTC().Format(time.DateTime) + " UTC, " + left +
			": from then on, cars that validate the charger's chain refuse V2G over TLS; " + do + `"`
	}
	expired := func(c *v2gpki.Chain) string {
		return `ERROR msg="` + leaf(c) + " expired on " + c.Leaf().NotAfter.UTC().Format(time.DateTime) + " UTC: cars that validate the charger's chain refuse V2G over TLS; " + do + `"`
	}
	var want []string
	fake.WaitCreated(0, nil)
	made := 1
	check := func(lines ...string) {
		t.Helper()
		fake.WaitCreated(made, nil)
		made++
		want = append(want, lines...)
		if got := messages(buf.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("at %v the log is\n%s\nwant\n%s", fake.Now(), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	step := func(wait time.Duration, lines ...string) {
		t.Helper()
		if next, ok := fake.Next(); !ok || !next.Equal(fake.Now().Add(wait)) {
			t.Fatalf("at %v the next check is at %v (%v), want after %v", fake.Now(), next, ok, wait)
		}
		fake.Advance(wait)
		check(lines...)
	}
	if buf.String() != "" {
		t.Fatalf("both chains valid for more than 30 days: %s", buf.String())
	}
	step(12 * time.Hour)                         // the -20 chain has 30 days 1 hour left
	step(time.Hour, warn(p521, "in 30 days"))    // its 30 days, not the -2 chain's
	step(12*time.Hour, warn(p521, "in 29 days")) // the -2 chain's 30 days are 5 days off
	fake.Set(end.Add(-30*day - time.Hour))       // a jump: the next look is the -2 chain's 30 days
	check(warn(p521, "in 25 days"))              // the jump's own look
	step(time.Hour, warn(p256, "in 30 days"), warn(p521, "in 25 days"))
	fake.Set(end521.Add(-time.Hour))
	check(warn(p256, "in 5 days"), warn(p521, "within a day"))
	step(time.Hour+time.Nanosecond, warn(p256, "in 4 days"), expired(p521))
	step(12*time.Hour, warn(p256, "in 4 days"), expired(p521))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
	body := string(get(t, "http://"+d.HTTPAddr().String()+"/metrics"))
	if line := "\nccslink_tls_chain_expiry_timestamp_seconds " + formatFloat(end521) + "\n"; !strings.Contains(body, line) || strings.Count(body, "\nccslink_tls_chain_expiry_timestamp_seconds") != 1 {
		t.Errorf("/metrics lacks %q alone", line)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	d.Close()
	if n := fake.Pending(); n != 0 {
		t.Errorf("%d timers left after Close", n)
	}
}
