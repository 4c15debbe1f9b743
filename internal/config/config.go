// Package config is medispatcher's configuration: one TOML file whose keys
// are those of the old daemon's /etc/medispatcher.toml plus a few new ones,
// decoded into one Config struct with the defaults in one place (Default).
//
// A file written for the old daemon must load unchanged: keys this daemon
// does not use produce a Warning each, never an error. Invalid values produce
// errors that name the key, the value and what is allowed, all of them at
// once so that an operator fixes the file in one go.
//
// The package must never touch the network, start goroutines or hold global
// mutable state: it reads one file and checks values, nothing else.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"time"

	"medispatcher/internal/wire"
)

// Config is the whole configuration of one medispatcher process. Go field
// names are the TOML keys (a tag says so where they differ). Counts are
// plain ints; the unit of every duration is in its name's comment (ms or s,
// as in the old daemon).
//
// Fields tagged `toml:"-"` are derived by Validate (and so by Load); the
// engine reads them instead of parsing the raw keys again.
type Config struct {
	// ---- queue server (beanstalkd) ----

	// QueueServerAddr is the comma-separated beanstalkd instances; every one
	// is consumed. Parsed into QueueServers.
	QueueServerAddr string
	// QueueServerPoolCmdConnCount is the number of command connections (put,
	// delete, stats…) per beanstalkd instance; 0 = max(2, NumCPU). See
	// CmdConnsPerServer.
	QueueServerPoolCmdConnCount int
	// QueueServerPoolListenConnCount is the number of reserve connections per
	// beanstalkd instance; 0 = 2. See ListenConnsPerServer.
	QueueServerPoolListenConnCount int
	// NameOfMainQueue is the tube producers put into (WIRE).
	NameOfMainQueue string
	// PrefixOfChannelQueue builds channel tubes: <topic>/<prefix><subscriptionId> (WIRE).
	PrefixOfChannelQueue string
	// ListenersOfMainQueue scales redistribution from the main tube.
	ListenersOfMainQueue int
	// ChannelJobTTR is the time-to-run, in s, of the channel and retry jobs
	// this daemon puts (2.x: 60). A fleet member that hangs (SIGSTOP, a
	// frozen VM) keeps its reserved jobs this long before beanstalkd gives
	// them to another; a push must finish well within it. See ChannelTTR.
	ChannelJobTTR int

	// ---- sending ----

	// SendersPerChannel is a subscription's push concurrency when it sets none.
	SendersPerChannel int
	// MaxSendersPerChannel caps any subscription's push concurrency.
	MaxSendersPerChannel int
	// SendersPerRetryChannel is a subscription's retry concurrency when it sets none.
	SendersPerRetryChannel int
	// MaxSendersPerRetryChannel caps any subscription's retry concurrency.
	MaxSendersPerRetryChannel int
	// IntervalOfSendingForSendRoutine is the default minimum gap in ms between
	// two pushes of one push routine (0 = none).
	IntervalOfSendingForSendRoutine int
	// DefaultMaxMessageProcessTime is the push timeout in ms of a subscription
	// that sets none.
	DefaultMaxMessageProcessTime int
	// MaxMessageProcessTime caps any subscription's push timeout, in ms.
	MaxMessageProcessTime int
	// CoeOfIntervalForRetrySendingMsg: retry n waits n² × coe seconds.
	CoeOfIntervalForRetrySendingMsg int
	// MaxRetryTimesOfSendingMessage is the number of retries after which a
	// message is given up.
	MaxRetryTimesOfSendingMessage int
	// MaxRetryAfterSeconds bounds the wait a subscriber may ask for with
	// Retry-After on a 429 or 503 answer: its subscription pauses that
	// long and the message's retry waits at least that long. 0 ignores
	// the header (as 2.x).
	MaxRetryAfterSeconds int
	// AdaptiveWindow is "on" or "off" (as 2.x): on, the pushes a
	// subscription has in flight move between 1 and its concurrency with
	// what its subscriber shows (slow start, additive increase, halving on
	// time-outs, 429, 503 or rising latency). A subscription's
	// adaptive_window overrides it.
	AdaptiveWindow string
	// CircuitBreaker is "on" or "off" (as 2.x): a subscription whose
	// pushes fail too often stops pushing for a cool-down, then probes
	// with one push. A subscription's circuit_breaker overrides it.
	CircuitBreaker string
	// BreakerWindowSeconds is the sliding window over which the failure
	// share is counted.
	BreakerWindowSeconds int
	// BreakerMinPushes is the number of pushes in the window before the
	// failure share can open a breaker.
	BreakerMinPushes int
	// BreakerFailureShare is the share of failed pushes in the window
	// (0 < share <= 1) that opens a breaker.
	BreakerFailureShare float64
	// BreakerConsecutiveErrors is the number of connection errors or
	// time-outs in a row that opens a breaker.
	BreakerConsecutiveErrors int
	// BreakerCoolDownSeconds is the wait of an open breaker before its
	// probe; each failed probe doubles it, up to BreakerMaxCoolDownSeconds.
	BreakerCoolDownSeconds    int
	BreakerMaxCoolDownSeconds int
	// RunAtBench: deliver only to subscriptions that accept bench messages.
	RunAtBench bool
	// ReceptionEnv selects subscription URLs tagged [T_ENV:NAME]; "" = untagged only.
	ReceptionEnv string `toml:"RECEPTION_ENV"`

	// ---- subscriptions ----

	// SubscriptionSource is "file:<path>" (relative to this file's
	// directory) or "redis". Parsed into SubscriptionFile / SubscriptionFromRedis.
	SubscriptionSource string
	// AllowEmptySubscriptionSet: the daemon starts dispatching (and deletes
	// the main tube's messages as unsubscribed) even when the first set
	// read holds no subscription. Off by default: a missing file, a typo in
	// the path or an empty Redis hash keeps the main tube untouched until a
	// set with at least one subscription is read.
	AllowEmptySubscriptionSet bool
	// LogUnsubscribed writes a DROP line (the message) to the drop log for
	// every main-tube message whose topic has no subscription; they are
	// always counted per topic in /metrics.
	LogUnsubscribed bool

	// ---- Redis: recover lists, failure records ----

	Redis RedisConfig
	// Database is the 2.x MySQL database the company's control panel edits
	// (subscriptions) and reads (failure records): used when
	// SubscriptionSource is "mysql", ignored otherwise.
	Database DatabaseConfig
	// MsgQueueFaultToleranceListNamePrefix is the prefix of the recover lists
	// producers push to when beanstalkd is unreachable (WIRE).
	MsgQueueFaultToleranceListNamePrefix string
	// FailureRecordMaxLen bounds the Redis stream of failure records (MAXLEN ~).
	FailureRecordMaxLen int

	// ---- logs ----

	// LogDir holds the DATA logs. Relative: against this file's directory.
	LogDir string `toml:"LOG_DIR"`
	// SplitLog: DATA log one file per day (true) or one file per kind.
	SplitLog bool
	// EnableMsgSentLog writes a SENT/RESENT DATA line per push.
	EnableMsgSentLog bool
	// DropMessageLogDir receives messages dropped by a subscription's backlog
	// guard (action 1). Empty: LogDir/drop, filled in by Validate.
	DropMessageLogDir string
	// LogLevel of the process log: debug, info, warn, error.
	LogLevel string
	// LogFormat of the process log (stderr): text or json.
	LogFormat string
	// DataLogBuffer is the number of DATA lines queued for the log writer;
	// past it lines are dropped (and counted) rather than stalling pushes.
	DataLogBuffer int
	// DataLogBufferBytes bounds the bytes queued for the log writer (lines
	// carry whole jobs); default 64 MiB.
	DataLogBufferBytes int
	// DataLogFsync is when DATA log files are fsynced: never, interval (once a
	// second), always (after every line).
	DataLogFsync string

	// ---- network endpoints ("" = disabled) ----

	// ListenAddr is the admin HTTP API and status page. Beyond loopback it
	// is served only with an AdminToken (see AdminAPIRefused).
	ListenAddr string
	// AdminToken is the bearer token the admin API asks for; "" = none,
	// allowed only while ListenAddr is a loopback address. When empty, the
	// environment variable MEDISPATCHER_ADMIN_TOKEN is used.
	AdminToken string
	// AdminAllowedHosts are the names the admin API answers to in the Host
	// header besides its own listen address and loopback names (DNS
	// rebinding guard), e.g. ["medispatcher.internal:5601"].
	AdminAllowedHosts []string
	// AdminTLSCertFile and AdminTLSKeyFile serve the admin API over TLS
	// (both or neither). Relative: against this file's directory.
	AdminTLSCertFile string
	AdminTLSKeyFile  string
	// PublishTokens are bearer tokens (at least 16 characters each) that
	// may publish messages through the HTTP publish API on ListenAddr and
	// do nothing else; the AdminToken may publish too. Empty: the
	// environment variable MEDISPATCHER_PUBLISH_TOKENS (comma-separated)
	// is used.
	PublishTokens []string
	// PublishMaxBatch bounds the messages of one batch publish request.
	PublishMaxBatch int
	// PublishMaxBodyBytes bounds the body of one publish request.
	PublishMaxBodyBytes int
	// PublishIdempotencySeconds is how long an Idempotency-Key of a publish
	// request is remembered (in Redis) and answers with the first answer.
	PublishIdempotencySeconds int
	// DebugAddr serves pprof (and /metrics).
	DebugAddr string
	// StatisticApiAddr serves push statistics as JSON.
	StatisticApiAddr string
	// PrometheusApiAddr serves /metrics in the Prometheus text format, and
	// nothing else.
	PrometheusApiAddr string
	// ExposeObservability allows DebugAddr, StatisticApiAddr and
	// PrometheusApiAddr beyond loopback; without it such an address is not
	// served (the dispatcher runs, an ERROR line says why).
	ExposeObservability bool
	// PushDenyCIDRs refuses pushes to subscriber addresses in these
	// networks (e.g. "169.254.0.0/16", "10.0.0.0/8"); empty = off, as in 2.x.
	// A host name is checked against every address it resolves to.
	PushDenyCIDRs []string
	// FailureAnswerMaxBytes caps how much of a subscriber's answer a failure
	// record (and the log) keeps; default 512.
	FailureAnswerMaxBytes int
	// Observability: false turns off push statistics, backlog gauges,
	// alerts, the per-push metrics and the stage timings, to measure what
	// they cost (the backlog sampler still runs: the engine's retry
	// watching needs it).
	Observability bool
	// OtelEndpoint is the OTLP/HTTP collector (e.g. "http://127.0.0.1:4318")
	// traces of pushes and publish requests are exported to; "" = no
	// tracing (the default), which costs nothing on the message path.
	OtelEndpoint string
	// OtelSampleRatio is the share (0..1) of traces started here that are
	// sampled; a message whose context carries a traceparent follows its
	// parent's sampling decision.
	OtelSampleRatio float64
	// OtelServiceName is the service.name of the exported spans.
	OtelServiceName string
	// BacklogSampleRate bounds the stats-tube requests per second the
	// backlog sampler sends over all servers.
	BacklogSampleRate int
	// CutThrough hands a message straight from the main tube to a free
	// push worker of each subscription whose channel tube is empty, and
	// spills only the rest into channel tubes (which are then watched only
	// while they hold jobs); false keeps the 2.x two-hop path, every
	// message through its channel tube. Either way a mixed fleet on the
	// same tubes works.
	CutThrough bool

	// ShutdownTimeout bounds a graceful stop, in ms; 0 = MaxMessageProcessTime
	// + 5000. See ShutdownGrace.
	ShutdownTimeout int

	// ---- alerts ----

	// IntervalOfErrorMonitorAlert is the window, in s, over which a
	// subscription's failures are counted (per-subscription default).
	IntervalOfErrorMonitorAlert int
	// SubscriptionTotalFailureAlertThreshold: failures within the window that
	// raise an alert (per-subscription default).
	SubscriptionTotalFailureAlertThreshold int
	// MessageFailureAlertThreshold: retries of one message that raise an
	// alert (per-subscription default).
	MessageFailureAlertThreshold int
	// MessageBlockedAlertThreshold: ready jobs in one channel (or its retry
	// tube) that raise an alert (per-subscription default).
	MessageBlockedAlertThreshold int
	// AlarmInterval is the minimum gap, in s, between two alerts of one kind
	// for one subscription (per-subscription default).
	AlarmInterval int
	// GlobalMessageBlockedAlertThreshold: ready jobs summed over all channels
	// that raise an alert; 0 = off.
	GlobalMessageBlockedAlertThreshold int
	// GlobalMessageBlockedAlarmInterval is the minimum gap, in s, between two
	// global backlog alerts.
	GlobalMessageBlockedAlarmInterval int
	// NameOfMainQueueBlockedAlertThreshold: ready jobs in the main tube that
	// raise an alert; 0 = off.
	NameOfMainQueueBlockedAlertThreshold int
	// DefaultAlarmReceiver gets alerts of subscriptions that name no receiver
	// (through AlarmPlatform).
	DefaultAlarmReceiver string
	// DefaultAlarmChan is the AlarmPlatform channel for DefaultAlarmReceiver.
	DefaultAlarmChan string
	// AlerterEmail, AlerterSms and AlarmPlatform are the alert gateways; an
	// empty Gateway disables one.
	AlerterEmail  AlerterConfig
	AlerterSms    AlerterConfig
	AlarmPlatform AlerterConfig

	// ---- keys of the old daemon, accepted and not used ----
	// Typed any so that no value of theirs can fail a load; Load warns about
	// each one present. Nothing may read them.

	// Deprecated: run under a service manager (systemd User=).
	DaemonUser any `toml:"DAEMON_USER"`
	// Deprecated: run under a service manager.
	DaemonUID any `toml:"DAEMON_UID"`
	// Deprecated: run under a service manager.
	DaemonGID any `toml:"DAEMON_GID"`
	// Deprecated: derived at run time by the old daemon.
	InstallDir any
	// Deprecated: the service manager tracks the process.
	PidFile any
	// Deprecated: no local state files any more.
	DataDir any `toml:"DATA_DIR"`
	// Deprecated: beanstalkd is the only queue server.
	QueueServerType any
	// Deprecated: not used.
	ClientVer any
	// Deprecated: fleet balancing through etcd is not implemented.
	MedisPerMaxConsumerQueueNum any

	// ---- derived by Validate ----

	// Path is the absolute path of the file loaded ("" for Default()).
	Path string `toml:"-"`
	// QueueServers is QueueServerAddr split on commas, trimmed, each a valid host:port.
	QueueServers []string `toml:"-"`
	// SubscriptionFile is the absolute path of a "file:" SubscriptionSource.
	SubscriptionFile string `toml:"-"`
	// SubscriptionFromRedis is true when SubscriptionSource is "redis".
	SubscriptionFromRedis bool `toml:"-"`
	// SubscriptionFromMySQL is true when SubscriptionSource is "mysql".
	SubscriptionFromMySQL bool `toml:"-"`
	// ListenAddrExposed is true when the admin API listens beyond loopback
	// (it then requires AdminToken).
	ListenAddrExposed bool `toml:"-"`
	// ExposedObservability lists the keys among DebugAddr, StatisticApiAddr
	// and PrometheusApiAddr whose address is beyond loopback.
	ExposedObservability []string `toml:"-"`
}

// RedisConfig is the [Redis] section.
// DatabaseConfig is the [Database] section of a 2.x configuration,
// unchanged: the MySQL server and database of the control panel's tables.
type DatabaseConfig struct {
	Host     string
	Port     int
	User     string
	Password string
	DbName   string
	// Options are the driver's connection parameters as 2.x wrote them
	// ("readTimeout=20s&writeTimeout=20s"; go-sql-driver/mysql DSN
	// parameters).
	Options string
	// MaxConns bounds the open connections to the database; 0 = 10.
	MaxConns int
	// PollInterval is how often, in ms, the subscriptions' tables are
	// checked for a change (one cheap query; the full read only when
	// something changed), 1000 by default: a change applies within about
	// a second. 2.x re-read them every 2 s.
	PollInterval int
	// FailureLog writes failure records into broadcast_failure_log (the
	// control panel's failure pages), besides the Redis stream.
	FailureLog bool
}

// Addr is the database's host:port.
func (d DatabaseConfig) Addr() string {
	return net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
}

type RedisConfig struct {
	// Addr is host:port, or several comma-separated for a Redis Cluster.
	Addr string
	// DbIndex is the database number (SELECT); a cluster only has 0.
	DbIndex int
	// Password for AUTH; "" = none.
	Password string
	// KeyPrefix starts every key medispatcher itself creates (failure
	// records, subscriptions). The braces make it a Redis Cluster hash tag so
	// that all such keys share one slot. Recover lists keep their own WIRE
	// prefix (MsgQueueFaultToleranceListNamePrefix).
	KeyPrefix string

	// TLS connects to Redis over TLS; TLSCAFile (PEM) replaces the system
	// roots, TLSCertFile/TLSKeyFile are a client certificate (both or
	// neither), TLSServerName overrides the name checked. Relative paths:
	// against this file's directory.
	TLS           bool
	TLSCAFile     string
	TLSCertFile   string
	TLSKeyFile    string
	TLSServerName string

	// Addrs is Addr split on commas, trimmed; derived by Validate.
	Addrs []string `toml:"-"`
}

// AlerterConfig is one alert gateway section ([AlerterEmail], [AlerterSms],
// [AlarmPlatform]). An http(s) gateway gets a POST (form or JSON, see
// Format) whose field names come from PostFieldsMap; smtp:// and smtps://
// send mail through that server; sendmail:// (or sendmail:///path/to/it)
// pipes the mail to the local sendmail.
type AlerterConfig struct {
	// Gateway is an http(s):// URL, smtp://host:port, smtps://host:port or
	// sendmail://[/path]; "" disables this alerter.
	Gateway string
	// Format of an http(s) gateway's body: "form" (the old daemon's) or
	// "json"; "" = form.
	Format   string
	User     string
	Password string
	// From is the sender of an email alert.
	From string
	// AckStr is the substring of the gateway's answer meaning "accepted".
	AckStr string
	// TemplateRootPath holds alert templates ({@Subject@}, {@From@},
	// {@Content@} are replaced). Relative: against this file's directory.
	TemplateRootPath string
	// PostFieldsMap maps alert fields (User, Password, From, Subject,
	// Recipient, Content) to the gateway's form field names; other entries
	// are sent as constant fields (name = value).
	PostFieldsMap map[string]string
	// Deprecated: the section name decides the kind of gateway.
	ProxyType any
}

// Enumerated values.
const (
	SubscriptionSourceRedis = "redis"
	SubscriptionSourceMySQL = "mysql"
	subscriptionFilePrefix  = "file:"

	LogFormatText = "text"
	LogFormatJSON = "json"

	FsyncNever    = "never"
	FsyncInterval = "interval"
	FsyncAlways   = "always"
)

// Default returns the configuration used for every key a file leaves out:
// the old daemon's defaults (its sample file's values where they differed
// from its built-in ones), except where those were harmful. Each deviation
// is documented in scripts/medispatcher.example.toml.
func Default() *Config {
	return &Config{
		QueueServerAddr:                "127.0.0.1:11300",
		QueueServerPoolCmdConnCount:    0,
		QueueServerPoolListenConnCount: 0,
		NameOfMainQueue:                "event_center_messages",
		PrefixOfChannelQueue:           "sub-queue/",
		ListenersOfMainQueue:           10,
		ChannelJobTTR:                  wire.TTRSeconds,

		SendersPerChannel:               5,
		MaxSendersPerChannel:            10,
		SendersPerRetryChannel:          2,
		MaxSendersPerRetryChannel:       5,
		IntervalOfSendingForSendRoutine: 0,
		DefaultMaxMessageProcessTime:    5000,
		MaxMessageProcessTime:           30000,
		CoeOfIntervalForRetrySendingMsg: 1,
		MaxRetryTimesOfSendingMessage:   10,
		MaxRetryAfterSeconds:            300,
		AdaptiveWindow:                  WindowOff,
		CircuitBreaker:                  BreakerOff,
		BreakerWindowSeconds:            30,
		BreakerMinPushes:                20,
		BreakerFailureShare:             0.5,
		BreakerConsecutiveErrors:        5,
		BreakerCoolDownSeconds:          5,
		BreakerMaxCoolDownSeconds:       300,

		SubscriptionSource: "file:subscriptions.toml",
		Database:           DatabaseConfig{Host: "127.0.0.1", Port: 3306, PollInterval: 1000, FailureLog: true},

		Redis: RedisConfig{
			Addr:      "127.0.0.1:6379",
			KeyPrefix: "{medispatcher}",
		},
		MsgQueueFaultToleranceListNamePrefix: "event_center_message_in_failure_log:",
		FailureRecordMaxLen:                  100000,

		LogDir:             "/var/log/medispatcher",
		SplitLog:           true,
		EnableMsgSentLog:   true,
		LogLevel:           "info",
		LogFormat:          LogFormatText,
		DataLogBuffer:      65536,
		DataLogBufferBytes: 64 << 20,
		DataLogFsync:       FsyncInterval,

		ListenAddr:            "127.0.0.1:5601",
		DebugAddr:             "127.0.0.1:9898",
		StatisticApiAddr:      "127.0.0.1:5606",
		PrometheusApiAddr:     "127.0.0.1:25606",
		Observability:         true,
		BacklogSampleRate:     1000,
		CutThrough:            true,
		FailureAnswerMaxBytes: 512,

		PublishMaxBatch:           500,
		PublishMaxBodyBytes:       8 << 20,
		PublishIdempotencySeconds: 86400,
		OtelSampleRatio:           0.1,
		OtelServiceName:           "medispatcher",

		IntervalOfErrorMonitorAlert:            180,
		SubscriptionTotalFailureAlertThreshold: 120,
		MessageFailureAlertThreshold:           7,
		MessageBlockedAlertThreshold:           5000,
		AlarmInterval:                          180,
		GlobalMessageBlockedAlertThreshold:     100000,
		GlobalMessageBlockedAlarmInterval:      180,
		NameOfMainQueueBlockedAlertThreshold:   100000,
	}
}

// CmdConnsPerServer is the number of command connections to open per
// beanstalkd instance (QueueServerPoolCmdConnCount, 0 = max(2, NumCPU)).
func (c *Config) CmdConnsPerServer() int {
	if c.QueueServerPoolCmdConnCount > 0 {
		return c.QueueServerPoolCmdConnCount
	}
	return max(2, runtime.NumCPU())
}

// AdminAPIRefused reports why the admin API must not be served, or "": a
// non-loopback ListenAddr without AdminToken would let anyone on the
// network change subscriptions and delete queues.
func (c *Config) AdminAPIRefused() string {
	if c.ListenAddr != "" && c.ListenAddrExposed && c.AdminToken == "" {
		return fmt.Sprintf("ListenAddr %q is not a loopback address and AdminToken is empty", c.ListenAddr)
	}
	return ""
}

// ObservabilityRefused reports, for an address key among DebugAddr,
// StatisticApiAddr and PrometheusApiAddr, why it must not be served, or "".
func (c *Config) ObservabilityRefused(key string) string {
	if c.ExposeObservability {
		return ""
	}
	for _, k := range c.ExposedObservability {
		if k == key {
			return fmt.Sprintf("%s is not a loopback address and ExposeObservability is false", key)
		}
	}
	return ""
}

// ChannelTTR is the time-to-run of the channel and retry jobs this daemon
// puts (ChannelJobTTR seconds).
func (c *Config) ChannelTTR() time.Duration {
	return time.Duration(c.ChannelJobTTR) * time.Second
}

// ListenConnsPerServer is the number of reserve connections to open per
// beanstalkd instance (QueueServerPoolListenConnCount, 0 = 2).
func (c *Config) ListenConnsPerServer() int {
	if c.QueueServerPoolListenConnCount > 0 {
		return c.QueueServerPoolListenConnCount
	}
	return 2
}

// ShutdownGrace bounds a graceful stop (ShutdownTimeout, 0 =
// MaxMessageProcessTime + 5 s): long enough for a push in flight to finish.
func (c *Config) ShutdownGrace() time.Duration {
	if c.ShutdownTimeout > 0 {
		return time.Duration(c.ShutdownTimeout) * time.Millisecond
	}
	return time.Duration(c.MaxMessageProcessTime+5000) * time.Millisecond
}

// PushTimeout is the timeout of a push for a subscription whose own process
// time is ms: 0 (unset) = DefaultMaxMessageProcessTime, capped by
// MaxMessageProcessTime.
func (c *Config) PushTimeout(ms int) time.Duration {
	if ms <= 0 {
		ms = c.DefaultMaxMessageProcessTime
	}
	ms = min(ms, c.MaxMessageProcessTime)
	return time.Duration(ms) * time.Millisecond
}

// ChannelSenders is the push concurrency of a subscription asking for n:
// 0 (unset) = SendersPerChannel, capped by MaxSendersPerChannel.
func (c *Config) ChannelSenders(n int) int {
	if n <= 0 {
		n = c.SendersPerChannel
	}
	return min(n, c.MaxSendersPerChannel)
}

// RetrySenders is the retry concurrency of a subscription asking for n:
// 0 (unset) = SendersPerRetryChannel, capped by MaxSendersPerRetryChannel.
func (c *Config) RetrySenders(n int) int {
	if n <= 0 {
		n = c.SendersPerRetryChannel
	}
	return min(n, c.MaxSendersPerRetryChannel)
}

// RetryDelay is the delay before retry number n (1, 2, …):
// n² × CoeOfIntervalForRetrySendingMsg seconds (WIRE: 1 s, 4 s, 9 s… with coe 1).
func (c *Config) RetryDelay(n int) time.Duration {
	return time.Duration(n*n*c.CoeOfIntervalForRetrySendingMsg) * time.Second
}

// SlogLevel is LogLevel as a slog.Level (info when LogLevel is not valid;
// Validate rejects such a value).
func (c *Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
