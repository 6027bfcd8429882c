package evcc_test

import (
	"fmt"

	"github.com/ccslink/ccslink/proto/evcc"
)

func ExampleProfiles() {
	for _, p := range evcc.Profiles() {
		fmt.Printf("%-16s %s\n", p.Name, p.Car)
	}
	// Output:
	// ioniq            Hyundai Ioniq (2018)
	// tesla-model3     Tesla Model 3
	// id3              VW ID.3 (MEB)
	// ev6              Kia EV6
	// polestar2        Polestar 2
	// stellantis       Peugeot e-208 (Stellantis e-CMP)
	// no-capacity      BMW iX (2022)
	// full             Hyundai Ioniq at 100 %
	// phev             plug-in hybrid (DC-capable, 13.8 kWh)
	// ignores-shutdown VW ID.4 (MEB) that ignores EVSE_Shutdown
	// ac-only          Mercedes EQE offering ISO-2 only, AC
	// refuses-ac       car that refuses AC after a V2G session (unnamed)
	// iso20-ac         77 kWh car speaking ISO 15118-20 AC (dynamic mode, EIM)
	// iso20-ac-tls     77 kWh car speaking ISO 15118-20 AC over TLS 1.3 (dynamic mode, EIM)
	// iso20-ac-scheduled 77 kWh car speaking ISO 15118-20 AC (scheduled mode, EIM)
	// iso20-dc         77 kWh car speaking ISO 15118-20 DC (dynamic mode, EIM)
	// ioniq-phev       Hyundai Ioniq plug-in hybrid
	// zoe              Renault Zoe R/Q (AC-only charger)
}

func ExampleLookup() {
	_, err := evcc.Lookup("trabant")
	fmt.Println(err)
	// Output:
	// evcc: unknown car "trabant"; choose one of ioniq, tesla-model3, id3, ev6, polestar2, stellantis, no-capacity, full, phev, ignores-shutdown, ac-only, refuses-ac, iso20-ac, iso20-ac-tls, iso20-ac-scheduled, iso20-dc, ioniq-phev, zoe
}
