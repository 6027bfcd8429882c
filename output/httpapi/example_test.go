package httpapi_test

import (
	"context"
	"log"

	"github.com/ccslink/ccslink/output/httpapi"
	"github.com/ccslink/ccslink/output/metrics"
)

// The daemon subscribes the server (and the metrics) to the charger, serves
// until it stops, and closes the server after the charger's last plug-in.
func Example() {
	m := metrics.New()
	api, err := httpapi.New(httpapi.Config{
		Listen:   "127.0.0.1:8080",
		StateDir: "/var/lib/ccslink",
		Metrics:  m.Handler(),
	})
	if err != nil {
		log.Fatal(err) // e.g. a network address without a token
	}
	defer api.Close()
	// charger.Subscribe(api); charger.Subscribe(m); go charger.Run(ctx)
	go api.Serve(context.Background())
}
