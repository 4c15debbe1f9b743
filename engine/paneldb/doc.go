// Package paneldb is the 2.x database that the company's control panel
// edits and reads (MySQL or MariaDB, the [Database] section): the
// subscriptions' tables medispatcher reads when SubscriptionSource is
// "mysql", and broadcast_failure_log, where the panel's failure pages find
// the failure records.
//
// Tables, as 2.x and its panel use them:
//
//	message_classes(class_id, class_key, class_name)          class_key is the topic
//	subscribers(subscriber_id, subscriber_name, subscriber_key)
//	subscriptions(subscription_id, message_class_id, subscriber_id,
//	    reception_channel, status, subscribe_time, timeout)   active: status = 0
//	subscription_params(id, subscription_id, param_name, param_value)
//	broadcast_failure_log(log_id, message_class_id, subscriber_id,
//	    subscription_id, time, message_body, retry_times, last_retry_time,
//	    last_failure_message, final_status, first_failure_message, job_id,
//	    alive, message_time, last_target)
//
// The panel owns the schema; Schema is its shape for tests and for a new
// installation, never applied to a database by the daemon.
//
// # Subscriptions
//
// Source (a subs.Source) reads the active subscriptions with 2.x's own
// query (subscriptions joined with message_classes, status = 0) and their
// subscription_params rows, in one read-only transaction. One table
// (params.go) maps each 2.x parameter name onto a field of
// subs.Subscription, in both directions: the source parses rows into
// fields, ParamsOf turns a subscription back into its rows for a writer.
// ReceptionUri and ProcessTimeout override the reception_channel and
// timeout columns; a missing row is the daemon's default; an unknown name
// is logged once and ignored.
//
// Every poll interval the source runs one probe (per table, a row count
// and the XOR of each row's CRC32 over the columns read) and the full read
// only when the probe's answer changed, so watching thousands of
// subscriptions costs one small query per interval.
//
// A value that does not parse, or a subscription that fails validation,
// keeps the subscription's last good version (subs.LastGood). A database
// that cannot be read at start applies no set; one that goes away later
// leaves the last set in use; either is logged once per outage, reported
// by Problem and retried with backoff. A query error is never an empty
// set; a read that finds no active subscription is an answer and is
// applied.
//
// Writer makes the admin API's changes in the same tables, as the panel
// does (a subscription and its parameter rows in one transaction; a cancel
// sets status = 1 and keeps the row), so that the panel and medictl see
// one truth. FailureLog writes the failure records into
// broadcast_failure_log (see its type).
package paneldb
