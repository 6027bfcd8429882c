package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/mosquittotest"
	"github.com/ccslink/ccslink/record"
)

// TestSimHTTP: sim --http serves the daemon's own API while the simulated
// car is plugged in; a real client on a real socket reads the car's exact
// values from /api/state. The SmartEVSE stub holds its answer until the
// test has read them, and sim keeps the car plugged in until it answers.
func TestSimHTTP(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer stub.Close()
	defer free() // before the stub closes, which waits for its handlers

	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run([]string{"sim", "--fast", "--http", addr, "--smartevse", stub.URL}, nil, pw, &errb)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	var out strings.Builder
	page := "          the charger's live page: http://" + addr + "/ (its state: /api/state)"
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if lines.Text() == page {
			break
		}
	}
	if !strings.Contains(out.String(), page+"\n") {
		t.Fatalf("no line %q before the car:\n%s", page, out.String())
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		rest <- string(b)
	}()

	// The live page's stream: its first event is the state, every event
	// carries it; the car's SoC is there once the charger has it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	events := bufio.NewScanner(resp.Body)
	events.Buffer(nil, 1<<20)
	sawSoC := false
	for !sawSoC && events.Scan() {
		data, ok := strings.CutPrefix(events.Text(), "data: ")
		if !ok {
			continue
		}
		var e struct {
			State struct{ SoC *int } `json:"state"`
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		sawSoC = e.State.SoC != nil
	}
	resp.Body.Close()
	if !sawSoC {
		t.Fatalf("/api/events ended without the car's SoC: %v", events.Err())
	}

	resp, err = http.Get("http://" + addr + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st struct {
		SoC              *int   `json:"soc"`
		FullSoC          *int   `json:"full_soc"`
		EnergyCapacityWh *int   `json:"energy_capacity_wh"`
		EnergyRequestWh  *int   `json:"energy_request_wh"`
		EVCCID           string `json:"evccid"`
		Protocol         string `json:"protocol"`
		EVMAC            string `json:"ev_mac"`
	}
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/api/state: HTTP %d %q %s: %v", resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
	}
	if st.SoC == nil || *st.SoC != 93 || st.FullSoC == nil || *st.FullSoC != 94 || st.EnergyCapacityWh == nil || *st.EnergyCapacityWh != 28000 ||
		st.EnergyRequestWh == nil || *st.EnergyRequestWh != 1820 || st.EVCCID != "0465650064c3" || st.Protocol != "din" || st.EVMAC != "04:65:65:00:64:c3" {
		t.Errorf("/api/state while the Ioniq is plugged in: %s", body)
	}

	free()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d\n%s%s%s", code, out.String(), <-rest, errb.String())
	}
	all := out.String() + <-rest
	if want := "ok: car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh, EVCCID 0465650064c3\n"; !strings.Contains(all, want) {
		t.Errorf("output lacks %q:\n%s", want, all)
	}
	if _, err := http.Get("http://" + addr + "/api/state"); err == nil {
		t.Errorf("the API still answers after sim has ended")
	}
}

// TestSimMQTT: sim --mqtt publishes the simulated car to Debian's
// mosquitto as the daemon does, under the name given.
func TestSimMQTT(t *testing.T) {
	url := mosquittotest.Start(t)
	sub := newCollector(t, url)
	var out, errb bytes.Buffer
	if code := run([]string{"sim", "--fast", "--mqtt", url, "--name", "simtest"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if want := "          the charger publishes to MQTT at " + url + " as simtest\n"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	p := "ccslink/simtest/"
	for topic, want := range map[string]string{
		"soc": "93", "full_soc": "94", "energy_capacity": "28000", "energy_request": "1820",
		"evccid": "0465650064c3", "protocol": "din", "status": "offline",
	} {
		sub.wait(t, p+topic, want)
	}
	if _, err := time.Parse(time.RFC3339, sub.wait(t, p+"soc_timestamp", "")); err != nil {
		t.Errorf("soc_timestamp: %v", err)
	}
	var s record.Session
	if err := json.Unmarshal([]byte(sub.wait(t, p+"session", "")), &s); err != nil || s.SoC.Value != 93 || !s.SoC.Known || s.EVCCIDHex() != "0465650064c3" || s.End != record.EndSessionStop {
		t.Errorf("session: %+v %v", s, err)
	}
	var c struct {
		UniqueID   string `json:"unique_id"`
		StateTopic string `json:"state_topic"`
	}
	if err := json.Unmarshal([]byte(sub.wait(t, "homeassistant/sensor/ccslink_simtest/soc/config", "")), &c); err != nil ||
		c.UniqueID != "ccslink_simtest_soc" || c.StateTopic != p+"soc" {
		t.Errorf("Home Assistant's soc config: %+v %v", c, err)
	}
}

// TestSimMQTTISO20: an ISO 15118-20 AC car under the ac policy tells its
// SoC in every charge loop; Debian's mosquitto sees the soc topic rise to
// the car's last and the record with every update, and the SmartEVSE's
// twin gets the last too.
func TestSimMQTTISO20(t *testing.T) {
	url := mosquittotest.Start(t)
	sub := newCollector(t, url)
	var out, errb bytes.Buffer
	if code := run([]string{"sim", "--fast", "--car", "iso20-ac", "--policy", "ac", "--json", "--mqtt", url, "--name", "sim20"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	var res struct {
		Protocol   string `json:"protocol"`
		SoC        int    `json:"soc"`
		SoCUpdates int    `json:"soc_updates"`
		Query      string `json:"smartevse_query"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Protocol != "iso20" || res.SoC != 44 || res.SoCUpdates != 5 || !strings.HasPrefix(res.Query, "current_soc=44&") {
		t.Fatalf("sim: %+v %v\n%s", res, err, out.String())
	}
	p := "ccslink/sim20/"
	sub.wait(t, p+"protocol", "iso20")
	sub.wait(t, p+"soc", "44")
	sub.mu.Lock()
	var socs []int
	for _, v := range sub.all[p+"soc"] {
		if v == "" {
			continue // cleared at the match
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Errorf("soc payload %q", v)
		}
		socs = append(socs, n)
	}
	sub.mu.Unlock()
	// The simulated car loops every 200 ms and the output sends a loop's
	// topics at most once a second (mqtt.update_interval), the newest
	// then: fewer than five, never one out of order, the last at the end.
	rising := len(socs) >= 1 && socs[0] >= 40 && socs[len(socs)-1] == 44
	for i := 1; i < len(socs); i++ {
		rising = rising && socs[i] > socs[i-1]
	}
	if !rising {
		t.Errorf("soc on MQTT: %v, want rising from 40 or more to 44", socs)
	}
	// The record on MQTT keeps every update of the loop, with its time.
	var rec record.Session
	if err := json.Unmarshal([]byte(sub.wait(t, p+"session", "")), &rec); err != nil || rec.Display == nil {
		t.Fatalf("session: %v", err)
	}
	var updates []int
	for _, u := range rec.Display.SoCUpdates {
		updates = append(updates, u.SoC)
	}
	if !slices.Equal(updates, []int{40, 41, 42, 43, 44}) || rec.Display.SoCUpdateCount != 5 {
		t.Errorf("the record's SoC updates on MQTT: %v (count %d)", updates, rec.Display.SoCUpdateCount)
	}
}
