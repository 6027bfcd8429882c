package secc

import "reflect"

// responseCode returns the ResponseCode of an answer body of any protocol:
// that of the one answer the body holds, nil when it holds none.
func responseCode(body any) any {
	v := reflect.ValueOf(body).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Pointer || f.IsNil() || f.Elem().Kind() != reflect.Struct {
			continue
		}
		if c := f.Elem().FieldByName("ResponseCode"); c.IsValid() {
			return c.Interface()
		}
	}
	return nil
}
