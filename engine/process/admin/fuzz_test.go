package admin

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/internal/config"
)

// jsonFields maps the JSON keys of a struct type to their field index.
func jsonFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag != "" && tag != "-" {
			m[tag] = i
		}
	}
	return m
}

var subKeys = jsonFields(reflect.TypeFor[subs.Subscription]())

// named reports whether a JSON object's keys name key, as encoding/json
// matches them (without regard to case).
func named(keys map[string]json.RawMessage, key string) bool {
	for k := range keys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// fuzzAPI is an API with the default configuration and no servers: enough
// for the body decoders and validation.
func fuzzAPI(tb testing.TB) *API {
	tb.Helper()
	cfg := config.Default()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := alert.New(cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	return New(Deps{Config: cfg, Alerts: m, Log: log})
}

// asAPIError asserts err is an *apiError with status and a message.
func asAPIError(t *testing.T, err error, statuses ...int) *apiError {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("not an API error: %T %v", err, err)
	}
	ok := false
	for _, s := range statuses {
		ok = ok || ae.Status == s
	}
	if !ok || ae.Code == "" || ae.Message == "" {
		t.Fatalf("API error %d %q %q: want status %v, a code and a message", ae.Status, ae.Code, ae.Message, statuses)
	}
	return ae
}

// checkSub asserts what the API does with a decoded subscription: valid
// ones round-trip through their JSON, invalid ones get a 422 whose
// details name real keys.
func checkSub(t *testing.T, a *API, s *subs.Subscription) {
	t.Helper()
	err := a.validate(s)
	if err == nil {
		if err := s.Validate(a.limits()); err != nil {
			t.Fatalf("accepted but invalid: %v", err)
		}
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeSub(data)
		if err != nil || !again.Equal(s) {
			t.Fatalf("round trip of %s: %+v, %v", data, again, err)
		}
		return
	}
	ae := asAPIError(t, err, http.StatusUnprocessableEntity)
	if len(ae.Details) == 0 {
		t.Fatalf("422 without details: %v", ae)
	}
	for _, d := range ae.Details {
		if _, ok := subKeys[d.Field]; !ok || d.Allowed == "" {
			t.Fatalf("detail %+v: not a key, or nothing allowed", d)
		}
	}
}

// FuzzSubscriptionBody decodes arbitrary bytes as the body of POST and PUT
// /api/v1/subscriptions and validates the result.
func FuzzSubscriptionBody(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"topic":"order_paid","subscriber_id":3,"url":"http://127.0.0.1:8080/hook"}`,
		`{"id":1,"topic":"a","url":"http://h/\n[T_ENV:prod]https://p/","concurrency":3,"rate":0.5,"burst":2,"alert_enabled":false}`,
		`{"id":1,"topic":"a b","url":"ftp://h","concurrency":-1,"timeout_ms":99999999,"drop_action":5}`,
		`{"id":1,"colour":"blue"}`,
		`{"id":"1"}`,
		`{"ID":2,"Topic":"x","URL":"http://h/"}`,
		`{"id":1}{"id":2}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	a := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeSub(body)
		if err != nil {
			if s != nil {
				t.Fatal("a subscription and an error")
			}
			asAPIError(t, err, http.StatusBadRequest)
			return
		}
		checkSub(t, a, s)
	})
}

// patchBase is the subscription the PATCH fuzz target changes: every key
// away from its zero value.
var patchBase = &subs.Subscription{
	ID: 9, Topic: "order_paid", SubscriberID: 4, URL: "http://127.0.0.1/a\n[T_ENV:prod]http://127.0.0.1/p",
	TimeoutMS: 3000, Concurrency: 2, RetryConcurrency: 1, IntervalMS: 10, Rate: 0.5, Burst: 3,
	ReceiveBench: true, AlertEnabled: true, DropThreshold: 10, DropAction: subs.DropLog,
	AlertEmails: "a@example.com", AlertPhones: "123", AlertReceiver: "team",
	AlertIntervalS: 60, AlertFailureWindowS: 120, AlertFailureThreshold: 5, AlertRetryThreshold: 3,
	AlertBacklogThreshold: 100,
}

// FuzzPatchBody applies arbitrary bytes as the body of PATCH
// /api/v1/subscriptions/{id} to patchBase.
func FuzzPatchBody(f *testing.F) {
	for _, s := range []string{
		`{"concurrency":7}`,
		`{"Concurrency":7,"concurrency":8}`,
		`{"url":"http://127.0.0.1/b","rate":0,"alert_enabled":false}`,
		`{"id":10}`,
		`{"topic":""}`,
		`{"rate":-1,"drop_action":4}`,
		`{"colour":"blue"}`,
		`{"concurrency":"many"}`,
		`{}`, `[]`, `null`, `"x"`, `{`,
	} {
		f.Add([]byte(s))
	}
	a := fuzzAPI(f)
	if err := patchBase.Validate(a.limits()); err != nil {
		f.Fatal(err)
	}
	base := reflect.ValueOf(patchBase).Elem()
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := patchedSub(patchBase, body)
		if err != nil {
			if s != nil {
				t.Fatal("a subscription and an error")
			}
			asAPIError(t, err, http.StatusBadRequest)
			return
		}
		// What the body does not name keeps its value.
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(body, &keys); err != nil {
			t.Fatalf("a patch accepted whose body is not an object: %v", err)
		}
		got := reflect.ValueOf(s).Elem()
		for key, i := range subKeys {
			if !named(keys, key) && !reflect.DeepEqual(got.Field(i).Interface(), base.Field(i).Interface()) {
				t.Fatalf("%s changed from %v to %v by %s", key, base.Field(i), got.Field(i), body)
			}
		}
		// The same patch again changes nothing more.
		again, err := patchedSub(s, body)
		if err != nil || !again.Equal(s) {
			t.Fatalf("patch %s not idempotent: %+v then %+v, %v", body, s, again, err)
		}
		checkSub(t, a, s)
	})
}

// FuzzAlertSettingsBody sends arbitrary bytes as the body of PUT
// /api/v1/alerts/settings.
func FuzzAlertSettingsBody(f *testing.F) {
	for _, s := range []string{
		`{"default_alarm_receiver":"ops","default_alarm_chan":"sms"}`,
		`{"global_message_blocked_alert_threshold":100,"main_queue_blocked_alert_threshold":0,"global_message_blocked_alarm_interval_s":30}`,
		`{"global_message_blocked_alert_threshold":-1}`,
		`{"global_message_blocked_alarm_interval_s":0}`,
		`{"DEFAULT_ALARM_RECEIVER":"x"}`,
		`{"colour":"blue"}`,
		`{"default_alarm_chan":3}`,
		`{} {}`, `{"default_alarm_chan":"x"}]`, `{}`, `null`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	a := fuzzAPI(f)
	initial := a.d.Alerts.Globals()
	initialView, err := json.Marshal(globalsView(initial))
	if err != nil {
		f.Fatal(err)
	}
	var settingKeys map[string]json.RawMessage
	if err := json.Unmarshal(initialView, &settingKeys); err != nil {
		f.Fatal(err)
	}
	set := func(body []byte) (any, error) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetBody(body)
		return a.setAlertSettings(&ctx, 0)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := a.d.Alerts.SetGlobals(initial); err != nil {
			t.Fatal(err)
		}
		out, err := set(body)
		if err != nil {
			ae := asAPIError(t, err, http.StatusBadRequest, http.StatusUnprocessableEntity)
			if ae.Status == http.StatusUnprocessableEntity && !strings.Contains(ae.Message, "Alarm") && !strings.Contains(ae.Message, "Threshold") {
				t.Fatalf("422 naming no setting: %v", ae)
			}
			if a.d.Alerts.Globals() != initial {
				t.Fatalf("a refused body changed the settings: %+v", a.d.Alerts.Globals())
			}
			return
		}
		g := a.d.Alerts.Globals()
		if err := a.d.Alerts.SetGlobals(g); err != nil {
			t.Fatalf("accepted settings do not re-validate: %v", err)
		}
		view, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := json.Marshal(globalsView(g)); string(view) != string(want) {
			t.Fatalf("answer %s, settings %s", view, want)
		}
		// What the body does not name keeps its value.
		var keys, now map[string]json.RawMessage
		if err := json.Unmarshal(view, &now); err != nil {
			t.Fatal(err)
		}
		// An accepted body is exactly one JSON object (decode refuses
		// anything after it, `{…}]` included).
		if err := json.Unmarshal(body, &keys); err != nil {
			t.Fatalf("accepted body %q: %v", body, err)
		}
		for k := range settingKeys {
			if !named(keys, k) && string(now[k]) != string(settingKeys[k]) {
				t.Fatalf("%s changed from %s to %s by %s", k, settingKeys[k], now[k], body)
			}
		}
		// Round trip: the answer sent back sets the same.
		if err := a.d.Alerts.SetGlobals(initial); err != nil {
			t.Fatal(err)
		}
		if _, err := set(view); err != nil || a.d.Alerts.Globals() != g {
			t.Fatalf("the answer %s sent back: %+v, %v", view, a.d.Alerts.Globals(), err)
		}
	})
}
