package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"medispatcher/internal/redact"
)

// ErrInvalid is wrapped by every FieldError: errors.Is(err, ErrInvalid) is
// true for a configuration that parsed but holds values we cannot run with.
var ErrInvalid = errors.New("invalid configuration value")

// FieldError is one invalid value: the key, the value found and what is
// allowed. Error never shows the value of a secret key (redact.SecretKey:
// "(hidden)") nor the userinfo of a URL.
type FieldError struct {
	Key   string
	Value any
	// Want says what is allowed, e.g. "host:port[,host:port...]".
	Want string
	// Detail is the underlying reason, if any ("missing port in address").
	Detail string
}

func (e *FieldError) Error() string {
	v := e.Value
	if redact.SecretKey(e.Key) {
		v = "(hidden)"
	} else if s, ok := v.(string); ok {
		v = strconv.Quote(redact.URL(s))
	}
	msg := fmt.Sprintf("%s = %v: want %s", e.Key, v, e.Want)
	if e.Detail != "" {
		msg += " (" + redact.URL(e.Detail) + ")"
	}
	return msg
}

func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate checks every value and fills in the derived fields (QueueServers,
// Redis.Addrs, SubscriptionFile, SubscriptionFromRedis, ListenAddrExposed,
// an empty DropMessageLogDir, absolute paths). It returns all problems at
// once, joined; each is a *FieldError. Relative paths are resolved against
// the directory of Path, or the working directory when Path is empty.
func (c *Config) Validate() error {
	_, errs := c.check()
	return errors.Join(errs...)
}

// check is Validate that also returns warnings about values that are
// allowed but worth an operator's attention.
func (c *Config) check() (warns []Warning, errs []error) {
	bad := func(key string, val any, want, detail string) {
		errs = append(errs, &FieldError{Key: key, Value: val, Want: want, Detail: detail})
	}
	warn := func(key, format string, args ...any) {
		warns = append(warns, Warning{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	base := ""
	if c.Path != "" {
		base = filepath.Dir(c.Path)
	}

	// Queue server.
	servers, detail := parseAddrList(c.QueueServerAddr)
	if detail != "" {
		bad("QueueServerAddr", c.QueueServerAddr, "host:port[,host:port...]", detail)
	}
	c.QueueServers = servers
	atLeast := func(key string, v, lo int) {
		if v < lo {
			bad(key, v, fmt.Sprintf("an integer >= %d", lo), "")
		}
	}
	atLeast("QueueServerPoolCmdConnCount", c.QueueServerPoolCmdConnCount, 0)
	atLeast("QueueServerPoolListenConnCount", c.QueueServerPoolListenConnCount, 0)
	if d := tubeNameProblem(c.NameOfMainQueue, true); d != "" {
		bad("NameOfMainQueue", c.NameOfMainQueue, "a beanstalkd tube name: 1-200 of A-Z a-z 0-9 - + / ; . $ _ ( ), not starting with -", d)
	}
	if d := tubeNameProblem(c.PrefixOfChannelQueue, false); d != "" {
		bad("PrefixOfChannelQueue", c.PrefixOfChannelQueue, "characters allowed in a beanstalkd tube name: A-Z a-z 0-9 - + / ; . $ _ ( )", d)
	}
	atLeast("ListenersOfMainQueue", c.ListenersOfMainQueue, 1)
	atLeast("ChannelJobTTR", c.ChannelJobTTR, 1)

	// Sending.
	atLeast("SendersPerChannel", c.SendersPerChannel, 1)
	atLeast("MaxSendersPerChannel", c.MaxSendersPerChannel, 1)
	if c.SendersPerChannel > c.MaxSendersPerChannel && c.MaxSendersPerChannel >= 1 {
		bad("SendersPerChannel", c.SendersPerChannel,
			fmt.Sprintf("at most MaxSendersPerChannel (%d)", c.MaxSendersPerChannel), "")
	}
	atLeast("SendersPerRetryChannel", c.SendersPerRetryChannel, 1)
	atLeast("MaxSendersPerRetryChannel", c.MaxSendersPerRetryChannel, 1)
	if c.SendersPerRetryChannel > c.MaxSendersPerRetryChannel && c.MaxSendersPerRetryChannel >= 1 {
		bad("SendersPerRetryChannel", c.SendersPerRetryChannel,
			fmt.Sprintf("at most MaxSendersPerRetryChannel (%d)", c.MaxSendersPerRetryChannel), "")
	}
	atLeast("IntervalOfSendingForSendRoutine", c.IntervalOfSendingForSendRoutine, 0)
	atLeast("DefaultMaxMessageProcessTime", c.DefaultMaxMessageProcessTime, 1)
	atLeast("MaxMessageProcessTime", c.MaxMessageProcessTime, 1)
	if c.DefaultMaxMessageProcessTime > c.MaxMessageProcessTime && c.MaxMessageProcessTime >= 1 {
		bad("DefaultMaxMessageProcessTime", c.DefaultMaxMessageProcessTime,
			fmt.Sprintf("at most MaxMessageProcessTime (%d)", c.MaxMessageProcessTime), "")
	}
	if c.ChannelJobTTR >= 1 && c.ChannelJobTTR*1000 <= c.MaxMessageProcessTime {
		warn("ChannelJobTTR", "ChannelJobTTR (%d s) is not above MaxMessageProcessTime (%d ms): a push may outlive "+
			"its reservation if the daemon cannot touch the job, and another daemon then pushes the message again", c.ChannelJobTTR, c.MaxMessageProcessTime)
	}
	atLeast("CoeOfIntervalForRetrySendingMsg", c.CoeOfIntervalForRetrySendingMsg, 0)
	atLeast("MaxRetryTimesOfSendingMessage", c.MaxRetryTimesOfSendingMessage, 1)
	c.ReceptionEnv = strings.TrimSpace(c.ReceptionEnv)

	// Subscriptions.
	c.SubscriptionFile, c.SubscriptionFromRedis = "", false
	switch src := c.SubscriptionSource; {
	case src == SubscriptionSourceRedis:
		c.SubscriptionFromRedis = true
	case strings.HasPrefix(src, subscriptionFilePrefix) && strings.TrimSpace(src[len(subscriptionFilePrefix):]) != "":
		f, err := absPath(base, strings.TrimSpace(src[len(subscriptionFilePrefix):]))
		if err != nil {
			bad("SubscriptionSource", src, `"file:<path>" or "redis"`, err.Error())
		}
		c.SubscriptionFile = f
	default:
		bad("SubscriptionSource", src, `"file:<path>" or "redis"`, "")
	}

	// Redis.
	addrs, detail := parseAddrList(c.Redis.Addr)
	if detail != "" {
		bad("Redis.Addr", c.Redis.Addr, "host:port[,host:port...]", detail)
	}
	c.Redis.Addrs = addrs
	atLeast("Redis.DbIndex", c.Redis.DbIndex, 0)
	if c.MsgQueueFaultToleranceListNamePrefix == "" {
		bad("MsgQueueFaultToleranceListNamePrefix", "", "a non-empty Redis key prefix", "")
	}
	atLeast("FailureRecordMaxLen", c.FailureRecordMaxLen, 1)
	if (c.Redis.TLSCertFile == "") != (c.Redis.TLSKeyFile == "") {
		bad("Redis.TLSCertFile", c.Redis.TLSCertFile, "set together with Redis.TLSKeyFile", "")
	}
	if !c.Redis.TLS && c.Redis.TLSCAFile+c.Redis.TLSCertFile+c.Redis.TLSKeyFile+c.Redis.TLSServerName != "" {
		warn("Redis.TLS", "Redis.TLS is false: the Redis.TLS* files and server name are not used")
	}
	c.Redis.TLSCAFile = c.resolveFile(bad, base, "Redis.TLSCAFile", c.Redis.TLSCAFile)
	c.Redis.TLSCertFile = c.resolveFile(bad, base, "Redis.TLSCertFile", c.Redis.TLSCertFile)
	c.Redis.TLSKeyFile = c.resolveFile(bad, base, "Redis.TLSKeyFile", c.Redis.TLSKeyFile)

	// Logs.
	if strings.TrimSpace(c.LogDir) == "" {
		bad("LOG_DIR", c.LogDir, "a directory", "")
	} else if p, err := absPath(base, c.LogDir); err != nil {
		bad("LOG_DIR", c.LogDir, "a directory", err.Error())
	} else {
		c.LogDir = p
	}
	if strings.TrimSpace(c.DropMessageLogDir) == "" {
		c.DropMessageLogDir = filepath.Join(c.LogDir, "drop")
	} else if p, err := absPath(base, c.DropMessageLogDir); err != nil {
		bad("DropMessageLogDir", c.DropMessageLogDir, "a directory", err.Error())
	} else {
		c.DropMessageLogDir = p
	}
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	oneOf(bad, "LogLevel", c.LogLevel, "debug", "info", "warn", "error")
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	oneOf(bad, "LogFormat", c.LogFormat, LogFormatText, LogFormatJSON)
	atLeast("DataLogBuffer", c.DataLogBuffer, 1)
	atLeast("DataLogBufferBytes", c.DataLogBufferBytes, 64<<10)
	c.DataLogFsync = strings.ToLower(strings.TrimSpace(c.DataLogFsync))
	oneOf(bad, "DataLogFsync", c.DataLogFsync, FsyncNever, FsyncInterval, FsyncAlways)

	// Network endpoints. An old file with ListenAddr = "0.0.0.0:5601" must
	// still load and run the dispatcher; what it does not get is an open
	// admin API: the daemon leaves ListenAddr closed until a token is set
	// (AdminAPIRefused).
	if c.AdminToken == "" {
		c.AdminToken = os.Getenv("MEDISPATCHER_ADMIN_TOKEN")
	}
	adminWhat := "the admin API is reachable from the network (AdminToken protects it)"
	if c.AdminToken == "" {
		adminWhat = "AdminToken is empty, so the admin API will not be served"
	}
	c.ListenAddrExposed = false
	c.ExposedObservability = nil
	for _, ep := range []struct {
		key, val, what string
		exposed        *bool
	}{
		{"ListenAddr", c.ListenAddr, adminWhat, &c.ListenAddrExposed},
		{"DebugAddr", c.DebugAddr, "pprof exposes memory contents and can stall the process", nil},
		{"StatisticApiAddr", c.StatisticApiAddr, "statistics name every topic and subscription", nil},
		{"PrometheusApiAddr", c.PrometheusApiAddr, "metrics name every topic and subscription", nil},
	} {
		if ep.val == "" {
			continue
		}
		host, d := parseListenAddr(ep.val)
		if d != "" {
			bad(ep.key, ep.val, `host:port, :port or "" (off)`, d)
			continue
		}
		if !isLoopback(host) {
			if ep.exposed != nil {
				*ep.exposed = true
			} else {
				c.ExposedObservability = append(c.ExposedObservability, ep.key)
				if !c.ExposeObservability {
					warn(ep.key, "%s %q is not a loopback address and ExposeObservability is false: it will not be served (%s)", ep.key, ep.val, ep.what)
					continue
				}
			}
			warn(ep.key, "%s %q is not a loopback address: %s", ep.key, ep.val, ep.what)
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		bad("AdminToken", "(hidden)", "a token of at least 16 characters", fmt.Sprintf("it has %d", len(c.AdminToken)))
	}
	if len(c.AdminAllowedHosts) == 0 {
		c.AdminAllowedHosts = nil
	}
	if len(c.PushDenyCIDRs) == 0 {
		c.PushDenyCIDRs = nil
	}
	for i, h := range c.AdminAllowedHosts {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, " /\\") {
			bad(fmt.Sprintf("AdminAllowedHosts[%d]", i), h, "a host or host:port", "")
		}
	}
	if (c.AdminTLSCertFile == "") != (c.AdminTLSKeyFile == "") {
		bad("AdminTLSCertFile", c.AdminTLSCertFile, "set together with AdminTLSKeyFile", "")
	}
	c.AdminTLSCertFile = c.resolveFile(bad, base, "AdminTLSCertFile", c.AdminTLSCertFile)
	c.AdminTLSKeyFile = c.resolveFile(bad, base, "AdminTLSKeyFile", c.AdminTLSKeyFile)
	for i, n := range c.PushDenyCIDRs {
		if _, _, err := net.ParseCIDR(strings.TrimSpace(n)); err != nil {
			bad(fmt.Sprintf("PushDenyCIDRs[%d]", i), n, "a CIDR network such as 10.0.0.0/8 or fd00::/8", "")
		}
	}
	atLeast("FailureAnswerMaxBytes", c.FailureAnswerMaxBytes, 0)
	atLeast("ShutdownTimeout", c.ShutdownTimeout, 0)
	atLeast("BacklogSampleRate", c.BacklogSampleRate, 1)

	// Alerts.
	atLeast("IntervalOfErrorMonitorAlert", c.IntervalOfErrorMonitorAlert, 1)
	atLeast("SubscriptionTotalFailureAlertThreshold", c.SubscriptionTotalFailureAlertThreshold, 1)
	atLeast("MessageFailureAlertThreshold", c.MessageFailureAlertThreshold, 1)
	if c.MessageFailureAlertThreshold > c.MaxRetryTimesOfSendingMessage && c.MaxRetryTimesOfSendingMessage >= 1 {
		warn("MessageFailureAlertThreshold",
			"MessageFailureAlertThreshold (%d) is above MaxRetryTimesOfSendingMessage (%d): that alert never fires by default",
			c.MessageFailureAlertThreshold, c.MaxRetryTimesOfSendingMessage)
	}
	atLeast("MessageBlockedAlertThreshold", c.MessageBlockedAlertThreshold, 1)
	atLeast("AlarmInterval", c.AlarmInterval, 1)
	atLeast("GlobalMessageBlockedAlertThreshold", c.GlobalMessageBlockedAlertThreshold, 0)
	atLeast("GlobalMessageBlockedAlarmInterval", c.GlobalMessageBlockedAlarmInterval, 1)
	atLeast("NameOfMainQueueBlockedAlertThreshold", c.NameOfMainQueueBlockedAlertThreshold, 0)
	for _, a := range []struct {
		key string
		cfg *AlerterConfig
	}{{"AlerterEmail", &c.AlerterEmail}, {"AlerterSms", &c.AlerterSms}, {"AlarmPlatform", &c.AlarmPlatform}} {
		if d := gatewayProblem(a.cfg.Gateway); d != "" {
			bad(a.key+".Gateway", a.cfg.Gateway, `an http(s):// URL, smtp(s)://host:port, sendmail:// or "" (off)`, d)
		}
		a.cfg.Format = strings.ToLower(strings.TrimSpace(a.cfg.Format))
		if a.cfg.Format == "" {
			a.cfg.Format = "form"
		}
		oneOf(bad, a.key+".Format", a.cfg.Format, "form", "json")
		if a.cfg.TemplateRootPath != "" {
			if p, err := absPath(base, a.cfg.TemplateRootPath); err != nil {
				bad(a.key+".TemplateRootPath", a.cfg.TemplateRootPath, "a directory", err.Error())
			} else {
				a.cfg.TemplateRootPath = p
			}
		}
	}
	return warns, errs
}

// resolveFile makes a file key's value absolute ("" stays ""); the file
// itself is read when the daemon starts.
func (c *Config) resolveFile(bad func(key string, val any, want, detail string), base, key, p string) string {
	if p == "" {
		return ""
	}
	abs, err := absPath(base, p)
	if err != nil {
		bad(key, p, "a file path", err.Error())
		return p
	}
	return abs
}

func oneOf(bad func(key string, val any, want, detail string), key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	bad(key, val, "one of "+strings.Join(allowed, ", "), "")
}

// absPath resolves p against base (the config file's directory), or the
// working directory when base is empty.
func absPath(base, p string) (string, error) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	if base != "" {
		return filepath.Join(base, p), nil
	}
	return filepath.Abs(p)
}

// parseAddrList splits a comma-separated list of host:port; detail is the
// first problem found, "" when the list is valid.
func parseAddrList(s string) (addrs []string, detail string) {
	if strings.TrimSpace(s) == "" {
		return nil, "empty"
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		a := strings.TrimSpace(part)
		if a == "" {
			return nil, "empty entry"
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, errDetail(err)
		}
		if host == "" {
			return nil, fmt.Sprintf("%q has no host", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Sprintf("%q: port must be 1-65535", a)
		}
		if seen[a] {
			return nil, fmt.Sprintf("%q is listed twice", a)
		}
		seen[a] = true
		addrs = append(addrs, a)
	}
	return addrs, ""
}

// parseListenAddr checks a listen address; an empty host (all interfaces)
// and port 0 (any free port) are allowed.
func parseListenAddr(s string) (host, detail string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errDetail(err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", "port must be 0-65535"
	}
	return host, ""
}

// errDetail is the reason of a net.AddrError without the address, which the
// FieldError already shows.
func errDetail(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tubeNameProblem checks beanstalkd's tube-name rules; a prefix (whole =
// false) may be empty and may start with '-' (it never starts a name).
func tubeNameProblem(s string, whole bool) string {
	if whole && s == "" {
		return "empty"
	}
	if len(s) > 200 {
		return "longer than 200 bytes"
	}
	if whole && s[0] == '-' {
		return "starts with -"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-+/;.$_()", c) >= 0 {
			continue
		}
		return fmt.Sprintf("character %q not allowed", c)
	}
	return ""
}

func gatewayProblem(gw string) string {
	if gw == "" {
		return ""
	}
	u, err := url.Parse(gw)
	if err != nil {
		return err.Error()
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return "no host"
		}
		return ""
	case "smtp", "smtps":
		if u.Host == "" {
			return "no host"
		}
		return ""
	case "sendmail":
		return ""
	}
	return fmt.Sprintf("scheme %q not supported", u.Scheme)
}
