package smartevse

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPath is the firmware's handler, appended to a base URL.
const DefaultPath = "/ev_state"

// Reasons Endpoint refuses a URL; they come wrapped in an *EndpointError.
var (
	// ErrNoURL means no URL was configured.
	ErrNoURL = errors.New("smartevse: no SmartEVSE URL configured")
	// ErrNoScheme means the URL lacks http:// or https://.
	ErrNoScheme = errors.New("smartevse: the URL has no scheme")
	// ErrScheme means the URL's scheme is neither http nor https.
	ErrScheme = errors.New("smartevse: the URL's scheme is not http or https")
	// ErrNoHost means the URL names no host.
	ErrNoHost = errors.New("smartevse: the URL names no host")
	// ErrURLQuery means the URL carries a query or fragment, which the
	// values sent would replace.
	ErrURLQuery = errors.New("smartevse: the URL carries a query or fragment")
	// ErrBadURL means the URL cannot be parsed.
	ErrBadURL = errors.New("smartevse: the URL cannot be parsed")
)

// EndpointError is a configured URL that cannot be posted to.
type EndpointError struct {
	URL   string // as configured
	Err   error  // one of ErrNoURL, ErrNoScheme, ErrScheme, ErrNoHost, ErrURLQuery, ErrBadURL
	Hint  string // what to write instead, when there is a good guess
	Cause error  // the parser's error, for ErrBadURL
}

func (e *EndpointError) Error() string {
	s := e.Err.Error()
	if e.URL != "" {
		s += " (" + strconv.Quote(e.URL) + ")"
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// Unwrap returns the reason and the parser's error.
func (e *EndpointError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Endpoint turns a user's URL into the POST target: a base URL (no path, or
// "/") gets DefaultPath appended, a URL with a path is used as given less
// any trailing slash (http://10.0.0.1/ev_state/ posts to /ev_state). A URL
// without an http or https scheme, without a host, or with a query or
// fragment is an *EndpointError that says what is wrong.
func Endpoint(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	fail := func(reason error, hint string, cause error) (*url.URL, error) {
		return nil, &EndpointError{URL: raw, Err: reason, Hint: hint, Cause: cause}
	}
	if raw == "" {
		return fail(ErrNoURL, "give the SmartEVSE's address, e.g. http://10.0.0.1", nil)
	}
	if !strings.Contains(raw, "://") {
		return fail(ErrNoScheme, "write http://"+raw, nil)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the message already
		}
		return fail(ErrBadURL, "", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fail(ErrScheme, "SmartEVSE speaks plain http, e.g. http://10.0.0.1", nil)
	}
	if u.Hostname() == "" {
		return fail(ErrNoHost, "write the SmartEVSE's address after "+u.Scheme+"://, e.g. http://10.0.0.1", nil)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fail(ErrURLQuery, "leave it out: the query is where the values go", nil)
	}
	// The firmware matches the path exactly: /ev_state/ would be a 404.
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), strings.TrimRight(u.RawPath, "/")
	if u.Path == "" {
		u.Path, u.RawPath = DefaultPath, ""
	}
	return u, nil
}
