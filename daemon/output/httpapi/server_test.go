package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/testlog"
)

func TestListenNeedsToken(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.168.1.5:80", "ccslink.local:8080"} {
		_, err := New(Config{Listen: listen})
		var exp *ExposedError
		if !errors.Is(err, ErrExposed) || !errors.As(err, &exp) || exp.Listen != listen {
			t.Errorf("New(%q) without a token: %v, want an *ExposedError", listen, err)
			continue
		}
		if _, err := New(Config{Listen: listen, Token: "s3cret"}); err != nil {
			t.Errorf("New(%q) with a token: %v", listen, err)
		}
	}
	_, err := New(Config{Listen: "0.0.0.0:8080"})
	if want := "--http 0.0.0.0:8080 exposes the API to the network: set a token (http.token) or listen on 127.0.0.1"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	for _, listen := range []string{"127.0.0.1:8080", "127.0.0.2:80", "[::1]:8080", "localhost:8080"} {
		if _, err := New(Config{Listen: listen}); err != nil {
			t.Errorf("New(%q): %v", listen, err)
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
		// The token in the address is for a browser: the page only (its
		// event stream is tried below).
		inQuery := 401
		if path == "/" {
			inQuery = 200
		}
		for _, c := range []struct {
			target string
			header []string
			code   int
		}{
			{path, nil, 401},
			{path, []string{"Authorization", "Bearer wrong"}, 401},
			{path, []string{"Authorization", "Basic czNjcmV0"}, 401},
			{path, []string{"Authorization", "s3cret"}, 401},
			{path, []string{"Authorization", "Bearer"}, 401},
			{path, []string{"Authorization", "Bearers3cret"}, 401},
			{path + "?token=wrong", nil, 401},
			{path + "?token=s3cre", nil, 401},
			{path, []string{"Authorization", "Bearer s3cret"}, 200},
			{path, []string{"Authorization", "bearer s3cret"}, 200},
			{path, []string{"Authorization", "BEARER s3cret"}, 200},
			{path, []string{"Authorization", "  Bearer   s3cret "}, 200},
			{path + "?token=wrong", []string{"Authorization", "Bearer s3cret"}, 200}, // the header counts
			{path + "?token=s3cret", nil, inQuery},
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
	if _, body := get(t, h, "/metrics", "Authorization", "bearer s3cret"); string(body) != "ccslink_plugins_total 1\n" {
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

// Past the check, the handlers see the request without its token: nothing
// below can print it.
func TestTokenNotPassedOn(t *testing.T) {
	s := newServer(t, Config{Token: "s3cret"})
	var seen []string
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.String()+" "+r.RequestURI+" "+r.URL.RawQuery)
	})
	if code, _ := get(t, s.Handler(), "/?a=1&token=s3cret&b=2"); code != 200 {
		t.Fatalf("GET /?token=: %d", code)
	}
	if code, _ := get(t, s.Handler(), "/?token=s3cret"); code != 200 {
		t.Fatalf("GET /?token=: %d", code)
	}
	if want := []string{"/?a=1&b=2 /?a=1&b=2 a=1&b=2", "/ / "}; strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("the handler saw %q, want %q", seen, want)
	}
}

// A refused request is logged in words with the client's address, the path
// and never the token; a client that keeps trying is rate-limited, and the
// first line after says how many were left out.
func TestAuthLog(t *testing.T) {
	log, buf := testlog.New()
	s := newServer(t, Config{Token: "s3cret", Log: log})
	now := t0
	s.now = func() time.Time { return now }
	try := func(target string, header ...string) {
		t.Helper()
		req := httptest.NewRequest("GET", target, nil)
		req.RemoteAddr = "192.168.1.7:51234"
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Fatalf("GET %s: %d", target, rec.Code)
		}
	}
	try("/api/state")
	try("/api/state?token=s3cret")
	try("/?token=guess1")
	try("/api/sessions", "Authorization", "Basic czNjcmV0")
	try("/metrics", "Authorization", "Bearer guess2")
	for range 6 {
		try("/api/state", "Authorization", "Bearer guess3")
	}
	try("/"+strings.Repeat("x", 1<<16), "Authorization", "Bearer guess4")
	want := []string{
		`level=WARN msg="refused an API request without the token" client=192.168.1.7:51234 path=/api/state`,
		`level=WARN msg="refused an API request with the token in its address, which only the page and /api/events take (send it as Authorization: Bearer <token>)" client=192.168.1.7:51234 path=/api/state`,
		`level=WARN msg="refused an API request with a wrong token" client=192.168.1.7:51234 path=/`,
		`level=WARN msg="refused an API request whose Authorization header is not \"Bearer <token>\"" client=192.168.1.7:51234 path=/api/sessions`,
		`level=WARN msg="refused an API request with a wrong token" client=192.168.1.7:51234 path=/metrics`,
	}
	if got := logLines(buf.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	now = now.Add(logWindow)
	try("/api/events")
	try("/"+strings.Repeat("é", 1<<10), "Authorization", "Bearer guess5")
	got := logLines(buf.String())
	long := got[len(got)-1]
	got = got[:len(got)-1]
	if last := got[len(got)-1]; len(got) != 6 || last != `level=WARN msg="refused an API request without the token" client=192.168.1.7:51234 path=/api/events suppressed=7` {
		t.Errorf("after a minute, %d lines, the last %s", len(got), last)
	}
	if want := `level=WARN msg="refused an API request with a wrong token" client=192.168.1.7:51234 path=/` + strings.Repeat("é", 31) + "…"; long != want {
		t.Errorf("a long path is logged as\n%s\nwant\n%s", long, want)
	}
	for _, secret := range []string{"s3cret", "guess", "czNjcmV0"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log shows %q:\n%s", secret, buf)
		}
	}
}

// logLines are the lines of a text log without their time.
func logLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if i := strings.Index(l, " level="); strings.HasPrefix(l, "time=") && i > 0 {
			l = l[i+1:]
		}
		out = append(out, l)
	}
	return out
}

// The http.Server's own log (a handler's panic value, for one) hides a token.
func TestErrorLogRedacts(t *testing.T) {
	log, buf := testlog.New()
	l := errorLog(log.Handler())
	l.Printf("http: panic serving 10.0.0.2:4000: GET /?token=s3cret&x=1 and /api/events?a=b&Token=s3cret\n")
	want := `level=DEBUG msg="http: panic serving 10.0.0.2:4000: GET /?token=REDACTED&x=1 and /api/events?a=b&Token=REDACTED"`
	if got := logLines(buf.String()); len(got) != 1 || got[0] != want {
		t.Errorf("log %q, want %q", got, want)
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
