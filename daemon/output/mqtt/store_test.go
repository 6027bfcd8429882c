package mqtt

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// mqttPacket is one control packet a client sent: its first byte and the rest.
type mqttPacket struct {
	first byte
	body  []byte
}

func readPacket(r *bufio.Reader) (mqttPacket, error) {
	first, err := r.ReadByte()
	if err != nil {
		return mqttPacket{}, err
	}
	n, shift := 0, 0
	for {
		b, err := r.ReadByte()
		if err != nil {
			return mqttPacket{}, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
		shift += 7
	}
	body := make([]byte, n)
	_, err = io.ReadFull(r, body)
	return mqttPacket{first, body}, err
}

// publish is a PUBLISH a client sent: its topic, and whether it came again (DUP).
type publish struct {
	topic string
	dup   bool
}

// TestNothingResent: a connection is lost while a publication waits for
// the broker's acknowledgement. After the reconnection the output
// publishes everything afresh, and paho resends nothing from a store of
// its own: that resending, with a connection lost again at once (another
// client with the same ID), panicked inside paho.
func TestNothingResent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pubs := make(chan publish, 256)
	conns := make(chan int, 4)
	go func() {
		for n := 1; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- n
			go func(n int, c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					p, err := readPacket(r)
					if err != nil {
						return
					}
					switch p.first >> 4 {
					case 1: // CONNECT
						c.Write([]byte{0x20, 2, 0, 0})
					case 8: // SUBSCRIBE: granted QoS 1
						c.Write([]byte{0x90, 3, p.body[0], p.body[1], 1})
					case 12: // PINGREQ
						c.Write([]byte{0xd0, 0})
					case 3: // PUBLISH, QoS 1
						tl := int(binary.BigEndian.Uint16(p.body))
						pubs <- publish{string(p.body[2 : 2+tl]), p.first&0x08 != 0}
						if n == 1 {
							return // the first connection breaks before any acknowledgement
						}
						c.Write([]byte{0x40, 2, p.body[2+tl], p.body[3+tl]})
					}
				}
			}(n, c)
		}
	}()
	newOutput(t, Config{Broker: "tcp://" + ln.Addr().String(), RetryInterval: time.Second})

	deadline := time.After(bound)
	next := func() publish {
		t.Helper()
		select {
		case p := <-pubs:
			return p
		case <-deadline:
			t.Fatalf("no publication within %v", bound)
		}
		return publish{}
	}
	first := next()
	if first.topic != "homeassistant/sensor/ccslink_eth1/soc/config" || first.dup {
		t.Fatalf("first publication %+v", first)
	}
	select {
	case <-conns: // the first
	case <-deadline:
	}
	select {
	case <-conns: // the reconnection
	case <-deadline:
		t.Fatal("the output did not reconnect")
	}
	// Everything again, from the first config on, and never as a resent (DUP) publication.
	for {
		p := next()
		if p.dup {
			t.Fatalf("resent from paho's store after the reconnection: %+v", p)
		}
		if p.topic == "ccslink/eth1/state" {
			return // past the configs and the status: the output's own republication
		}
	}
}
