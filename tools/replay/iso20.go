package replay

import (
	"fmt"
	"reflect"

	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// iso20Codec reads ISO 15118-20's messages: the common ones (payload type
// 0x8002), AC's (0x8003) and DC's (0x8004), each message with its own Header.
type iso20Codec struct {
	common iso20.Document
	acDoc  ac.Document
	dcDoc  dc.Document
	typ    v2gtp.PayloadType // of the last request
	root   reflect.Value     // the last request's message element; invalid when none
	kind   message.Kind
}

var headerType = reflect.TypeFor[iso20.MessageHeaderType]()

// rootOf returns the one set message element of a -20 document.
func rootOf(doc reflect.Value) reflect.Value {
	doc = doc.Elem()
	for i := range doc.NumField() {
		f := doc.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			if h := f.Elem().FieldByName("Header"); h.IsValid() && h.Type() == headerType {
				return f.Elem()
			}
		}
	}
	return reflect.Value{}
}

func (c *iso20Codec) decodeDoc(t v2gtp.PayloadType, p []byte) (reflect.Value, message.Kind, bool) {
	switch t {
	case v2gtp.TypeISO20AC:
		c.acDoc, c.typ = ac.Document{}, t
		if _, err := ac.Unmarshal(p, &c.acDoc); err != nil {
			return reflect.Value{}, message.None, false
		}
		return rootOf(reflect.ValueOf(&c.acDoc)), c.acDoc.Message(), true
	case v2gtp.TypeISO20DC:
		c.dcDoc, c.typ = dc.Document{}, t
		if _, err := dc.Unmarshal(p, &c.dcDoc); err != nil {
			return reflect.Value{}, message.None, false
		}
		return rootOf(reflect.ValueOf(&c.dcDoc)), c.dcDoc.Message(), true
	case v2gtp.TypeISO20CommonMessages:
		c.common, c.typ = iso20.Document{}, t
		if _, err := iso20.Unmarshal(p, &c.common); err != nil {
			return reflect.Value{}, message.None, false
		}
		return rootOf(reflect.ValueOf(&c.common)), c.common.Message(), true
	}
	return reflect.Value{}, message.None, false
}

func (c *iso20Codec) decode(t v2gtp.PayloadType, p []byte) (message.Kind, bool) {
	var ok bool
	c.root, c.kind, ok = c.decodeDoc(t, p)
	if !ok || !c.root.IsValid() {
		c.root = reflect.Value{}
		return message.None, false
	}
	return c.kind, true
}

func (c *iso20Codec) reencode(dst, id []byte) ([]byte, error) {
	if !c.root.IsValid() {
		return nil, fmt.Errorf("no ISO 15118-20 request decoded")
	}
	h := c.root.FieldByName("Header").Addr().Interface().(*iso20.MessageHeaderType)
	h.SessionID = id
	switch c.typ {
	case v2gtp.TypeISO20AC:
		return ac.Append(dst, &c.acDoc)
	case v2gtp.TypeISO20DC:
		return dc.Append(dst, &c.dcDoc)
	}
	return iso20.Append(dst, &c.common)
}

func (c *iso20Codec) carID() ([]byte, bool) {
	if !c.root.IsValid() || c.kind != message.SessionSetupReq {
		return nil, false
	}
	return []byte(c.common.SessionSetupReq.EVCCID), true
}

// cpd: -20's ChargeParameterDiscoveryReq carries no SoC or capacity.
func (c *iso20Codec) cpd() (record.Values, bool) { return record.Values{}, false }

func (c *iso20Codec) answer(p []byte) ([]byte, string) {
	h, payload, _, err := v2gtp.Split(p)
	if err != nil {
		return nil, ""
	}
	var ans iso20Codec
	root, kind, ok := ans.decodeDoc(h.Type, payload)
	if !ok || !root.IsValid() {
		return nil, ""
	}
	if kind == message.SessionSetupRes {
		return ans.common.SessionSetupRes.Header.SessionID, ""
	}
	if f := root.FieldByName("EVSEProcessing"); f.IsValid() {
		if s, ok := f.Interface().(fmt.Stringer); ok {
			return nil, s.String()
		}
	}
	return nil, ""
}
