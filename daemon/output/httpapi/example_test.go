package httpapi_test

import (
	"context"
	"log"

	"github.com/ccslink/ccslink/daemon/history"
	"github.com/ccslink/ccslink/daemon/output/httpapi"
	"github.com/ccslink/ccslink/daemon/output/metrics"
)

// The daemon subscribes the session history, the server and the metrics to
// the charger, serves until it stops, and closes the history after the
// charger's last plug-in, so its last records are written.
func Example() {
	m := metrics.New()
	past := history.New(history.Config{Dir: "/var/lib/ccslink"})
	defer past.Close()
	api, err := httpapi.New(httpapi.Config{
		Listen:  "127.0.0.1:8080",
		History: past,
		Metrics: m.Handler(),
	})
	if err != nil {
		log.Fatal(err) // e.g. a network address without a token
	}
	// charger.Subscribe(past); charger.Subscribe(api); charger.Subscribe(m); go charger.Run(ctx)
	go api.Serve(context.Background())
}
