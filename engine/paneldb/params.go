package paneldb

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"medispatcher/engine/dispatch/subs"
)

// Param is one row of subscription_params: a parameter set on one
// subscription. A parameter without a row takes the daemon's default.
type Param struct {
	Name  string // param_name, as 2.x and its control panel spell it
	Value string // param_value
}

// Names of the parameters that override a column of subscriptions.
const (
	ParamReceptionURI   = "ReceptionUri"   // overrides reception_channel
	ParamProcessTimeout = "ProcessTimeout" // overrides timeout
)

// paramField maps one 2.x parameter onto a field of subs.Subscription.
// field returns a pointer to the field: an *int, *bool, *string or
// *[]string (a JSON array of strings as the value), so that one entry
// serves both directions (rows → subscription when the
// daemon reads, subscription → rows when a writer stores one).
type paramField struct {
	name  string // param_name
	key   string // the field's json key, which Validate's errors name
	field func(s *subs.Subscription) any
}

// params is every parameter 2.x knows. Rate and Burst have none: a
// subscription read from these tables is never rate-limited.
var params = []paramField{
	{"Concurrency", "concurrency", func(s *subs.Subscription) any { return &s.Concurrency }},
	{"ConcurrencyOfRetry", "retry_concurrency", func(s *subs.Subscription) any { return &s.RetryConcurrency }},
	{"IntervalOfSending", "interval_ms", func(s *subs.Subscription) any { return &s.IntervalMS }},
	{ParamProcessTimeout, "timeout_ms", func(s *subs.Subscription) any { return &s.TimeoutMS }},
	{ParamReceptionURI, "url", func(s *subs.Subscription) any { return &s.URL }},
	{"ReceiveBenchMsgs", "receive_bench", func(s *subs.Subscription) any { return &s.ReceiveBench }},
	{"AlerterEnabled", "alert_enabled", func(s *subs.Subscription) any { return &s.AlertEnabled }},
	{"AlerterEmails", "alert_emails", func(s *subs.Subscription) any { return &s.AlertEmails }},
	{"AlerterPhoneNumbers", "alert_phones", func(s *subs.Subscription) any { return &s.AlertPhones }},
	{"AlerterReceiver", "alert_receiver", func(s *subs.Subscription) any { return &s.AlertReceiver }},
	{"AlarmInterval", "alert_interval_s", func(s *subs.Subscription) any { return &s.AlertIntervalS }},
	{"IntervalOfErrorMonitorAlert", "alert_failure_window_s", func(s *subs.Subscription) any { return &s.AlertFailureWindowS }},
	{"MessageFailureAlertThreshold", "alert_retry_threshold", func(s *subs.Subscription) any { return &s.AlertRetryThreshold }},
	{"SubscriptionTotalFailureAlertThreshold", "alert_failure_threshold", func(s *subs.Subscription) any { return &s.AlertFailureThreshold }},
	{"MessageBlockedAlertThreshold", "alert_backlog_threshold", func(s *subs.Subscription) any { return &s.AlertBacklogThreshold }},
	{"DropMessageThreshold", "drop_threshold", func(s *subs.Subscription) any { return &s.DropThreshold }},
	{"DropMessageThresholdAction", "drop_action", func(s *subs.Subscription) any { return &s.DropAction }},
	// Not a 2.x parameter: the Standard Webhooks secrets, as a JSON array.
	{"SigningSecrets", "signing_secrets", func(s *subs.Subscription) any { return &s.SigningSecrets }},
	// Not a 2.x parameter: "on" or "off"; absent = the daemon's
	// CircuitBreaker.
	{"CircuitBreaker", "circuit_breaker", func(s *subs.Subscription) any { return &s.CircuitBreaker }},
	// Not a 2.x parameter: "on" or "off"; absent = the daemon's
	// AdaptiveWindow.
	{"AdaptiveWindow", "adaptive_window", func(s *subs.Subscription) any { return &s.AdaptiveWindow }},
	// Not a 2.x parameter: the content filter expression; absent = none.
	{"Filter", "filter", func(s *subs.Subscription) any { return &s.Filter }},
}

// paramByName indexes params by param_name. Read only.
var paramByName = func() map[string]*paramField {
	m := make(map[string]*paramField, len(params))
	for i := range params {
		m[params[i].name] = &params[i]
	}
	return m
}()

// paramByKey indexes params by json key. Read only.
var paramByKey = func() map[string]*paramField {
	m := make(map[string]*paramField, len(params))
	for i := range params {
		m[params[i].key] = &params[i]
	}
	return m
}()

// set parses value onto p's field of s. Numbers and flags may carry
// surrounding blanks (a panel's form field); flags are 1/0 or true/false.
func (p *paramField) set(s *subs.Subscription, value string) error {
	switch f := p.field(s).(type) {
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil {
			return p.invalid(s.ID, value, "must be an integer")
		}
		*f = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return p.invalid(s.ID, value, "must be 1 or 0 (true or false)")
		}
		*f = b
	case *string:
		*f = value
	case *[]string:
		var list []string
		if err := json.Unmarshal([]byte(value), &list); err != nil {
			// Never quoted: the value may hold secrets.
			return &subs.ValidationError{ID: s.ID, Field: p.name, Value: "(value not shown)", Allowed: "must be a JSON array of strings"}
		}
		*f = list
	}
	return nil
}

// get is p's field of s as a param_value; ok is false when the field holds
// the value a missing row means, so no row is needed.
func (p *paramField) get(s *subs.Subscription) (value string, ok bool) {
	switch f := p.field(s).(type) {
	case *int:
		return strconv.Itoa(*f), *f != 0
	case *bool:
		// The daemon's default is false, except AlerterEnabled's.
		def := p.name == "AlerterEnabled"
		if *f {
			return "1", !def
		}
		return "0", def
	case *string:
		return *f, *f != ""
	case *[]string:
		if len(*f) == 0 {
			return "", false
		}
		b, err := json.Marshal(*f)
		return string(b), err == nil
	}
	return "", false
}

func (p *paramField) invalid(id int64, value, allowed string) error {
	return &subs.ValidationError{ID: id, Field: p.name, Value: strconv.Quote(value), Allowed: allowed}
}

// ParamsOf returns the subscription_params rows of s: one for each
// parameter whose value differs from what a missing row means, in the
// order of the table above. The URL and the push timeout are columns of
// subscriptions (reception_channel, timeout), so ReceptionUri and
// ProcessTimeout get no row. Rate and Burst have no parameter and are not
// stored.
func ParamsOf(s *subs.Subscription) []Param {
	var out []Param
	for i := range params {
		p := &params[i]
		if p.name == ParamReceptionURI || p.name == ParamProcessTimeout {
			continue
		}
		if v, ok := p.get(s); ok {
			out = append(out, Param{Name: p.name, Value: v})
		}
	}
	return out
}

// applyParams sets the fields of s from its rows, in order (of two rows
// of one name the later wins). It returns every value that does not
// parse (errors.Join of *subs.ValidationError naming the parameter) and
// the names it does not know.
func applyParams(s *subs.Subscription, rows []Param) (unknown []string, err error) {
	var errs []error
	for _, r := range rows {
		p := paramByName[r.Name]
		if p == nil {
			unknown = append(unknown, r.Name)
			continue
		}
		if err := p.set(s, r.Value); err != nil {
			errs = append(errs, err)
		}
	}
	return unknown, errors.Join(errs...)
}

// renameFields rewrites the keys Validate's errors name into the names an
// operator of these tables edits: a column, or the parameter that set the
// field (given holds the parameters present).
func renameFields(err error, given map[string]bool) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var ve *subs.ValidationError
		if !errors.As(e, &ve) {
			out = append(out, e)
			continue
		}
		c := *ve
		c.Field = columnOrParam(c.Field, given)
		out = append(out, &c)
	}
	return errors.Join(out...)
}

// columnOrParam names the column or parameter behind json key.
func columnOrParam(key string, given map[string]bool) string {
	switch key {
	case "id":
		return "subscription_id"
	case "topic":
		return "class_key"
	case "subscriber_id":
		return "subscriber_id"
	case "url":
		if !given[ParamReceptionURI] {
			return "reception_channel"
		}
	case "timeout_ms":
		if !given[ParamProcessTimeout] {
			return "timeout"
		}
	}
	if p := paramByKey[key]; p != nil {
		return p.name
	}
	return key
}
