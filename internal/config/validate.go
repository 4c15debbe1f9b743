package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Validate normalizes the configuration (see normalize: defaults that
// depend on other values, absolute paths, the derived fields QueueServers,
// Redis.Addrs, SubscriptionFile, SubscriptionFromRedis, ListenAddrExposed,
// ExposedObservability) and checks every value. It returns all problems at
// once, joined; each is a *FieldError. Relative paths are resolved against
// the directory of Path, or the working directory when Path is empty.
func (c *Config) Validate() error {
	_, errs := c.check()
	return errors.Join(errs...)
}

// check is Validate that also returns warnings about values that are
// allowed but worth an operator's attention.
func (c *Config) check() (warns []Warning, errs []error) {
	return c.validate(c.normalize())
}

// validate checks a normalized configuration without changing it; p is
// what normalize did to its paths. Problems come in the order of the
// sections of Config.
func (c *Config) validate(p *paths) (warns []Warning, errs []error) {
	v := validator{c: c, paths: p}
	v.queueServer()
	v.sending()
	v.subscriptions()
	v.redis()
	v.logs()
	v.listeners()
	v.adminAPI()
	v.publish()
	v.tracing()
	v.limits()
	v.alerts()
	v.alerters()
	return v.warns, v.errs
}

// validator collects the problems of one configuration, which it only
// reads.
type validator struct {
	c     *Config
	paths *paths
	warns []Warning
	errs  []error
}

func (v *validator) bad(key string, val any, want, detail string) {
	v.errs = append(v.errs, &FieldError{Key: key, Value: val, Want: want, Detail: detail})
}

func (v *validator) warn(key, format string, args ...any) {
	v.warns = append(v.warns, Warning{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) atLeast(key string, val, lo int) {
	if val < lo {
		v.bad(key, val, fmt.Sprintf("an integer >= %d", lo), "")
	}
}

// atMost reports key (of value val) above the limit set by limitKey, when
// that limit is itself valid (>= 1).
func (v *validator) atMost(key string, val int, limitKey string, limit int) {
	if val > limit && limit >= 1 {
		v.bad(key, val, fmt.Sprintf("at most %s (%d)", limitKey, limit), "")
	}
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.bad(key, val, "one of "+strings.Join(allowed, ", "), "")
}

// resolved reports a path normalize could not make absolute.
func (v *validator) resolved(key, val, want string) {
	if err := v.paths.failed[key]; err != nil {
		v.bad(key, val, want, err.Error())
	}
}

// addrList reports a comma-separated host:port list that does not parse.
func (v *validator) addrList(key, val string) {
	if _, detail := parseAddrList(val); detail != "" {
		v.bad(key, val, "host:port[,host:port...]", detail)
	}
}

// queueServer checks the beanstalkd keys.
func (v *validator) queueServer() {
	c := v.c
	v.addrList("QueueServerAddr", c.QueueServerAddr)
	v.atLeast("QueueServerPoolCmdConnCount", c.QueueServerPoolCmdConnCount, 0)
	v.atLeast("QueueServerPoolListenConnCount", c.QueueServerPoolListenConnCount, 0)
	if d := tubeNameProblem(c.NameOfMainQueue, true); d != "" {
		v.bad("NameOfMainQueue", c.NameOfMainQueue, "a beanstalkd tube name: 1-200 of A-Z a-z 0-9 - + / ; . $ _ ( ), not starting with -", d)
	}
	if d := tubeNameProblem(c.PrefixOfChannelQueue, false); d != "" {
		v.bad("PrefixOfChannelQueue", c.PrefixOfChannelQueue, "characters allowed in a beanstalkd tube name: A-Z a-z 0-9 - + / ; . $ _ ( )", d)
	}
	v.atLeast("ListenersOfMainQueue", c.ListenersOfMainQueue, 1)
	v.atLeast("ChannelJobTTR", c.ChannelJobTTR, 1)
}

// sending checks the push concurrency, timeouts and retries.
func (v *validator) sending() {
	c := v.c
	v.atLeast("SendersPerChannel", c.SendersPerChannel, 1)
	v.atLeast("MaxSendersPerChannel", c.MaxSendersPerChannel, 1)
	v.atMost("SendersPerChannel", c.SendersPerChannel, "MaxSendersPerChannel", c.MaxSendersPerChannel)
	v.atLeast("SendersPerRetryChannel", c.SendersPerRetryChannel, 1)
	v.atLeast("MaxSendersPerRetryChannel", c.MaxSendersPerRetryChannel, 1)
	v.atMost("SendersPerRetryChannel", c.SendersPerRetryChannel, "MaxSendersPerRetryChannel", c.MaxSendersPerRetryChannel)
	v.atLeast("IntervalOfSendingForSendRoutine", c.IntervalOfSendingForSendRoutine, 0)
	v.atLeast("DefaultMaxMessageProcessTime", c.DefaultMaxMessageProcessTime, 1)
	v.atLeast("MaxMessageProcessTime", c.MaxMessageProcessTime, 1)
	v.atMost("DefaultMaxMessageProcessTime", c.DefaultMaxMessageProcessTime, "MaxMessageProcessTime", c.MaxMessageProcessTime)
	if c.ChannelJobTTR >= 1 && c.ChannelJobTTR*1000 <= c.MaxMessageProcessTime {
		v.warn("ChannelJobTTR", "ChannelJobTTR (%d s) is not above MaxMessageProcessTime (%d ms): a push may outlive "+
			"its reservation if the daemon cannot touch the job, and another daemon then pushes the message again", c.ChannelJobTTR, c.MaxMessageProcessTime)
	}
	v.atLeast("CoeOfIntervalForRetrySendingMsg", c.CoeOfIntervalForRetrySendingMsg, 0)
	v.atLeast("MaxRetryTimesOfSendingMessage", c.MaxRetryTimesOfSendingMessage, 1)
	v.atLeast("MaxRetryAfterSeconds", c.MaxRetryAfterSeconds, 0)
	v.oneOf("AdaptiveWindow", c.AdaptiveWindow, WindowOn, WindowOff)
	v.breaker()
}

// breaker checks the circuit breaker's keys.
func (v *validator) breaker() {
	c := v.c
	v.oneOf("CircuitBreaker", c.CircuitBreaker, BreakerOn, BreakerOff)
	v.atLeast("BreakerWindowSeconds", c.BreakerWindowSeconds, 1)
	v.atLeast("BreakerMinPushes", c.BreakerMinPushes, 1)
	if !(c.BreakerFailureShare > 0 && c.BreakerFailureShare <= 1) {
		v.bad("BreakerFailureShare", c.BreakerFailureShare, "a number > 0 and <= 1", "")
	}
	v.atLeast("BreakerConsecutiveErrors", c.BreakerConsecutiveErrors, 1)
	v.atLeast("BreakerCoolDownSeconds", c.BreakerCoolDownSeconds, 1)
	v.atLeast("BreakerMaxCoolDownSeconds", c.BreakerMaxCoolDownSeconds, 1)
	if c.BreakerCoolDownSeconds >= 1 && c.BreakerMaxCoolDownSeconds < c.BreakerCoolDownSeconds {
		v.bad("BreakerMaxCoolDownSeconds", c.BreakerMaxCoolDownSeconds,
			fmt.Sprintf("at least BreakerCoolDownSeconds (%d)", c.BreakerCoolDownSeconds), "")
	}
}

// subscriptions checks SubscriptionSource.
func (v *validator) subscriptions() {
	src := v.c.SubscriptionSource
	const want = `"file:<path>", "redis" or "mysql"`
	switch _, isFile := subscriptionFilePath(src); {
	case isFile:
		v.resolved("SubscriptionSource", src, want)
	case src == SubscriptionSourceMySQL:
		v.database()
	case src != SubscriptionSourceRedis:
		v.bad("SubscriptionSource", src, want, "")
	}
}

// database checks the [Database] section, which SubscriptionSource =
// "mysql" reads.
func (v *validator) database() {
	d := v.c.Database
	if strings.TrimSpace(d.Host) == "" {
		v.bad("Database.Host", d.Host, "the MySQL server's host name or address", "empty")
	}
	if d.Port < 1 || d.Port > 65535 {
		v.bad("Database.Port", d.Port, "1-65535", "")
	}
	if strings.TrimSpace(d.User) == "" {
		v.bad("Database.User", d.User, "the MySQL user", "empty")
	}
	if strings.TrimSpace(d.DbName) == "" {
		v.bad("Database.DbName", d.DbName, "the database of the subscriptions' tables", "empty")
	}
	v.atLeast("Database.PollInterval", d.PollInterval, 100)
	v.atLeast("Database.MaxConns", d.MaxConns, 0)
	if _, err := url.ParseQuery(d.Options); err != nil {
		v.bad("Database.Options", d.Options, `driver parameters as "name=value&name=value"`, err.Error())
	}
}

// redis checks the [Redis] section and the keys stored in Redis.
func (v *validator) redis() {
	c := v.c
	v.addrList("Redis.Addr", c.Redis.Addr)
	v.atLeast("Redis.DbIndex", c.Redis.DbIndex, 0)
	if c.MsgQueueFaultToleranceListNamePrefix == "" {
		v.bad("MsgQueueFaultToleranceListNamePrefix", "", "a non-empty Redis key prefix", "")
	}
	v.atLeast("FailureRecordMaxLen", c.FailureRecordMaxLen, 1)
	if (c.Redis.TLSCertFile == "") != (c.Redis.TLSKeyFile == "") {
		v.bad("Redis.TLSCertFile", v.paths.asWritten("Redis.TLSCertFile", c.Redis.TLSCertFile), "set together with Redis.TLSKeyFile", "")
	}
	if !c.Redis.TLS && c.Redis.TLSCAFile+c.Redis.TLSCertFile+c.Redis.TLSKeyFile+c.Redis.TLSServerName != "" {
		v.warn("Redis.TLS", "Redis.TLS is false: the Redis.TLS* files and server name are not used")
	}
	v.resolved("Redis.TLSCAFile", c.Redis.TLSCAFile, "a file path")
	v.resolved("Redis.TLSCertFile", c.Redis.TLSCertFile, "a file path")
	v.resolved("Redis.TLSKeyFile", c.Redis.TLSKeyFile, "a file path")
}

// logs checks the log directories, the process log and the DATA log
// writer.
func (v *validator) logs() {
	c := v.c
	if strings.TrimSpace(c.LogDir) == "" {
		v.bad("LOG_DIR", c.LogDir, "a directory", "")
	} else {
		v.resolved("LOG_DIR", c.LogDir, "a directory")
	}
	v.resolved("DropMessageLogDir", c.DropMessageLogDir, "a directory")
	v.oneOf("LogLevel", c.LogLevel, "debug", "info", "warn", "error")
	v.oneOf("LogFormat", c.LogFormat, LogFormatText, LogFormatJSON)
	v.atLeast("DataLogBuffer", c.DataLogBuffer, 1)
	v.atLeast("DataLogBufferBytes", c.DataLogBufferBytes, 64<<10)
	v.oneOf("DataLogFsync", c.DataLogFsync, FsyncNever, FsyncInterval, FsyncAlways)
}

// listeners checks the listen addresses and warns about those beyond
// loopback, saying what they expose or that they will not be served.
func (v *validator) listeners() {
	c := v.c
	for _, l := range c.listeners() {
		if l.addr == "" {
			continue
		}
		host, d := parseListenAddr(l.addr)
		if d != "" {
			v.bad(l.key, l.addr, `host:port, :port or "" (off)`, d)
			continue
		}
		if isLoopback(host) {
			continue
		}
		if !l.admin && !c.ExposeObservability {
			v.warn(l.key, "%s %q is not a loopback address and ExposeObservability is false: it will not be served (%s)", l.key, l.addr, l.risk)
			continue
		}
		v.warn(l.key, "%s %q is not a loopback address: %s", l.key, l.addr, l.risk)
	}
}

// adminAPI checks the admin API's token, host names and TLS files.
func (v *validator) adminAPI() {
	c := v.c
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		v.bad("AdminToken", "(hidden)", "a token of at least 16 characters", fmt.Sprintf("it has %d", len(c.AdminToken)))
	}
	for i, h := range c.AdminAllowedHosts {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, " /\\") {
			v.bad(fmt.Sprintf("AdminAllowedHosts[%d]", i), h, "a host or host:port", "")
		}
	}
	if (c.AdminTLSCertFile == "") != (c.AdminTLSKeyFile == "") {
		v.bad("AdminTLSCertFile", v.paths.asWritten("AdminTLSCertFile", c.AdminTLSCertFile), "set together with AdminTLSKeyFile", "")
	}
	v.resolved("AdminTLSCertFile", c.AdminTLSCertFile, "a file path")
	v.resolved("AdminTLSKeyFile", c.AdminTLSKeyFile, "a file path")
}

// limits checks the push address guard and the bounds on failure
// answers, shutdown and backlog sampling.
func (v *validator) limits() {
	c := v.c
	for i, n := range c.PushDenyCIDRs {
		if _, _, err := net.ParseCIDR(strings.TrimSpace(n)); err != nil {
			v.bad(fmt.Sprintf("PushDenyCIDRs[%d]", i), n, "a CIDR network such as 10.0.0.0/8 or fd00::/8", "")
		}
	}
	v.atLeast("FailureAnswerMaxBytes", c.FailureAnswerMaxBytes, 0)
	v.atLeast("ShutdownTimeout", c.ShutdownTimeout, 0)
	v.atLeast("BacklogSampleRate", c.BacklogSampleRate, 1)
}

// alerts checks the alert thresholds and intervals.
func (v *validator) alerts() {
	c := v.c
	v.atLeast("IntervalOfErrorMonitorAlert", c.IntervalOfErrorMonitorAlert, 1)
	v.atLeast("SubscriptionTotalFailureAlertThreshold", c.SubscriptionTotalFailureAlertThreshold, 1)
	v.atLeast("MessageFailureAlertThreshold", c.MessageFailureAlertThreshold, 1)
	if c.MessageFailureAlertThreshold > c.MaxRetryTimesOfSendingMessage && c.MaxRetryTimesOfSendingMessage >= 1 {
		v.warn("MessageFailureAlertThreshold",
			"MessageFailureAlertThreshold (%d) is above MaxRetryTimesOfSendingMessage (%d): that alert never fires by default",
			c.MessageFailureAlertThreshold, c.MaxRetryTimesOfSendingMessage)
	}
	v.atLeast("MessageBlockedAlertThreshold", c.MessageBlockedAlertThreshold, 1)
	v.atLeast("AlarmInterval", c.AlarmInterval, 1)
	v.atLeast("GlobalMessageBlockedAlertThreshold", c.GlobalMessageBlockedAlertThreshold, 0)
	v.atLeast("GlobalMessageBlockedAlarmInterval", c.GlobalMessageBlockedAlarmInterval, 1)
	v.atLeast("NameOfMainQueueBlockedAlertThreshold", c.NameOfMainQueueBlockedAlertThreshold, 0)
}

// alerters checks the three alert gateway sections.
func (v *validator) alerters() {
	for _, a := range v.c.alerters() {
		if d := gatewayProblem(a.cfg.Gateway); d != "" {
			v.bad(a.key+".Gateway", a.cfg.Gateway, `an http(s):// URL, smtp(s)://host:port, sendmail:// or "" (off)`, d)
		}
		v.oneOf(a.key+".Format", a.cfg.Format, "form", "json")
		v.resolved(a.key+".TemplateRootPath", a.cfg.TemplateRootPath, "a directory")
	}
}
