package doctor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
)

// errNoAnswer is a modem that did not answer within the bound.
var errNoAnswer = errors.New("doctor: no answer from the modem")

// querier asks the local modem Qualcomm vendor questions.
type querier struct {
	conn    link.Conn
	host    homeplug.MAC
	timeout time.Duration
	from    homeplug.MAC // the modem that answered last
	buf     [link.MaxFrameSize]byte
}

// ask sends req to the local modem and decodes its confirmation into cnf,
// skipping every other frame until the timeout.
func (q *querier) ask(ctx context.Context, req, cnf homeplug.Message) error {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	frame, err := homeplug.AppendFrame(nil, homeplug.NewHeader(homeplug.LocalModemMAC, q.host, req.MMType()), req)
	if err != nil {
		return err
	}
	if err := q.conn.WriteFrame(ctx, frame); err != nil {
		return fmt.Errorf("sending %v: %w", req.MMType(), err)
	}
	for {
		n, err := q.conn.ReadFrame(ctx, q.buf[:])
		if err != nil {
			// The socket's deadline can fire a moment before ctx's own timer.
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				return errNoAnswer
			}
			return fmt.Errorf("reading the answer to %v: %w", req.MMType(), err)
		}
		h, p, err := homeplug.DecodeHeader(q.buf[:n])
		if err != nil || h.MMType != cnf.MMType() || h.OUI != homeplug.QualcommOUI || h.Dst != q.host || h.FMI != 0 {
			continue // someone else's frame
		}
		if err := cnf.DecodePayload(p); err != nil {
			return fmt.Errorf("the modem's %v: %w", cnf.MMType(), err)
		}
		q.from = h.Src
		return nil
	}
}
