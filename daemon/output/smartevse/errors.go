package smartevse

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Outcomes of a delivery that failed; they come wrapped in a *DeliveryError.
var (
	// ErrNotFound means the answer was 404: nothing is at the URL's path.
	// Either the path is wrong, or the firmware was built without modem
	// support (MODEM=1), which is what serves POST /ev_state.
	ErrNotFound = errors.New("smartevse: nothing at the URL's path (HTTP 404)")
	// ErrRefused means nothing accepted the connection.
	ErrRefused = errors.New("smartevse: connection refused")
	// ErrTimeout means no answer came within the attempt's timeout.
	ErrTimeout = errors.New("smartevse: no answer in time")
	// ErrUnreachable means the connection failed otherwise (no route, unknown name, reset).
	ErrUnreachable = errors.New("smartevse: cannot reach the SmartEVSE")
	// ErrStatus means the SmartEVSE answered with a status other than 2xx or 404.
	ErrStatus = errors.New("smartevse: unexpected HTTP status")
	// ErrClosed means the delivery was abandoned because the Sender was closed.
	ErrClosed = errors.New("smartevse: sender closed")
	// ErrNewPlugIn means the delivery was abandoned because the next car's
	// values replaced it.
	ErrNewPlugIn = errors.New("smartevse: replaced by the next car's values")
)

// DeliveryError is a POST to the SmartEVSE that did not succeed.
type DeliveryError struct {
	URL      string        // the POST target, without the query
	Host     string        // the target's host:port, for Short
	Path     string        // the target's path, for ErrNotFound
	Err      error         // one of the outcome errors above
	Status   int           // the HTTP status, when an answer came
	Location string        // where a redirect pointed, if one did
	Timeout  time.Duration // the attempt's timeout, for ErrTimeout
	Cause    error         // the transport's error, if any
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	b.WriteString("smartevse: POST ")
	b.WriteString(e.URL)
	b.WriteString(": ")
	switch e.Err {
	case ErrNotFound:
		b.WriteString("HTTP 404: ")
		b.WriteString(e.nothingAt())
		b.WriteString(": check the URL, or the firmware's modem option (a SmartEVSE serves POST ")
		b.WriteString(DefaultPath)
		b.WriteString(" only when built with MODEM=1)")
	case ErrRefused:
		b.WriteString("connection refused: nothing listens there; check that the SmartEVSE is on and its address and port are right")
	case ErrTimeout:
		b.WriteString("no answer within ")
		b.WriteString(e.Timeout.String())
		b.WriteString(": the SmartEVSE is off, out of reach or busy")
	case ErrUnreachable:
		b.WriteString("cannot reach the SmartEVSE")
		if e.Cause != nil {
			b.WriteString(": ")
			b.WriteString(e.Cause.Error())
		}
	case ErrStatus:
		b.WriteString("the SmartEVSE answered HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" ")
			b.WriteString(t)
		}
		if e.Location != "" {
			b.WriteString(": it redirects to ")
			b.WriteString(e.Location)
			b.WriteString("; configure that URL instead")
		}
	case ErrClosed:
		b.WriteString("abandoned: the sender was closed")
	case ErrNewPlugIn:
		b.WriteString("abandoned: the next car's values replaced these")
	default:
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Short says what went wrong in a few words, for a log line's message,
// e.g. "connection refused by 10.0.0.1:80"; Error adds what to do.
func (e *DeliveryError) Short() string {
	host := e.Host
	if host == "" {
		host = e.URL
	}
	switch e.Err {
	case ErrNotFound:
		return e.nothingAt() + " (HTTP 404)"
	case ErrRefused:
		return "connection refused by " + host
	case ErrTimeout:
		return "no answer from " + host + " within " + e.Timeout.String()
	case ErrUnreachable:
		if e.Cause != nil {
			return "cannot reach " + host + ": " + e.Cause.Error()
		}
		return "cannot reach " + host
	case ErrStatus:
		s := "HTTP " + strconv.Itoa(e.Status)
		if t := http.StatusText(e.Status); t != "" {
			s += " " + t
		}
		return s + " from " + host
	case ErrClosed:
		return "the daemon is stopping"
	case ErrNewPlugIn:
		return "the next car's values replaced these"
	}
	return e.Err.Error()
}

// nothingAt is "nothing at /ev_state on 10.0.0.1:80".
func (e *DeliveryError) nothingAt() string {
	host := e.Host
	if host == "" {
		host = e.URL
	}
	path := e.Path
	if path == "" {
		path = "/"
	}
	return "nothing at " + path + " on " + host
}

// Unwrap returns the outcome and the transport's error.
func (e *DeliveryError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// retry reports whether another attempt may succeed where this one failed.
func (e *DeliveryError) retry() bool {
	switch e.Err {
	case ErrRefused, ErrTimeout, ErrUnreachable:
		return true
	case ErrStatus:
		return e.Status >= 500
	}
	return false
}
