package adminapi

import "time"

// Alert is one alert the daemon raised, as GET /alerts and GET /overview
// show it.
type Alert struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"` // sub_failures, message_retries, channel_backlog, global_backlog, main_backlog, sub_invalid
	SubID     int64     `json:"sub,omitempty"`
	Topic     string    `json:"topic,omitempty"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
	Delivered []string  `json:"delivered"` // gateways that acked
	Failed    []string  `json:"failed"`    // gateways that did not, after retries
	// Note says why an alert was not (or not fully) sent: no receiver, a
	// gateway's queue full.
	Note string `json:"note,omitempty"`
}

// AlertList is the answer of GET /alerts, newest first.
type AlertList struct {
	Alerts []Alert `json:"alerts"`
}

// AlertSettings are the global alert settings the API can change live:
// the answer of GET and PUT /alerts/settings, and the body of PUT, where
// a key left out keeps its value.
type AlertSettings struct {
	DefaultAlarmReceiver                 *string `json:"default_alarm_receiver"`
	DefaultAlarmChan                     *string `json:"default_alarm_chan"`
	GlobalMessageBlockedAlertThreshold   *int    `json:"global_message_blocked_alert_threshold"`
	NameOfMainQueueBlockedAlertThreshold *int    `json:"main_queue_blocked_alert_threshold"`
	GlobalMessageBlockedAlarmInterval    *int    `json:"global_message_blocked_alarm_interval_s"`
}
