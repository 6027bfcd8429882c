package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/v2gpki"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// TestEVSETLSOverVeth: ccslink evse --tls in one network namespace, and
// a car's SDP requests from another over a veth pair: a car that asks
// for TLS is told the TLS port with Security TLS, a car that asks for
// none the plain port, each on the charger's link-local address. (The
// TLS sessions themselves: daemon/charger's TestTLS, and openssl
// s_client over veth in proto/v2gpki.)
func TestEVSETLSOverVeth(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	bin := buildCCSLink(t)
	dir := filepath.Join(t.TempDir(), "pki")
	if err := v2gpki.Init(dir, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--state-dir", t.TempDir(),
		"--v2g-port", "15200", "--tls", dir, "--tls-port", "15201")
	dErr, _ := startDaemon(t, daemon)

	ask := func(withTLS bool) sdp.Response {
		var conn net.PacketConn
		var err error
		nsP.Do(t, func() { conn, err = net.ListenPacket("udp6", net.JoinHostPort(nsP.LinkLocal.String(), "0")) })
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		dst := net.UDPAddrFromAddrPort(nsP.PeerAddr(nsE, sdp.Port))
		// Asked again every 250 ms until the daemon is up and answers.
		r, err := sdp.Discover(ctx, conn, dst, sdp.ClientConfig{TLS: withTLS, Interface: nsP.Iface, MaxTries: 160})
		if err != nil {
			t.Fatalf("SDP (TLS %v): %v\ndaemon:\n%s", withTLS, err, dErr.String())
		}
		return r
	}
	charger := nsE.LinkLocal.WithZone(nsP.Iface)
	if r := ask(true); r.Security != v2gtp.SecurityTLS || r.Transport != v2gtp.TransportTCP || r.Addr != netip.AddrPortFrom(charger, 15201) {
		t.Errorf("asking for TLS: %+v, want %v:15201 with TLS", r, charger)
	}
	if r := ask(false); r.Security != v2gtp.SecurityNone || r.Addr != netip.AddrPortFrom(charger, 15200) {
		t.Errorf("asking for none: %+v, want %v:15200 without TLS", r, charger)
	}
	for _, w := range []string{`msg="serving V2G over TLS too" chain=` + dir + ` evseid=ZZ00000`, `msg="V2G over TLS" port=15201`} {
		if !strings.Contains(dErr.String(), w) {
			t.Errorf("the daemon's log lacks %s:\n%s", w, dErr.String())
		}
	}
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
}

// TestPEVTLSOverVeth: the whole path over TLS, between two processes:
// ccslink pev with a car that asks for TLS and speaks ISO 15118-20 AC,
// checking the charger's chain against the root of ccslink pki init, and
// ccslink evse --tls with that chain, -20 ranked first and the ac policy:
// the car's SoC all through its charge loops reaches the record. A
// charger with both editions' chains (--tls twice) gives this TLS 1.3 car,
// which offers ecdsa_secp521r1_sha512, the -20 chain: the car checks it
// against the -20 root alone.
func TestPEVTLSOverVeth(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	bin := buildCCSLink(t)
	p256, p521 := filepath.Join(t.TempDir(), "pki"), filepath.Join(t.TempDir(), "pki20")
	if err := v2gpki.Init(p256, ""); err != nil {
		t.Fatal(err)
	}
	if err := v2gpki.InitCurve(p521, "", v2gpki.P521); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "ccslink.yaml")
	if err := os.WriteFile(cfg, []byte("policy: ac\nv2g:\n  iso20_first: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tls  []string // evse's --tls flags
		root string   // the car's
	}{
		{"one chain", []string{"--tls", p256}, p256},
		{"both chains", []string{"--tls", p256, "--tls", p521}, p521},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pevTLS(t, bin, nsE, nsP, cfg, tc.tls, filepath.Join(tc.root, v2gpki.RootFile))
		})
	}
}

// pevTLS runs ccslink evse with tlsArgs and ccslink pev's iso20-ac-tls
// car checking the chain against root, and checks what both say.
func pevTLS(t *testing.T, bin string, nsE, nsP *netnstest.Namespace, cfg string, tlsArgs []string, root string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, append([]string{"evse", "--config", cfg, "--iface", nsE.Iface, "--emulate-modem", "--json",
		"--state-dir", t.TempDir()}, tlsArgs...)...)
	dErr, records := startDaemon(t, daemon)

	car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", "iso20-ac-tls",
		"--tls-root", root, "--timeout", "60s")
	var cOut, cErr bytes.Buffer
	car.Stdout, car.Stderr = &cOut, &cErr
	if err := car.Run(); err != nil {
		t.Fatalf("car: %v\n%s%s\ndaemon:\n%s", err, cOut.String(), cErr.String(), dErr.String())
	}
	var rep pevReport
	if err := json.Unmarshal(cOut.Bytes(), &rep); err != nil {
		t.Fatalf("car output %q: %v", cOut.String(), err)
	}
	if !rep.OK || rep.Protocol != "iso20" || rep.TLS != "1.3" || rep.SoC != 44 {
		t.Fatalf("car: %+v\ndaemon:\n%s", rep, dErr.String())
	}
	var rec struct {
		Protocol string `json:"protocol"`
		TLS      string `json:"tls"`
		SoC      struct {
			Value int  `json:"value"`
			Known bool `json:"known"`
		} `json:"soc"`
		Display *struct {
			Count int `json:"soc_update_count"`
		} `json:"display"`
	}
	select {
	case line, ok := <-records:
		if !ok {
			t.Fatalf("the daemon printed no record\n%s", dErr.String())
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("record %s: %v", line, err)
		}
	case <-ctx.Done():
		t.Fatalf("no record\ndaemon:\n%s", dErr.String())
	}
	if rec.Protocol != "iso20" || rec.TLS != "1.3" || !rec.SoC.Known || rec.SoC.Value != 44 || rec.Display == nil || rec.Display.Count != 5 {
		t.Errorf("record: %+v (display %+v)", rec, rec.Display)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
}
