package smartevse_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/ccslink/ccslink/daemon/output/smartevse"
)

func ExampleSender() {
	// A stand-in for the SmartEVSE at http://10.0.0.1.
	evse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("SmartEVSE:", r.Method, r.URL.Path, r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	}))
	defer evse.Close()

	done := make(chan smartevse.Delivery, 1)
	s, err := smartevse.New(smartevse.Config{
		URL:      evse.URL, // a base URL: /ev_state is appended
		Log:      slog.New(slog.DiscardHandler),
		OnResult: func(d smartevse.Delivery) { done <- d },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// SessionSetupReq gave the EVCCID; ChargeParameterDiscoveryReq the rest.
	id := smartevse.Unknown()
	id.EVCCID = "0465650064c3"
	s.Update(id)
	s.Update(smartevse.State{SoC: 93, FullSoC: 94, EnergyCapacity: 28000, EnergyRequest: -1})

	d := <-done
	fmt.Println("status", d.Status, "after", d.Attempts, "attempt, error:", d.Err)
	// Output:
	// SmartEVSE: POST /ev_state current_soc=93&full_soc=94&energy_capacity=28000&energy_request=-1&evccid=0465650064c3
	// status 200 after 1 attempt, error: <nil>
}
