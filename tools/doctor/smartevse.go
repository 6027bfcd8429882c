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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ccslink/ccslink/daemon/mdns"
	"github.com/ccslink/ccslink/daemon/output/smartevse"
)

// maxSettings bounds the /settings answer read; SmartEVSE's is about 2 KiB.
const maxSettings = 64 << 10

// checkSmartEVSE asks the SmartEVSE for GET /settings, or a receiver with a
// path of its own for its base URL: never POST /ev_state, which would
// change the SmartEVSE's state.
func checkSmartEVSE(ctx context.Context, raw string, timeout time.Duration, resolver *mdns.Resolver) Check {
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
	// A .local name by multicast DNS, as the charger reaches it; looked up
	// first, within the timeout, so that no answer is said as such.
	if resolver == nil {
		resolver = &mdns.Resolver{}
	}
	tr := smartevse.NewTransport(resolver)
	tr.DisableKeepAlives = true
	client := &http.Client{Transport: tr}
	start := time.Now()
	var resp *http.Response
	if mdns.IsLocal(u.Hostname()) {
		_, err = resolver.Lookup(ctx, u.Hostname())
	}
	if err == nil {
		resp, err = client.Do(req)
	}
	if err != nil {
		c.Status = Fail
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		notReachable := "the SmartEVSE at " + u.Host + " is not reachable: "
		if !isSmartEVSE {
			notReachable = u.Host + " is not reachable: "
		}
		var ne net.Error
		var na *mdns.NoAnswerError
		switch {
		case errors.As(err, &na):
			c.Found = notReachable + "no answer for " + na.Name + " by multicast DNS"
			c.Fix = "check the name (the SmartEVSE shows it on its display and web page as smartevse-<serial>.local), or use the charger's IP address"
		case ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout():
			c.Found = notReachable + fmt.Sprintf("no answer within %v", timeout)
			c.Fix = "is the SmartEVSE on, and this its address? try `ping " + u.Hostname() + "`"
		case errors.Is(err, syscall.ECONNREFUSED):
			c.Found = notReachable + "it refused the connection: nothing listens there"
			c.Fix = "check the SmartEVSE's address and port (its web server listens on port 80)"
		case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
			c.Found = notReachable + "no route to it: this host is not on its network"
			c.Fix = "check this host's network: `ip route get " + u.Hostname() + "`"
		case errors.As(err, new(*net.DNSError)):
			c.Found = notReachable + "cannot resolve " + u.Hostname()
			c.Fix = "give the SmartEVSE's IP address, e.g. http://10.0.0.1"
		default:
			c.Found = notReachable + err.Error()
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
	firmware := ""
	if s.Version != "" {
		firmware = ", firmware " + s.Version
	}
	// ev_state and the modem states are in /settings only with modem support.
	switch {
	case s.EVState != nil:
		c.Status = OK
		c.Found = fmt.Sprintf("the SmartEVSE at %s has modem support (GET /settings: HTTP 200, %v%s)", u.Host, took, firmware)
		if s.EVSE.StateID != nil {
			if name, ok := modemStates[*s.EVSE.StateID]; ok {
				c.Found += "; it is in " + name
			}
		}
		// What the last car's modem session told it, as its EV State card shows.
		var last []string
		if soc := s.EVState.InitialSoC; soc != nil && *soc >= 0 && *soc <= 100 {
			last = append(last, fmt.Sprintf("SoC %d %%", *soc))
		}
		if id := s.EVState.EVCCID; id != "" && len(id) <= 32 {
			last = append(last, "EVCCID "+strconv.QuoteToASCII(id))
		}
		if len(last) > 0 {
			c.Found += "; its EV State shows " + strings.Join(last, ", ")
		}
	case s.Settings.Modem == "Not present":
		// Firmware of before 2024 has a Modem option in its menu.
		c.Status = Fail
		c.Found = fmt.Sprintf("the SmartEVSE at %s answers but its Modem option is off (GET /settings: HTTP 200, %v%s)", u.Host, took, firmware)
		c.Fix = "set Modem to Experimental in the SmartEVSE's menu, or flash a current build with MODEM=1"
	default:
		c.Status = Fail
		c.Found = fmt.Sprintf("the SmartEVSE at %s answers but has no modem support (GET /settings: HTTP 200, %v%s)", u.Host, took, firmware)
		c.Fix = "flash a build with MODEM=1: without it, POST " + smartevse.DefaultPath + " is a 404"
	}
	return c
}

// modemStates names the firmware's states of its modem sequence (evse.state_id).
var modemStates = map[int]string{
	11: "MODEM_REQUEST (asking the car for digital communication)",
	12: "MODEM_WAIT (5 % PWM: waiting up to 60 s for the SoC)",
	13: "MODEM_DONE (the SoC came, or 60 s passed)",
	14: "MODEM_DENIED (the car's EVCCID is not the one required)",
}

// settings is the part of SmartEVSE's GET /settings the check reads.
type settings struct {
	Version string `json:"version"`
	EVSE    struct {
		StateID *int `json:"state_id"`
	} `json:"evse"`
	Settings struct {
		Modem string `json:"modem"` // "Experiment" (v3), "QCA7000" (v4); "Not present" in firmware with the menu option, off
	} `json:"settings"`
	EVState *struct {
		InitialSoC *int   `json:"initial_soc"`
		EVCCID     string `json:"evccid"`
	} `json:"ev_state"`
}
