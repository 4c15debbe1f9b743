package adminapi

import "time"

// CleanRequest is the body of POST /subscriptions/{id}/clean.
type CleanRequest struct {
	Delayed bool `json:"delayed"` // also delayed jobs (retries not yet due)
	Buried  bool `json:"buried"`  // also buried jobs
	DryRun  bool `json:"dry_run"` // count only
}

// CleanReport is one state of one tube on one server.
type CleanReport struct {
	Server  string `json:"server"`
	Tube    string `json:"tube"`
	State   string `json:"state"`
	Found   int64  `json:"found"`
	Deleted int    `json:"deleted"`
}

// OpResult is the answer of an operation over several tubes: what it did,
// and the problems it met (it goes on past them).
type OpResult[T any] struct {
	Reports []T      `json:"reports"`
	Errors  []string `json:"errors,omitempty"`
}

// KickRequest is the body of POST /kick.
type KickRequest struct {
	DryRun bool `json:"dry_run"`
}

// KickReport is one tube of one server with buried jobs.
type KickReport struct {
	Server string `json:"server"`
	Tube   string `json:"tube"`
	Buried int64  `json:"buried"`
	Kicked int    `json:"kicked"`
	Error  string `json:"error,omitempty"`
}

// Failure is a failure record of a push as the API shows it (URL
// userinfo masked).
type Failure struct {
	LogID      uint64    `json:"log_id"`
	JobID      string    `json:"jobid"`
	Topic      string    `json:"topic"`
	Sub        int64     `json:"sub"`
	Subscriber int64     `json:"subscriber"`
	URL        string    `json:"url"`
	Error      string    `json:"error"`
	RetryTimes int       `json:"retry_times"`
	Final      string    `json:"final"` // retrying, success or given_up
	Time       time.Time `json:"time"`
	HasJob     bool      `json:"has_job"` // the message was kept: it can be re-sent
}

// FailureList is the answer of GET /failures, newest first.
type FailureList struct {
	Records []Failure `json:"records"`
}

// ResendRequest names the given-up records to re-send: by log id, or all
// of one subscription's.
type ResendRequest struct {
	LogIDs []uint64 `json:"log_ids"`
	Sub    int64    `json:"sub"`
	// Limit is how many of the newest stream entries are searched; 0 = 10000.
	Limit int64 `json:"limit"`
}

// ResendResult says what was re-sent.
type ResendResult struct {
	Resent []uint64 `json:"resent"` // log ids
	Errors []string `json:"errors,omitempty"`
}

// RecoverStatus is the answer of GET /recover: the recover lists
// producers fall back to and the entries waiting in them.
type RecoverStatus struct {
	Prefix string        `json:"prefix"`
	Total  int64         `json:"total"`
	Lists  []RecoverList `json:"lists"`
}

// RecoverList is one recover list and its length.
type RecoverList struct {
	Key    string `json:"key"`
	Length int64  `json:"length"`
}
