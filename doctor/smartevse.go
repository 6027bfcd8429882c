package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/ccslink/ccslink/output/smartevse"
)

// maxSettings bounds the /settings answer read; SmartEVSE's is about 2 KiB.
const maxSettings = 64 << 10

// checkSmartEVSE asks the SmartEVSE for GET /settings, or a receiver with a
// path of its own for its base URL: never POST /ev_state, which would
// change the SmartEVSE's state.
func checkSmartEVSE(ctx context.Context, raw string, timeout time.Duration) Check {
	c := Check{Name: CheckSmartEVSE}
	target, err := smartevse.Endpoint(raw)
	if err != nil {
		c.Status, c.Found = Fail, err.Error()
		c.Fix = "give --smartevse the SmartEVSE's address, e.g. http://10.0.0.1"
		var ee *smartevse.EndpointError
		if errors.As(err, &ee) && ee.Hint != "" {
			c.Found, c.Fix = ee.Err.Error()+" ("+ee.URL+")", ee.Hint
			if ee.Cause != nil {
				c.Found += ": " + ee.Cause.Error()
			}
		}
		return c
	}
	isSmartEVSE := target.Path == smartevse.DefaultPath
	u := url.URL{Scheme: target.Scheme, User: target.User, Host: target.Host, Path: "/"}
	if isSmartEVSE {
		u.Path = "/settings"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		c.Status, c.Found = Fail, "cannot ask "+u.String()+": "+err.Error()
		return c
	}
	req.Header.Set("User-Agent", "ccslink")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		c.Status = Fail
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var ne net.Error
		switch {
		case ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout():
			c.Found = fmt.Sprintf("no answer from %s within %v", u.Host, timeout)
			c.Fix = "is the SmartEVSE on, and this its address? try `ping " + u.Hostname() + "`"
		case errors.Is(err, syscall.ECONNREFUSED):
			c.Found = fmt.Sprintf("%s refused the connection: nothing listens there", u.Host)
			c.Fix = "check the SmartEVSE's address and port (its web server listens on port 80)"
		case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
			c.Found = fmt.Sprintf("no route to %s: this host is not on its network", u.Host)
			c.Fix = "check this host's network: `ip route get " + u.Hostname() + "`"
		case errors.As(err, new(*net.DNSError)):
			c.Found = fmt.Sprintf("cannot resolve %s", u.Hostname())
			c.Fix = "give the SmartEVSE's IP address, e.g. http://10.0.0.1"
		default:
			c.Found = fmt.Sprintf("cannot reach %s: %v", u.Host, err)
			c.Fix = "check the SmartEVSE's address and the network between them"
		}
		return c
	}
	defer resp.Body.Close()
	took := time.Since(start).Round(time.Millisecond)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxSettings))
	if !isSmartEVSE {
		c.Status, c.Found = OK, fmt.Sprintf("%s answered GET %s (HTTP %d, %v); the POST to %s is not tried, it would change the receiver's state", u.Host, u.Path, resp.StatusCode, took, target.Path)
		return c
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		c.Status, c.Found = Fail, fmt.Sprintf("%s answers HTTP but has no /settings (404): not a SmartEVSE?", u.Host)
		c.Fix = "give the SmartEVSE's address; for another receiver give its full URL, path included"
		return c
	case resp.StatusCode != http.StatusOK:
		c.Status, c.Found = Fail, fmt.Sprintf("%s answered GET /settings with HTTP %d", u.Host, resp.StatusCode)
		c.Fix = "check the SmartEVSE's address and its web interface"
		return c
	}
	var s settings
	if err := json.Unmarshal(body, &s); err != nil {
		c.Status, c.Found = Warn, fmt.Sprintf("%s answered GET /settings (HTTP 200, %v), but not with a SmartEVSE's JSON", u.Host, took)
		c.Fix = "give the SmartEVSE's address"
		return c
	}
	c.Status, c.Found = OK, fmt.Sprintf("the SmartEVSE at %s answered GET /settings (HTTP 200, %v)", u.Host, took)
	if s.Version != "" {
		c.Found += ", firmware " + s.Version
	}
	if s.EVState == nil {
		c.Status = Warn
		c.Found += "; it shows no ev_state"
		c.Fix = "enable the SmartEVSE's Modem option (firmware built with MODEM=1)"
	}
	return c
}

// settings is the part of SmartEVSE's GET /settings the check reads.
type settings struct {
	Version string          `json:"version"`
	EVState json.RawMessage `json:"ev_state"`
}
