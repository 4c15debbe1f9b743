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
package paneldb
