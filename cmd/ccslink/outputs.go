package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/tools/doctor"
)

// What a configuration without outputs means, and what to set: the daemon
// warns with both at start, doctor reports them as its outputs check.
const (
	noOutputsFound = "the cars' values go nowhere: no SmartEVSE, MQTT or HTTP output is configured"
	noOutputsFix   = "set smartevse.url in the configuration (or --smartevse http://<your SmartEVSE>), mqtt.broker or http.listen"
	noOutputs      = noOutputsFound + "; " + noOutputsFix
)

// outputsCheck is doctor's finding on where the cars' values go under c.
func outputsCheck(c config.Config) doctor.Check {
	out := c.Outputs()
	if len(out) == 0 {
		return doctor.Check{Name: doctor.CheckOutputs, Status: doctor.Warn, Found: noOutputsFound, Fix: noOutputsFix}
	}
	return doctor.Check{Name: doctor.CheckOutputs, Status: doctor.OK, Found: "the cars' values go to: " + strings.Join(out, ", ")}
}

// doctorChecks makes doctor's checks for the charger configured by c, the
// outputs check before the SmartEVSE's own.
func doctorChecks(ctx context.Context, c config.Config, timeout time.Duration) []doctor.Check {
	checks := doctor.Run(ctx, doctor.Config{Iface: c.Interface, EmulateModem: c.EmulateModem, SmartEVSE: c.SmartEVSE.URL, Timeout: timeout})
	at := len(checks)
	if n := len(checks); n > 0 && checks[n-1].Name == doctor.CheckSmartEVSE {
		at = n - 1
	}
	return slices.Insert(checks, at, outputsCheck(c))
}
