package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/internal/testlog"
)

// logWatch is a process's log that the test reads while it is written, and
// that tells when a line with a given text has appeared.
type logWatch struct {
	testlog.Buffer
	mu    sync.Mutex
	waits map[string]chan struct{}
}

func (l *logWatch) Write(p []byte) (int, error) {
	n, err := l.Buffer.Write(p)
	all := l.Buffer.String()
	l.mu.Lock()
	for text, ch := range l.waits {
		if strings.Contains(all, text) {
			close(ch)
			delete(l.waits, text)
		}
	}
	l.mu.Unlock()
	return n, err
}

// seen returns a channel closed once the log holds text.
func (l *logWatch) seen(text string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(l.Buffer.String(), text) {
		close(ch)
		return ch
	}
	if l.waits == nil {
		l.waits = map[string]chan struct{}{}
	}
	l.waits[text] = ch
	return ch
}

// TestEVSESmartEVSEDownOverVeth: the SmartEVSE refuses connections for
// about 20 s after the car's values, the car is long gone, then it comes
// back: the daemon's retries deliver exactly the car's values, once, and
// its log gives the cause of every failed attempt and the count.
func TestEVSESmartEVSEDownOverVeth(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	bin := buildCCSLink(t)

	var addr string
	nsE.Do(t, func() {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close() // the SmartEVSE is off
	})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--json",
		"--smartevse", "http://"+addr, "--state-dir", t.TempDir())
	var dErr logWatch
	daemon.Stderr = &dErr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer daemon.Process.Kill()

	car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--timeout", "40s")
	var cOut, cErr bytes.Buffer
	car.Stdout, car.Stderr = &cOut, &cErr
	if err := car.Run(); err != nil {
		t.Fatalf("car: %v\n%s%s\ndaemon:\n%s", err, cOut.String(), cErr.String(), dErr.String())
	}
	var rep pevReport
	if err := json.Unmarshal(cOut.Bytes(), &rep); err != nil || !rep.OK || rep.SoC != 93 {
		t.Fatalf("car: %+v %v", rep, err)
	}

	// The 8th attempt is 18.75 s after the first: the SmartEVSE comes back
	// then, and the 9th, 5 s later, gets through.
	refused := `msg="smartevse: attempt failed, retrying: connection refused by ` + addr + `"`
	select {
	case <-dErr.seen(refused + " url=http://" + addr + "/ev_state query=\"current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=02000000ca01\" attempt=8 "):
	case <-ctx.Done():
		t.Fatalf("no 8th refused attempt\ndaemon:\n%s", dErr.String())
	}
	stub, _ := serveStub(t, nsE, addr)
	select {
	case <-stub.new:
	case <-ctx.Done():
		t.Fatalf("nothing reached the SmartEVSE once it was back\ndaemon:\n%s", dErr.String())
	}
	const want = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=02000000ca01"
	stub.mu.Lock()
	got := stub.got
	stub.mu.Unlock()
	if len(got) != 1 || got[0].query != want {
		t.Fatalf("the SmartEVSE got %v, want %q once", got, want)
	}
	delivered := regexp.MustCompile(`level=INFO msg="smartevse: delivered after 9 attempts in (\d+) s"`)
	select {
	case <-dErr.seen(`msg="smartevse: delivered after`):
	case <-ctx.Done():
		t.Fatalf("no delivery in the log\n%s", dErr.String())
	}
	log := dErr.String()
	if m := delivered.FindStringSubmatch(log); m == nil || m[1] < "23" || len(m[1]) != 2 {
		t.Fatalf("the log does not say the values got through on the 9th attempt after about 24 s:\n%s", log)
	}
	t.Logf("%s", delivered.FindString(log))
	if n := strings.Count(log, refused); n != 8 {
		t.Fatalf("%d refused attempts logged, want 8:\n%s", n, log)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
}
