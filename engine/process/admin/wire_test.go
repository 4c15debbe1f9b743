package admin

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/observe/backlog"
	"medispatcher/engine/observe/stats"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/process/recoverlist"
)

// jsonKey is one JSON key of a struct type and the Go type of its field.
type jsonKey struct {
	name string
	typ  reflect.Type
}

// jsonKeys lists the JSON keys of struct type t in field order.
func jsonKeys(t reflect.Type) []jsonKey {
	var out []jsonKey
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		out = append(out, jsonKey{name, f.Type})
	}
	return out
}

// TestWireSubscriptionHasTheRecordsKeys: the API's subscription has the
// keys of the daemon's record, in its order and with its types, so
// medictl's "sub set" offers exactly the keys the daemon takes and "sub
// get" shows them in the same order.
func TestWireSubscriptionHasTheRecordsKeys(t *testing.T) {
	want := jsonKeys(reflect.TypeFor[subs.Subscription]())
	got := jsonKeys(reflect.TypeFor[adminapi.Subscription]())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("adminapi.Subscription keys\n%v\nsubs.Subscription keys\n%v", got, want)
	}
}

// fill sets every exported field of the struct *p to a value of its own,
// not zero, so that a field a conversion forgets shows in the JSON.
func fill(t *testing.T, p any) {
	t.Helper()
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		f, n := v.Field(i), i+1
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f.SetInt(int64(n))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(uint64(n))
		case reflect.Float32, reflect.Float64:
			f.SetFloat(float64(n) + 0.5)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.String:
			f.SetString(fmt.Sprintf("v%d", n))
		default:
			switch f.Interface().(type) {
			case []string:
				f.Set(reflect.ValueOf([]string{fmt.Sprintf("v%d", n), "w"}))
			case time.Time:
				f.Set(reflect.ValueOf(time.Date(2024, 5, 6, 7, 8, 9, n, time.UTC)))
			default:
				t.Fatalf("%s.%s: fill does not know %s", v.Type(), v.Type().Field(i).Name, f.Type())
			}
		}
	}
}

func sameJSON(t *testing.T, what string, original, converted any) {
	t.Helper()
	want, err := json.Marshal(original)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(converted)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s: the API's form\n%s\nthe engine's\n%s", what, got, want)
	}
}

// TestWireValuesEncodeAsTheEngines: each engine value the API answers
// with encodes, once converted to its adminapi type, exactly as it did
// itself, filled and zero.
func TestWireValuesEncodeAsTheEngines(t *testing.T) {
	for _, full := range []bool{false, true} {
		var (
			s subs.Subscription
			a alert.Alert
			c backlog.Counts
			f failures.View
			l recoverlist.ListStatus
			g stats.StageLatency
		)
		if full {
			for _, p := range []any{&s, &a, &c, &f, &l, &g} {
				fill(t, p)
			}
		}
		sameJSON(t, "subscription", &s, wireSub(&s))
		sameJSON(t, "alerts", []alert.Alert{a}, wireAlerts([]alert.Alert{a}))
		sameJSON(t, "backlog counts", c, adminapi.Counts(c))
		sameJSON(t, "failure record", f, adminapi.Failure(f))
		sameJSON(t, "recover list", l, adminapi.RecoverList(l))
		sameJSON(t, "stages", []stats.StageLatency{g}, wireStages([]stats.StageLatency{g}))
	}
	sameJSON(t, "no alerts", []alert.Alert{}, wireAlerts(nil))
	sameJSON(t, "no stages", []stats.StageLatency{}, wireStages(nil))
}
