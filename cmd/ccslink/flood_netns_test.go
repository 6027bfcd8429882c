package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/record"
)

// slacWatch is what a raw socket on the car's end of the cable saw of the
// charger's answers.
type slacWatch struct {
	mu          sync.Mutex
	carRun      homeplug.RunID   // of a CM_SLAC_PARM.CNF to the car, not spoofed
	carRuns     int              // distinct such RunIDs
	inds        []homeplug.RunID // of CM_ATTEN_CHAR.IND to the car
	strangerCNF int              // CM_SLAC_PARM.CNF to the flood's senders
	spoofCNF    int              // to the car's MAC with a spoofed RunID
	matchCNF    []homeplug.SlacMatchCnf
	toSpoof     int // ATTEN_CHAR.IND or MATCH.CNF carrying a spoofed RunID
	answering   chan struct{}
	once        sync.Once
}

// rssKiB returns the resident memory of the ccslink process pid runs (the
// command itself, or the child ip netns exec started).
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	for range 2 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		var name string
		rss := -1
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "Name:" {
				name = f[1]
			}
			if len(f) >= 2 && f[0] == "VmRSS:" {
				rss, _ = strconv.Atoi(f[1])
			}
		}
		if name == "ccslink" {
			return rss
		}
		c, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
		if pid, err = strconv.Atoi(strings.TrimSpace(string(c))); err != nil {
			t.Fatalf("no ccslink process under %d", pid)
		}
	}
	t.Fatal("no ccslink process")
	return 0
}

// TestSLACFloodOverVeth: the daemon (ccslink evse) in one namespace, a car
// (ccslink pev) in the other, both with --emulate-modem, and on the car's
// end of the cable a raw socket that floods the charger with
// CM_SLAC_PARM.REQ, 200 a second from random MACs and 20 a second with the
// car's MAC and random RunIDs, none followed by sounds, from before the car
// plugs in until its session ended. The car matches with its own RunID,
// the SmartEVSE gets exactly its values, the daemon answers each request
// once at most and logs no line per frame.
func TestSLACFloodOverVeth(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	bin := buildCCSLink(t)
	carMAC := homeplug.MAC(netnsEVSE.MACB)
	chargerMAC := homeplug.MAC(netnsEVSE.MACA)

	stub, stubURL := serveStub(t, nsE, "127.0.0.1:0")

	var wire *link.RawConn
	var err error
	nsP.Do(t, func() { wire, err = link.Listen(nsP.Iface, homeplug.EtherType, nil) })
	if err != nil {
		t.Fatal(err)
	}
	defer wire.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--json",
		"--smartevse", stubURL, "--state-dir", t.TempDir())
	dErr, records := startDaemon(t, daemon)

	// What comes back on the car's end.
	w := &slacWatch{answering: make(chan struct{})}
	spoofed := map[homeplug.RunID]bool{}
	var spoofMu sync.Mutex
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, link.MaxFrameSize)
		for {
			n, err := wire.ReadFrame(ctx, buf)
			if err != nil {
				return
			}
			fr, err := homeplug.Decode(buf[:n])
			if err != nil {
				continue
			}
			spoofMu.Lock()
			w.mu.Lock()
			switch m := fr.Message.(type) {
			case *homeplug.SlacParmCnf:
				switch {
				case fr.Src != chargerMAC:
				case fr.Dst != carMAC:
					w.strangerCNF++
					w.once.Do(func() { close(w.answering) })
				case spoofed[m.RunID]:
					w.spoofCNF++
				case m.RunID != w.carRun || w.carRuns == 0:
					w.carRun = m.RunID
					w.carRuns++
				}
			case *homeplug.AttenCharInd:
				if spoofed[m.RunID] {
					w.toSpoof++
				}
				if fr.Src == chargerMAC && fr.Dst == carMAC {
					w.inds = append(w.inds, m.RunID)
				}
			case *homeplug.SlacMatchCnf:
				if spoofed[m.RunID] {
					w.toSpoof++
				}
				if fr.Src == chargerMAC {
					w.matchCNF = append(w.matchCNF, *m)
				}
			}
			w.mu.Unlock()
			spoofMu.Unlock()
		}
	}()

	// The flood: one frame every 5 ms from a random MAC, and every tenth
	// tick one more with the car's MAC and a random RunID.
	rng := rand.New(rand.NewPCG(200, 14))
	var sent, spoofs int
	var sentMu sync.Mutex
	floodCtx, stopFlood := context.WithCancel(ctx)
	before := make(chan struct{}) // two seconds of flood the daemon answered
	floodDone := make(chan struct{})
	floodStart := time.Now()
	go func() {
		defer close(floodDone)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		req := func(src homeplug.MAC, run homeplug.RunID) []byte {
			f, _ := homeplug.AppendFrame(nil, homeplug.NewHeader(homeplug.BroadcastMAC, src, homeplug.CMSlacParmReq), &homeplug.SlacParmReq{RunID: run})
			return f
		}
		heard := 0 // ticks since the daemon answered
		for i := 0; ; i++ {
			select {
			case <-floodCtx.Done():
				return
			case <-tick.C:
			}
			select {
			case <-w.answering:
				if heard++; heard == 400 {
					close(before)
				}
			default:
			}
			var src homeplug.MAC
			var run homeplug.RunID
			for j := range src {
				src[j] = byte(rng.Uint32())
			}
			src[0] = src[0]&^1 | 2
			for j := range run {
				run[j] = byte(rng.Uint32())
			}
			if src == carMAC || src == chargerMAC {
				continue
			}
			if wire.WriteFrame(floodCtx, req(src, run)) != nil {
				return
			}
			sentMu.Lock()
			sent++
			sentMu.Unlock()
			if i%10 == 0 {
				for j := range run {
					run[j] = byte(rng.Uint32())
				}
				spoofMu.Lock()
				spoofed[run] = true
				spoofMu.Unlock()
				if wire.WriteFrame(floodCtx, req(carMAC, run)) != nil {
					return
				}
				sentMu.Lock()
				spoofs++
				sentMu.Unlock()
			}
		}
	}()
	defer func() { stopFlood(); <-floodDone }()

	select {
	case <-w.answering:
	case <-ctx.Done():
		t.Fatalf("the daemon never answered the flood\n%s", dErr.String())
	}
	rss0 := rssKiB(t, daemon.Process.Pid)
	select {
	case <-before:
	case <-ctx.Done():
		t.Fatal("the flood stalled")
	}

	car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--timeout", "60s")
	var cOut, cErr bytes.Buffer
	car.Stdout, car.Stderr = &cOut, &cErr
	start := time.Now()
	if err := car.Run(); err != nil {
		t.Fatalf("car: %v\n%s%s\ndaemon:\n%s", err, cOut.String(), cErr.String(), dErr.String())
	}
	took := time.Since(start)
	var rep pevReport
	if err := json.Unmarshal(cOut.Bytes(), &rep); err != nil {
		t.Fatalf("car output %q: %v", cOut.String(), err)
	}
	if !rep.OK || rep.Protocol != "din" || rep.EVCCID != "02000000ca01" || rep.SoC != 93 || rep.End != "EVSE shutdown" {
		t.Fatalf("car: %+v\n%s\ndaemon:\n%s", rep, cErr.String(), dErr.String())
	}
	select {
	case <-stub.new:
	case <-ctx.Done():
		t.Fatalf("nothing reached the SmartEVSE\ndaemon:\n%s", dErr.String())
	}
	const want = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=02000000ca01"
	stub.mu.Lock()
	post := stub.got[0]
	n := len(stub.got)
	stub.mu.Unlock()
	if post.query != want || n != 1 {
		t.Fatalf("the SmartEVSE got %q (%d posts), want %q once", post.query, n, want)
	}
	rss1 := rssKiB(t, daemon.Process.Pid)
	stopFlood()
	<-floodDone
	flooded := time.Since(floodStart)

	var rec record.Session
	select {
	case line, ok := <-records:
		if !ok {
			t.Fatalf("the daemon ended without a record\n%s", dErr.String())
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("daemon record %q: %v", line, err)
		}
	case <-ctx.Done():
		t.Fatalf("no record from the daemon after the car left\n%s", dErr.String())
	}
	if rec.EVMAC != "02:00:00:00:ca:01" || rec.SoC.Value != 93 || rec.EVCCIDHex() != "02000000ca01" {
		t.Fatalf("record: %+v", rec)
	}

	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
	cancel()
	<-readerDone
	w.mu.Lock()
	defer w.mu.Unlock()
	sentMu.Lock()
	defer sentMu.Unlock()
	// One MATCH.CNF (the car may ask twice; then the same one), with the
	// car's own RunID and a key whose NID it is.
	if w.carRuns != 1 || len(w.inds) == 0 || len(w.matchCNF) == 0 || w.toSpoof != 0 {
		t.Fatalf("the car asked with %d RunIDs; %d ATTEN_CHAR.IND, %d MATCH.CNF to it; %d answers to spoofed RunIDs",
			w.carRuns, len(w.inds), len(w.matchCNF), w.toSpoof)
	}
	for _, r := range w.inds {
		if r != w.carRun {
			t.Fatalf("ATTEN_CHAR.IND with RunID %v, the car's is %v", r, w.carRun)
		}
	}
	for _, c := range w.matchCNF {
		if c != w.matchCNF[0] || c.RunID != w.carRun || c.PEVMAC != carMAC || c.EVSEMAC != chargerMAC || c.NID != c.NMK.NID() || c.NMK == (homeplug.NMK{}) {
			t.Fatalf("MATCH.CNF %+v, the car's RunID %v", c, w.carRun)
		}
	}
	// Each request answered at most once; the 400 strangers' and 40 spoofs
	// before the car were answered (most: a loaded machine may drop a few).
	if w.strangerCNF < 300 || w.strangerCNF > sent || w.spoofCNF < 30 || w.spoofCNF > spoofs {
		t.Fatalf("%d CNF to %d strangers' requests, %d to %d spoofs", w.strangerCNF, sent, w.spoofCNF, spoofs)
	}
	logs := dErr.String()
	if strings.Contains(logs, "deferred") {
		t.Errorf("a MATCH.REQ was held back:\n%s", logs)
	}
	if lines := strings.Count(logs, "\n"); lines > 40 {
		t.Errorf("%d log lines for %d flood frames:\n%s", lines, sent+spoofs, logs)
	}
	t.Logf("%d requests from strangers and %d spoofs in %v (%d and %d answered); the car's took %v from plug-in to its end; daemon RSS %d KiB when the flood began, %d KiB at the car's end",
		sent, spoofs, flooded.Round(time.Millisecond), w.strangerCNF, w.spoofCNF, took.Round(time.Millisecond), rss0, rss1)
}
