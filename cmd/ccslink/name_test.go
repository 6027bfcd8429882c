package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ccslink/ccslink/daemon"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/output/mqtt"
	"github.com/ccslink/ccslink/internal/mosquittotest"
	"github.com/ccslink/ccslink/record"
)

// TestNameFlag: --name wins over the file's name; without either the name
// is the host's and the interface's; a name topics cannot carry is refused.
func TestNameFlag(t *testing.T) {
	named := func(file string, args ...string) config.Config {
		t.Helper()
		c, err := config.Parse("c.yaml", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("evse", flag.ContinueOnError)
		fs.String("name", "", "")
		fs.String("iface", "", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := overlayFlags(&c, fs); err != nil {
			t.Fatal(err)
		}
		nameDaemon(&c)
		return c
	}
	if c := named("name: garage\n", "--name", "carport"); c.Name != "carport" {
		t.Errorf("--name carport over name: garage gives %q", c.Name)
	}
	if c := named("name: garage\n", "--iface", "eth2"); c.Name != "garage" {
		t.Errorf("name: garage with --iface eth2 gives %q", c.Name)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if c, want := named("interface: eth1\n", "--iface", "eth2"), config.DefaultName(host, "eth2"); c.Name != want || !strings.HasSuffix(want, "-eth2") {
		t.Errorf("no name: %q, want %q", c.Name, want)
	}

	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("interface: eth1\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"evse", "--config", cfg, "--name", "Pi Garage"}, nil, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), `name: "Pi Garage" is not a name for MQTT topics and Home Assistant: use lower-case letters, digits, '-' and '_' (at most 64), e.g. "pi-garage"`) {
		t.Errorf("--name \"Pi Garage\": exit %d, stderr %q", code, errb.String())
	}
}

// TestTwoDaemonsOneBroker: two daemons' MQTT outputs, both on eth1 as on
// every Pi, on one Debian mosquitto: one named by its host, the other in
// its file. Each keeps its connection, and their client IDs, topics and
// Home Assistant IDs are their own.
func TestTwoDaemonsOneBroker(t *testing.T) {
	url := mosquittotest.Start(t)
	sub := newCollector(t, url)

	load := func(file string) config.Config {
		c, err := config.Parse("c.yaml", []byte(file+"interface: eth1\nmqtt:\n  broker: "+url+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		c.Name = c.InstanceName("pi-garage") // the host's name, as nameDaemon gives it
		return c
	}
	type instance struct {
		name, clientID string
		soc            int
		log            *lines
		out            *mqtt.Output
	}
	ds := []*instance{
		{name: "pi-garage-eth1", clientID: "ccslink-pi-garage-eth1", soc: 93},
		{name: "carport", clientID: "ccslink-carport", soc: 41},
	}
	for i, file := range []string{"", "name: carport\n"} {
		d := ds[i]
		c := load(file)
		if c.Name != d.name {
			t.Fatalf("name %q, want %q", c.Name, d.name)
		}
		d.log = &lines{}
		o, err := mqtt.New(daemon.MQTTConfig(c, "", slog.New(slog.NewTextHandler(d.log, nil))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		d.out = o
		// The second connects once the first is up: with one client ID it
		// would take the first's connection.
		sub.wait(t, "ccslink/"+d.name+"/status", "online")
	}
	for _, d := range ds {
		rec := &record.Session{}
		for _, e := range []record.Event{
			{Kind: record.KindMatched, At: time.Unix(0, 0), EVMAC: "02:00:00:00:00:01"},
			{Kind: record.KindValues, At: time.Unix(1, 0), Values: record.Values{SoC: &d.soc}},
		} {
			rec.Apply(e)
			d.out.Event(e, rec)
		}
	}
	for _, d := range ds {
		p := "ccslink/" + d.name + "/"
		sub.wait(t, p+"soc", fmt.Sprint(d.soc))
		sub.wait(t, p+"state", "reading")
		cfg := sub.wait(t, "homeassistant/sensor/ccslink_"+d.name+"/soc/config", "")
		var c struct {
			UniqueID   string `json:"unique_id"`
			StateTopic string `json:"state_topic"`
			Device     struct {
				Identifiers []string `json:"identifiers"`
				Name        string   `json:"name"`
			} `json:"device"`
		}
		if err := json.Unmarshal([]byte(cfg), &c); err != nil {
			t.Fatal(err)
		}
		if c.UniqueID != "ccslink_"+d.name+"_soc" || c.StateTopic != p+"soc" || len(c.Device.Identifiers) != 1 ||
			c.Device.Identifiers[0] != "ccslink_"+d.name || c.Device.Name != "ccslink "+d.name {
			t.Errorf("%s's soc config: %+v", d.name, c)
		}
	}
	for _, d := range ds {
		log := d.log.String()
		if n := strings.Count(log, `msg="mqtt: connected to the broker"`); n != 1 || !strings.Contains(log, "client_id="+d.clientID+" prefix=ccslink/"+d.name+"/") {
			t.Errorf("%s connected %d times:\n%s", d.name, n, log)
		}
		if strings.Contains(log, "lost the connection") {
			t.Errorf("%s lost its connection:\n%s", d.name, log)
		}
	}
}

// lines is a log destination for tests.
type lines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// collector subscribes to every topic and keeps each one's payloads.
type collector struct {
	mu   sync.Mutex
	last map[string]string
	all  map[string][]string // every payload of a topic, in order
	more chan struct{}       // closed and replaced on every message
}

func newCollector(t *testing.T, url string) *collector {
	t.Helper()
	c := &collector{last: map[string]string{}, all: map[string][]string{}, more: make(chan struct{})}
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("test-collector").SetAutoReconnect(false))
	if tok := cl.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("test subscriber cannot connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	tok := cl.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
		c.mu.Lock()
		c.last[m.Topic()] = string(m.Payload())
		c.all[m.Topic()] = append(c.all[m.Topic()], string(m.Payload()))
		close(c.more)
		c.more = make(chan struct{})
		c.mu.Unlock()
	})
	if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("test subscriber cannot subscribe: %v", tok.Error())
	}
	return c
}

// wait waits until topic's last payload is want, or, with want "", until
// topic has any payload; it returns the payload.
func (c *collector) wait(t *testing.T, topic, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		c.mu.Lock()
		got, ok := c.last[topic]
		more := c.more
		c.mu.Unlock()
		if ok && (want == "" || got == want) {
			return got
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("%s is %q, not %q, after 20s", topic, got, want)
		}
	}
}
