package modemsim_test

import (
	"context"
	"fmt"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// A charger's host asks its modem for the firmware version.
func ExampleLine() {
	line := modemsim.NewLine(context.Background(), modemsim.LineConfig{})
	defer line.Close()
	evse, _ := line.AddModem(modemsim.ModemConfig{Name: "evse", EVSE: true})
	line.AddModem(modemsim.ModemConfig{Name: "ev"})

	req, _ := homeplug.AppendFrame(nil, homeplug.NewHeader(homeplug.LocalModemMAC, evse.HostMAC(), homeplug.VSSwVerReq), &homeplug.SwVerReq{})
	evse.Host().WriteFrame(context.Background(), req)
	buf := make([]byte, 1514)
	n, _ := evse.Host().ReadFrame(context.Background(), buf)
	f, _ := homeplug.Decode(buf[:n])
	fmt.Println(f.MMType, f.Message.(*homeplug.SwVerCnf).Version)
	// Output: VS_SW_VER.CNF MAC-QCA7000-1.1.0.730-04-20140815-CS
}
