// Package alert watches medispatcher's pushes and backlogs and tells people
// when something needs a human: a subscription failing too often, a message
// retried too many times, a channel or the main tube filling up. Alerts go
// out through up to three gateways (email, SMS, an alarm platform), each an
// HTTP(S) POST, an SMTP server or the local sendmail.
//
// # Conditions
//
// Per subscription, with the daemon's defaults unless the subscription
// overrides them (a zero override means the default):
//
//	sub_failures     failed pushes within the failure window
//	                 (IntervalOfErrorMonitorAlert / alert_failure_window_s)
//	                 >= SubscriptionTotalFailureAlertThreshold / alert_failure_threshold
//	message_retries  retries of one message >= MessageFailureAlertThreshold
//	                 / alert_retry_threshold
//	channel_backlog  ready jobs of the channel and its retry tube
//	                 >= MessageBlockedAlertThreshold / alert_backlog_threshold
//
// Global (changeable at run time through SetGlobals; a zero threshold
// turns the condition off):
//
//	global_backlog   ready jobs summed over all channels
//	                 >= GlobalMessageBlockedAlertThreshold
//	main_backlog     ready jobs of the main tube
//	                 >= NameOfMainQueueBlockedAlertThreshold
//
// From the subscription source (SubscriptionInvalid, to the default
// receiver):
//
//	sub_invalid      an entry failed validation (its last good version
//	                 stays in use, or it is left out when it has none)
//
// From a subscription's circuit breaker (Breaker, to the subscription's
// receivers; every change is raised, the cool-downs bound how often):
//
//	breaker_open       its breaker opened (the reason and the cool-down);
//	                   a failed probe that opens it again raises nothing
//	breaker_closed     it closed again (a probe succeeded, or the
//	                   subscription changed)
//	subscription_gone  a subscription with signing secrets answered 410
//	                   Gone: it is disabled until it changes or the daemon
//	                   restarts
//
// From the daemon (Problem, SubscriptionSourceDown and SubscriptionSourceUp,
// to the default receiver):
//
//	datalog_unwritable             a DATA line could not be written (its
//	                               job was kept in its tube)
//	no_subscriptions               the main tube is not dispatched: no
//	                               subscription loaded
//	subscription_source_down       the subscription source's database stopped
//	                               answering while a set is held (that set
//	                               stays in use)
//	subscription_source_recovered  it answers again; raised only after a
//	                               subscription_source_down, once per outage
//
// Each (subscription, kind) raises at most one alert per AlarmInterval
// (alert_interval_s); each global kind, and each kind from the daemon but
// subscription_source_recovered, at most one per
// GlobalMessageBlockedAlarmInterval. A subscription with alerts disabled,
// or with no URL for this daemon's RECEPTION_ENV, never raises one.
//
// The failure window is bucketed: it is cut into 12 buckets of window/12,
// and the count is the sum of the current bucket and the 11 before it. A
// failure older than the window is never counted; one in the oldest
// twelfth of the window may already have dropped out. Changing a
// subscription's window starts its count afresh.
//
// # Receivers
//
// A subscription's alert_emails go through [AlerterEmail], alert_phones
// through [AlerterSms], alert_receiver through [AlarmPlatform] (each a
// comma-, semicolon- or space-separated list). When none of them can be
// reached (none named, or their gateways off), the alert goes to
// DefaultAlarmReceiver through [AlarmPlatform]. Global alerts always go to
// DefaultAlarmReceiver. An alert with no receiver at all is still raised
// (counted, kept in Recent, logged at debug) but not sent.
//
// # Gateways
//
//	http://… https://…  POST, Format "form" (x-www-form-urlencoded) or "json"
//	                     (an object of strings). The fields are the alert
//	                     fields User, Password, From, Subject, Recipient,
//	                     Content and Chan, named by PostFieldsMap (matched
//	                     without regard to case) or, when it does not name
//	                     one, by the field's name in lower case; a field
//	                     mapped to "" is not sent; User, Password, From and
//	                     Chan are sent only when not empty. Recipient is the
//	                     recipients joined by ",". Chan is DefaultAlarmChan
//	                     (the alarm platform's channel). Every other
//	                     PostFieldsMap entry is sent as a constant field.
//	                     Accepted = a 2xx answer whose body contains AckStr
//	                     (any body when AckStr is "").
//	smtp://host[:25]     net/smtp, STARTTLS when offered, AUTH PLAIN when User
//	smtps://host[:465]   is set (net/smtp refuses it in clear text except to
//	                     localhost); MAIL FROM is From, or medispatcher@<host>.
//	sendmail://          pipes the mail to `/usr/sbin/sendmail -t -i`;
//	sendmail:///a/b      the same with the program /a/b.
//
// When a gateway's TemplateRootPath holds a file named alert.tpl (TemplateFile),
// the alert's content is that file with {@Subject@}, {@From@} and
// {@Content@} replaced; otherwise it is the plain alert text. The template
// is read once, by New.
//
// # Metrics
//
//	medispatcher_alerts_raised_total{kind}                alerts raised
//	medispatcher_alerts_unrouted_total                    of those, with no receiver
//	medispatcher_alerts_dropped_total                     (alert, gateway) lost to a full queue
//	medispatcher_alert_deliveries_total{gateway,result}   deliveries ended, "ok" or
//	                                                      "fail" (after all retries)
//
// # What this package must never do
//
// It must never block or slow down a push worker: PushFailed and the
// backlog calls use per-subscription atomics, take no lock shared by all
// subscriptions, allocate nothing unless an alert is raised, and never
// wait for a gateway. Each gateway has a bounded queue; when it is full the
// alert is dropped for that gateway and counted
// (medispatcher_alerts_dropped_total). A failed delivery is logged and
// retried a bounded number of times with backoff, then given up.
package alert
