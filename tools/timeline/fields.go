package timeline

import (
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
)

// keyFields are the values a message line shows, by their schema names in
// DIN 70121, ISO 15118-2 and ISO 15118-20.
var keyFields = map[string]bool{
	"ResponseCode": true, "EVSEProcessing": true, "EVProcessing": true, "EVCCID": true, "EVSEID": true,
	"SelectedPaymentOption": true, "RequestedEnergyTransferMode": true, "SelectedEnergyTransferService": true,
	"ChargeProgress": true, "ChargingSession": true, "ReadyToChargeState": true, "EVReady": true,
	"EVErrorCode": true, "EVSEStatusCode": true, "EVSEIsolationStatus": true, "EVSENotification": true,
	"ChargingComplete": true, "BulkChargingComplete": true,
	// state of charge and energy
	"EVRESSSOC": true, "FullSOC": true, "BulkSOC": true, "PresentSOC": true, "TargetSOC": true,
	"MinimumSOC": true, "MaximumSOC": true, "EVEnergyCapacity": true, "EVEnergyRequest": true,
	"EAmount": true, "BatteryEnergyCapacity": true, "EVTargetEnergyRequest": true,
	"EVMaximumEnergyRequest": true, "EVMinimumEnergyRequest": true,
	"RemainingTimeToFullSoC": true, "RemainingTimeToBulkSoC": true, "DepartureTime": true,
	// targets, limits and present values
	"EVTargetVoltage": true, "EVTargetCurrent": true, "EVSEPresentVoltage": true, "EVSEPresentCurrent": true,
	"EVPresentVoltage": true, "EVMaximumVoltageLimit": true, "EVMaximumCurrentLimit": true,
	"EVMaximumPowerLimit": true, "EVSEMaximumVoltageLimit": true, "EVSEMaximumCurrentLimit": true,
	"EVSEMaximumPowerLimit": true, "EVMaxVoltage": true, "EVMaxCurrent": true, "EVMinCurrent": true,
	"EVSEMaxCurrent": true, "EVSENominalVoltage": true, "EVMaximumChargePower": true,
	"EVMaximumChargeCurrent": true, "EVMaximumVoltage": true, "EVMinimumVoltage": true,
	"EVSEMaximumChargePower": true, "EVSEMaximumChargeCurrent": true, "EVSEMaximumVoltage": true,
	// ISO 15118-20's loops: the power asked, given and flowing; its limits reached
	"EVPresentActivePower": true, "EVMinimumChargePower": true, "EVSETargetActivePower": true,
	"EVSEPresentActivePower": true, "EVSEMinimumChargePower": true, "EVSENominalFrequency": true,
	"EVMaximumDischargePower": true, "EVSEMaximumDischargePower": true,
	"EVSEPowerLimitAchieved": true, "EVSECurrentLimitAchieved": true, "EVSEVoltageLimitAchieved": true,
	"RemainingTimeToMinimumSOC": true, "RemainingTimeToTargetSOC": true, "RemainingTimeToMaximumSOC": true,
	"EVTerminationCode": true, "EVTerminationExplanation": true,
}

// skipFields are subtrees with nothing for a timeline line: signatures,
// certificates and tariffs, big and slow to walk.
var skipFields = map[string]bool{
	"Signature": true, "SAScheduleList": true, "SalesTariff": true, "ContractSignatureCertChain": true,
	"ContractSignatureEncryptedPrivateKey": true, "DHpublickey": true, "eMAID": true,
	"OEMProvisioningCert": true, "ListOfRootCertificateIDs": true, "SAProvisioningCertificateChain": true,
	"CertificateChain": true, "MeterInfo": true, "Header": true,
}

const maxDepth = 10

var stringer = reflect.TypeFor[fmt.Stringer]()

// collect appends the key fields found in v, a decoded message, in schema
// order; a name seen twice keeps its first value.
func collect(out []Field, v reflect.Value, name string, depth int) []Field {
	if depth > maxDepth || skipFields[name] {
		return out
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return out
		}
		v = v.Elem()
	}
	want := keyFields[name] && !has(out, name)
	switch v.Kind() {
	case reflect.Struct:
		ti := infoOf(v.Type())
		if ti.physical {
			if want {
				f := physical(v, ti)
				f.Name = name
				out = append(out, f)
			}
			return out
		}
		for _, fi := range ti.fields {
			out = collect(out, v.Field(fi.index), fi.name, depth+1)
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if want {
				out = append(out, Field{Name: name, Value: hex.EncodeToString(v.Bytes())})
			}
		}
		return out // lists (services, schedules) are left out
	}
	if !want {
		return out
	}
	f := Field{Name: name}
	if v.Type().Implements(stringer) {
		f.Value = v.Interface().(fmt.Stringer).String()
		return append(out, f)
	}
	switch v.Kind() {
	case reflect.String:
		f.Value = v.String()
	case reflect.Bool:
		f.Value = v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f.Value = int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f.Value = int(v.Uint())
	default:
		return out
	}
	if strings.Contains(strings.ToUpper(name), "SOC") && !strings.HasPrefix(name, "Remaining") {
		f.Unit = "%"
	}
	return append(out, f)
}

func has(fs []Field, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

// typeInfo is what collect needs of a struct type, worked out once.
type typeInfo struct {
	physical         bool
	value, exp, unit int // field indices; unit -1 when absent
	fields           []fieldInfo
}

type fieldInfo struct {
	name  string
	index int
}

var typeInfos sync.Map // reflect.Type -> *typeInfo

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{value: -1, exp: -1, unit: -1}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || skipFields[f.Name] {
			continue
		}
		switch f.Name {
		case "Value":
			ti.value = i
		case "Multiplier", "Exponent":
			ti.exp = i
		case "Unit":
			ti.unit = i
		}
		ti.fields = append(ti.fields, fieldInfo{f.Name, i})
	}
	ti.physical = ti.value >= 0 && ti.exp >= 0 && isInt(t.Field(ti.value).Type) && isInt(t.Field(ti.exp).Type)
	typeInfos.Store(t, ti)
	return ti
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// physical reads a DIN or ISO-2 PhysicalValueType (Multiplier, Unit, Value)
// or an ISO-20 RationalNumberType (Exponent, Value) as a number with the
// multiplier applied.
func physical(v reflect.Value, ti *typeInfo) Field {
	f := Field{Value: scale(v.Field(ti.value).Int(), v.Field(ti.exp).Int())}
	if ti.unit >= 0 {
		u := v.Field(ti.unit)
		if u.Kind() == reflect.Pointer && !u.IsNil() {
			u = u.Elem()
		}
		if u.Kind() != reflect.Pointer && u.Type().Implements(stringer) {
			f.Unit = u.Interface().(fmt.Stringer).String()
		}
	}
	return f
}

// scale returns v * 10^exp, exact for the small values V2G carries.
func scale(v, exp int64) float64 {
	if exp < 0 {
		return float64(v) / math.Pow10(int(-exp))
	}
	return float64(v) * math.Pow10(int(exp))
}
