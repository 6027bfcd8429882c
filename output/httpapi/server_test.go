package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestListenNeedsToken(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.168.1.5:80", "ccslink.local:8080"} {
		_, err := New(Config{Listen: listen})
		var exp *ExposedError
		if !errors.Is(err, ErrExposed) || !errors.As(err, &exp) || exp.Listen != listen {
			t.Errorf("New(%q) without a token: %v, want an *ExposedError", listen, err)
			continue
		}
		if s, err := New(Config{Listen: listen, Token: "s3cret"}); err != nil {
			t.Errorf("New(%q) with a token: %v", listen, err)
		} else {
			s.Close()
		}
	}
	_, err := New(Config{Listen: "0.0.0.0:8080"})
	if want := "--http 0.0.0.0:8080 exposes the API to the network: set a token (http.token) or listen on 127.0.0.1"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	for _, listen := range []string{"127.0.0.1:8080", "127.0.0.2:80", "[::1]:8080", "localhost:8080"} {
		if s, err := New(Config{Listen: listen}); err != nil {
			t.Errorf("New(%q): %v", listen, err)
		} else {
			s.Close()
		}
	}
	for _, listen := range []string{"8080", "127.0.0.1", "127.0.0.1:nonsense", "127.0.0.1:99999"} {
		_, err := New(Config{Listen: listen})
		var ae *AddressError
		if !errors.As(err, &ae) || ae.Listen != listen || !strings.HasPrefix(err.Error(), "--http "+listen+": cannot listen there") {
			t.Errorf("New(%q): %v, want an *AddressError", listen, err)
		}
	}
}

func TestServeListenerRefusesNetworkWithoutToken(t *testing.T) {
	s := newServer(t, Config{})
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip("cannot listen on 0.0.0.0:", err)
	}
	err = s.ServeListener(context.Background(), ln)
	if !errors.Is(err, ErrExposed) {
		t.Fatalf("ServeListener on %v without a token: %v", ln.Addr(), err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("the refused listener is still open")
	}
}

func TestServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newServer(t, Config{Listen: ln.Addr().String()})
	err = s.Serve(context.Background())
	var ae *AddressError
	if !errors.As(err, &ae) || ae.Listen != ln.Addr().String() {
		t.Errorf("Serve on a busy port: %v", err)
	}
}

func TestToken(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ccslink_plugins_total 1\n")) })
	s := newServer(t, Config{Listen: "0.0.0.0:8080", Token: "s3cret", Metrics: metrics})
	h := s.Handler()
	for _, path := range []string{"/", "/api/state", "/api/sessions", "/metrics"} {
		for _, c := range []struct {
			target string
			header []string
			code   int
		}{
			{path, nil, 401},
			{path, []string{"Authorization", "Bearer wrong"}, 401},
			{path, []string{"Authorization", "Basic czNjcmV0"}, 401},
			{path + "?token=wrong", nil, 401},
			{path + "?token=s3cre", nil, 401},
			{path, []string{"Authorization", "Bearer s3cret"}, 200},
			{path + "?token=s3cret", nil, 200},
		} {
			code, body := get(t, h, c.target, c.header...)
			if code != c.code {
				t.Errorf("GET %s %v: %d, want %d", c.target, c.header, code, c.code)
			}
			if code == 401 && !strings.Contains(string(body), "Authorization: Bearer <token>") {
				t.Errorf("GET %s: the 401 does not say what to do: %s", c.target, body)
			}
		}
	}
	if _, body := get(t, h, "/metrics?token=s3cret"); string(body) != "ccslink_plugins_total 1\n" {
		t.Errorf("/metrics: %q", body)
	}

	// The event stream takes the token in the query, as EventSource cannot set headers.
	_, hs, subscribed := newHTTPWith(t, s)
	resp, err := http.Get(hs.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("/api/events without the token: %d", resp.StatusCode)
	}
	c := subscribe(t, hs.URL+"/api/events?token=s3cret", subscribed)
	if e := next(t, c); e.kind != "state" {
		t.Errorf("first event %s", e.kind)
	}
}

func TestNotFound(t *testing.T) {
	s := newServer(t, Config{})
	for _, path := range []string{"/metrics", "/api/nothing", "/index.html"} {
		if code, _ := get(t, s.Handler(), path); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
	if code, body := get(t, s.Handler(), "/"); code != 200 || !strings.Contains(string(body), `new EventSource("/api/events" + q)`) {
		t.Errorf("GET /: %d", code)
	}
	if len(page) > 20<<10 {
		t.Errorf("the page is %d bytes, over 20 KiB", len(page))
	}
	for _, external := range []string{"http://", "https://", "//fonts.", "cdn"} {
		if strings.Contains(string(page), external) {
			t.Errorf("the page refers to %q", external)
		}
	}
}

func TestServeWithoutAddress(t *testing.T) {
	s := newServer(t, Config{})
	var ae *AddressError
	if err := s.Serve(context.Background()); !errors.As(err, &ae) {
		t.Errorf("Serve without an address: %v", err)
	}
}
