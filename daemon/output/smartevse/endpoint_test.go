package smartevse

import (
	"errors"
	"testing"
)

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"http://10.0.0.1", "http://10.0.0.1/ev_state"},
		{"http://10.0.0.1/", "http://10.0.0.1/ev_state"},
		{"http://10.0.0.1/ev_state", "http://10.0.0.1/ev_state"},
		{"http://host:8080/custom/path", "http://host:8080/custom/path"},
		{"http://host:8080/custom/path/", "http://host:8080/custom/path"},
		{"http://10.0.0.1/ev_state/", "http://10.0.0.1/ev_state"},
		{"http://10.0.0.1//", "http://10.0.0.1/ev_state"},
		{"http://10.0.0.1/a%2Fb/", "http://10.0.0.1/a%2Fb"},
		{"http://smartevse-1234.local", "http://smartevse-1234.local/ev_state"},
		{" http://10.0.0.1 \n", "http://10.0.0.1/ev_state"},
		{"HTTP://SmartEVSE.local", "http://SmartEVSE.local/ev_state"},
		{"https://evse.example", "https://evse.example/ev_state"},
		{"http://[fe80::1%25eth0]/", "http://[fe80::1%25eth0]/ev_state"},
	} {
		u, err := Endpoint(tc.raw)
		if err != nil {
			t.Errorf("Endpoint(%q): %v", tc.raw, err)
			continue
		}
		if got := u.String(); got != tc.want {
			t.Errorf("Endpoint(%q) = %s, want %s", tc.raw, got, tc.want)
		}
	}
}

func TestEndpointErrors(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want error
		msg  string
	}{
		{"", ErrNoURL, "smartevse: no SmartEVSE URL configured: give the SmartEVSE's address, e.g. http://10.0.0.1"},
		{"10.0.0.1", ErrNoScheme, `smartevse: the URL has no scheme ("10.0.0.1"): write http://10.0.0.1`},
		{"10.0.0.1:80/ev_state", ErrNoScheme, `smartevse: the URL has no scheme ("10.0.0.1:80/ev_state"): write http://10.0.0.1:80/ev_state`},
		{"ftp://10.0.0.1", ErrScheme, `smartevse: the URL's scheme is not http or https ("ftp://10.0.0.1"): SmartEVSE speaks plain http, e.g. http://10.0.0.1`},
		{"http://", ErrNoHost, `smartevse: the URL names no host ("http://"): write the SmartEVSE's address after http://, e.g. http://10.0.0.1`},
		{"http:///ev_state", ErrNoHost, `smartevse: the URL names no host ("http:///ev_state"): write the SmartEVSE's address after http://, e.g. http://10.0.0.1`},
		{"http://:80/", ErrNoHost, `smartevse: the URL names no host ("http://:80/"): write the SmartEVSE's address after http://, e.g. http://10.0.0.1`},
		{"http://10.0.0.1/ev_state?current_soc=5", ErrURLQuery, `smartevse: the URL carries a query or fragment ("http://10.0.0.1/ev_state?current_soc=5"): leave it out: the query is where the values go`},
		{"http://10.0.0.1/#top", ErrURLQuery, `smartevse: the URL carries a query or fragment ("http://10.0.0.1/#top"): leave it out: the query is where the values go`},
		{"http://10.0.0.1:port/", ErrBadURL, `smartevse: the URL cannot be parsed ("http://10.0.0.1:port/"): invalid port ":port" after host`},
		{"http://10.0.0.1/%zz", ErrBadURL, `smartevse: the URL cannot be parsed ("http://10.0.0.1/%zz"): invalid URL escape "%zz"`},
	} {
		u, err := Endpoint(tc.raw)
		var ee *EndpointError
		if !errors.Is(err, tc.want) || !errors.As(err, &ee) || u != nil {
			t.Errorf("Endpoint(%q) = %v, %v; want an *EndpointError for %v", tc.raw, u, err, tc.want)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("Endpoint(%q) error\n got %s\nwant %s", tc.raw, err, tc.msg)
		}
	}
}
