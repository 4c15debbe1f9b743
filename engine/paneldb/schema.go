package paneldb

// Schema creates the 2.x tables (the columns 2.x and its control panel
// use, with their types: a jobid is text, a message's time has decimals;
// indexes for the daemon's queries, which an existing 2.x database may
// lack: add KEY (subscription_id, job_id) to broadcast_failure_log there). Tests and new installations
// apply it; the daemon never does.
var Schema = []string{
	`CREATE TABLE message_classes (
		class_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		class_key VARCHAR(255) NOT NULL,
		class_name VARCHAR(255) NOT NULL DEFAULT '',
		UNIQUE KEY class_key (class_key)
	) CHARACTER SET utf8mb4`,
	`CREATE TABLE subscribers (
		subscriber_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		subscriber_name VARCHAR(255) NOT NULL DEFAULT '',
		subscriber_key VARCHAR(255) NOT NULL DEFAULT ''
	) CHARACTER SET utf8mb4`,
	`CREATE TABLE subscriptions (
		subscription_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		message_class_id INT UNSIGNED NOT NULL,
		subscriber_id INT UNSIGNED NOT NULL,
		reception_channel TEXT NOT NULL,
		status TINYINT NOT NULL DEFAULT 0,
		subscribe_time INT UNSIGNED NOT NULL DEFAULT 0,
		timeout INT UNSIGNED NOT NULL DEFAULT 0,
		KEY status (status)
	) CHARACTER SET utf8mb4`,
	`CREATE TABLE subscription_params (
		id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		subscription_id INT UNSIGNED NOT NULL,
		param_name VARCHAR(64) NOT NULL,
		param_value TEXT NOT NULL,
		KEY subscription_id (subscription_id)
	) CHARACTER SET utf8mb4`,
	`CREATE TABLE broadcast_failure_log (
		log_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		message_class_id INT UNSIGNED NOT NULL DEFAULT 0,
		subscriber_id INT UNSIGNED NOT NULL DEFAULT 0,
		subscription_id INT UNSIGNED NOT NULL DEFAULT 0,
		time INT UNSIGNED NOT NULL DEFAULT 0,
		message_body MEDIUMTEXT NOT NULL,
		retry_times INT UNSIGNED NOT NULL DEFAULT 0,
		last_retry_time INT UNSIGNED NOT NULL DEFAULT 0,
		last_failure_message TEXT NOT NULL,
		final_status TINYINT NOT NULL DEFAULT 0,
		first_failure_message TEXT NOT NULL,
		job_id VARCHAR(64) NOT NULL DEFAULT '',
		alive TINYINT NOT NULL DEFAULT 1,
		message_time DECIMAL(14,4) NOT NULL DEFAULT 0,
		last_target TEXT NOT NULL,
		KEY subscription_job (subscription_id, job_id)
	) CHARACTER SET utf8mb4`,
}
