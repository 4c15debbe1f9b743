package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeConfig writes body as a config file in a fresh directory and returns
// its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "medispatcher.toml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func warningKeys(ws []Warning) []string {
	keys := make([]string, 0, len(ws))
	for _, w := range ws {
		keys = append(keys, w.Key)
	}
	return keys
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	assert.Equal(t, []string{"127.0.0.1:11300"}, c.QueueServers)
	assert.Equal(t, []string{"127.0.0.1:6379"}, c.Redis.Addrs)
	assert.False(t, c.ListenAddrExposed)
	assert.Equal(t, filepath.Join("/var/log/medispatcher", "drop"), c.DropMessageLogDir)
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(wd, "subscriptions.toml"), c.SubscriptionFile,
		"without a file, a relative subscription path is relative to the working directory")
	// Validate is idempotent.
	before := *c
	require.NoError(t, c.Validate())
	assert.Equal(t, before, *c)
}

func TestDefaults(t *testing.T) {
	// An empty file gives the defaults, with no warning.
	c, warns, err := Load(writeConfig(t, ""))
	require.NoError(t, err)
	assert.Empty(t, warns)
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"QueueServerAddr", c.QueueServerAddr, "127.0.0.1:11300"},
		{"QueueServerPoolCmdConnCount", c.QueueServerPoolCmdConnCount, 0},
		{"QueueServerPoolListenConnCount", c.QueueServerPoolListenConnCount, 0},
		{"NameOfMainQueue", c.NameOfMainQueue, "event_center_messages"},
		{"PrefixOfChannelQueue", c.PrefixOfChannelQueue, "sub-queue/"},
		{"ListenersOfMainQueue", c.ListenersOfMainQueue, 10},
		{"SendersPerChannel", c.SendersPerChannel, 5},
		{"MaxSendersPerChannel", c.MaxSendersPerChannel, 10},
		{"SendersPerRetryChannel", c.SendersPerRetryChannel, 2},
		{"MaxSendersPerRetryChannel", c.MaxSendersPerRetryChannel, 5},
		{"IntervalOfSendingForSendRoutine", c.IntervalOfSendingForSendRoutine, 0},
		{"DefaultMaxMessageProcessTime", c.DefaultMaxMessageProcessTime, 5000},
		{"MaxMessageProcessTime", c.MaxMessageProcessTime, 30000},
		{"CoeOfIntervalForRetrySendingMsg", c.CoeOfIntervalForRetrySendingMsg, 1},
		{"MaxRetryTimesOfSendingMessage", c.MaxRetryTimesOfSendingMessage, 10},
		{"MaxRetryAfterSeconds", c.MaxRetryAfterSeconds, 300},
		{"AdaptiveWindow", c.AdaptiveWindow, "off"},
		{"CircuitBreaker", c.CircuitBreaker, "off"},
		{"BreakerWindowSeconds", c.BreakerWindowSeconds, 30},
		{"BreakerMinPushes", c.BreakerMinPushes, 20},
		{"BreakerFailureShare", c.BreakerFailureShare, 0.5},
		{"BreakerConsecutiveErrors", c.BreakerConsecutiveErrors, 5},
		{"BreakerCoolDownSeconds", c.BreakerCoolDownSeconds, 5},
		{"BreakerMaxCoolDownSeconds", c.BreakerMaxCoolDownSeconds, 300},
		{"RunAtBench", c.RunAtBench, false},
		{"RECEPTION_ENV", c.ReceptionEnv, ""},
		{"SubscriptionSource", c.SubscriptionSource, "file:subscriptions.toml"},
		{"Redis.Addr", c.Redis.Addr, "127.0.0.1:6379"},
		{"Redis.DbIndex", c.Redis.DbIndex, 0},
		{"Redis.Password", c.Redis.Password, ""},
		{"Redis.KeyPrefix", c.Redis.KeyPrefix, "{medispatcher}"},
		{"MsgQueueFaultToleranceListNamePrefix", c.MsgQueueFaultToleranceListNamePrefix, "event_center_message_in_failure_log:"},
		{"FailureRecordMaxLen", c.FailureRecordMaxLen, 100000},
		{"LOG_DIR", c.LogDir, "/var/log/medispatcher"},
		{"SplitLog", c.SplitLog, true},
		{"EnableMsgSentLog", c.EnableMsgSentLog, true},
		{"DropMessageLogDir", c.DropMessageLogDir, "/var/log/medispatcher/drop"},
		{"LogLevel", c.LogLevel, "info"},
		{"LogFormat", c.LogFormat, "text"},
		{"DataLogBuffer", c.DataLogBuffer, 65536},
		{"DataLogFsync", c.DataLogFsync, "interval"},
		{"ListenAddr", c.ListenAddr, "127.0.0.1:5601"},
		{"DebugAddr", c.DebugAddr, "127.0.0.1:9898"},
		{"StatisticApiAddr", c.StatisticApiAddr, "127.0.0.1:5606"},
		{"PrometheusApiAddr", c.PrometheusApiAddr, "127.0.0.1:25606"},
		{"ShutdownTimeout", c.ShutdownTimeout, 0},
		{"IntervalOfErrorMonitorAlert", c.IntervalOfErrorMonitorAlert, 180},
		{"SubscriptionTotalFailureAlertThreshold", c.SubscriptionTotalFailureAlertThreshold, 120},
		{"MessageFailureAlertThreshold", c.MessageFailureAlertThreshold, 7},
		{"MessageBlockedAlertThreshold", c.MessageBlockedAlertThreshold, 5000},
		{"AlarmInterval", c.AlarmInterval, 180},
		{"GlobalMessageBlockedAlertThreshold", c.GlobalMessageBlockedAlertThreshold, 100000},
		{"GlobalMessageBlockedAlarmInterval", c.GlobalMessageBlockedAlarmInterval, 180},
		{"NameOfMainQueueBlockedAlertThreshold", c.NameOfMainQueueBlockedAlertThreshold, 100000},
		{"DefaultAlarmReceiver", c.DefaultAlarmReceiver, ""},
		{"DefaultAlarmChan", c.DefaultAlarmChan, ""},
		{"AlerterEmail.Gateway", c.AlerterEmail.Gateway, ""},
		{"SubscriptionFile", c.SubscriptionFile, filepath.Join(filepath.Dir(c.Path), "subscriptions.toml")},
		{"SubscriptionFromRedis", c.SubscriptionFromRedis, false},
		{"ListenAddrExposed", c.ListenAddrExposed, false},
	} {
		assert.Equal(t, tc.want, tc.got, tc.key)
	}
	assert.True(t, filepath.IsAbs(c.Path))
}

func TestLoadOldSample(t *testing.T) {
	c, warns, err := Load("testdata/old-sample.toml")
	require.NoError(t, err)

	// One warning per unused old key, one
	// per non-loopback address, in file order; nothing else.
	assert.Equal(t, []string{
		"DAEMON_USER", "DATA_DIR", "InstallDir", "PidFile", "DAEMON_UID", "DAEMON_GID",
		"ClientVer", "QueueServerType", "MedisPerMaxConsumerQueueNum",
		"ListenAddr", "DebugAddr", "StatisticApiAddr", "PrometheusApiAddr",
	}, warningKeys(warns))
	for _, w := range warns {
		switch w.Key {
		case "ListenAddr", "DebugAddr", "StatisticApiAddr", "PrometheusApiAddr":
			assert.Contains(t, w.Msg, "is not a loopback address", w.Key)
		default:
			assert.Regexp(t, `^key `+regexp.QuoteMeta(w.Key)+` is not used by medispatcher \(.+\)$`, w.Msg)
		}
	}
	assert.Contains(t, warns[8].String(), "fleet balancing")

	// The values the old file sets are the ones we run with.
	assert.Equal(t, []string{"127.0.0.1:11300"}, c.QueueServers)
	assert.Equal(t, 5, c.ListenersOfMainQueue)
	assert.Equal(t, 1500, c.MaxSendersPerChannel)
	assert.Equal(t, 60, c.MaxSendersPerRetryChannel)
	assert.Equal(t, 10, c.IntervalOfSendingForSendRoutine)
	assert.Equal(t, 2, c.QueueServerPoolCmdConnCount)
	assert.Equal(t, "PUB", c.ReceptionEnv)
	assert.Equal(t, "0.0.0.0:5601", c.ListenAddr)
	assert.True(t, c.ListenAddrExposed)
	assert.Equal(t, "/var/lib/medispatcher-drop", c.DropMessageLogDir)
	assert.Equal(t, 50000, c.NameOfMainQueueBlockedAlertThreshold)
	assert.Equal(t, "ops", c.DefaultAlarmReceiver)
	assert.Equal(t, RedisConfig{Addr: "127.0.0.1:6379", DbIndex: 4, KeyPrefix: "{medispatcher}",
		Addrs: []string{"127.0.0.1:6379"}}, c.Redis)
	assert.Equal(t, "sent", c.AlerterEmail.AckStr)
	assert.Equal(t, map[string]string{"User": "task", "Password": "key", "Recipient": "num", "Content": "content"},
		c.AlerterSms.PostFieldsMap)
	assert.Equal(t, "", c.AlarmPlatform.PostFieldsMap["project"])
	assert.Equal(t, "/var/lib/medispatcher/alerter_templates/email", c.AlerterEmail.TemplateRootPath)
	// A 2.x file has no SubscriptionSource: its [Database] holds them.
	assert.Equal(t, SubscriptionSourceMySQL, c.SubscriptionSource)
	assert.True(t, c.SubscriptionFromMySQL)
	assert.Equal(t, DatabaseConfig{Host: "127.0.0.1", Port: 3306, User: "dev", Password: "xxxx", DbName: "jm_event",
		Options: "readTimeout=20s&writeTimeout=20s", MaxConns: 10, PollInterval: 1000, FailureLog: true}, c.Database)
	assert.Equal(t, "127.0.0.1:3306", c.Database.Addr())
}

func TestUnknownKeys(t *testing.T) {
	_, warns, err := Load(writeConfig(t, `
Foo = 1
ListenersOfMainQueue = 3
[Redis]
Addr = "127.0.0.1:6379"
Sentinel = "x"
[Bar]
a = 1
b = 2
[Bar.Baz]
c = 3
[AlerterSms]
ProxyType = "Sms"
`))
	require.NoError(t, err)
	assert.Equal(t, []Warning{
		{Key: "Foo", Msg: "unknown key Foo, ignored"},
		{Key: "Redis.Sentinel", Msg: "unknown key Redis.Sentinel, ignored"},
		{Key: "Bar", Msg: "unknown key Bar, ignored"},
		{Key: "AlerterSms.ProxyType", Msg: "key AlerterSms.ProxyType is not used by medispatcher (the section name decides the kind of gateway)"},
	}, warns)
}

func TestValidationErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		// want are substrings of the one error expected.
		want []string
	}{
		{"address", `QueueServerAddr = "nonsense"`, []string{`QueueServerAddr = "nonsense"`, "host:port[,host:port...]", "missing port"}},
		{"address list entry", `QueueServerAddr = "127.0.0.1:11300,,127.0.0.1:11301"`, []string{"QueueServerAddr", "empty entry"}},
		{"address no host", `QueueServerAddr = ":11300"`, []string{"QueueServerAddr", "no host"}},
		{"address port", `QueueServerAddr = "127.0.0.1:0"`, []string{"QueueServerAddr", "port must be 1-65535"}},
		{"address twice", `QueueServerAddr = "127.0.0.1:1, 127.0.0.1:1"`, []string{"QueueServerAddr", "listed twice"}},
		{"address empty", `QueueServerAddr = ""`, []string{`QueueServerAddr = ""`, "empty"}},
		{"redis address", "[Redis]\nAddr = \"localhost\"", []string{`Redis.Addr = "localhost"`, "host:port"}},
		{"redis db", "[Redis]\nDbIndex = -1", []string{"Redis.DbIndex = -1", ">= 0"}},
		{"listen address", `ListenAddr = "5601"`, []string{`ListenAddr = "5601"`, `host:port, :port or "" (off)`}},
		{"debug port", `DebugAddr = "127.0.0.1:70000"`, []string{"DebugAddr", "0-65535"}},
		{"short publish token", `PublishTokens = ["short"]`, []string{"PublishTokens[0]", "at least 16 characters", "it has 5"}},
		{"zero publish batch", `PublishMaxBatch = 0`, []string{"PublishMaxBatch = 0", ">= 1"}},
		{"tiny publish body", `PublishMaxBodyBytes = 10`, []string{"PublishMaxBodyBytes = 10", ">= 1024"}},
		{"zero idempotency", `PublishIdempotencySeconds = 0`, []string{"PublishIdempotencySeconds = 0", ">= 1"}},
		{"otel endpoint", `OtelEndpoint = "127.0.0.1:4318"`, []string{"OtelEndpoint", "http(s)://host:port"}},
		{"otel ratio", `OtelSampleRatio = 1.5`, []string{"OtelSampleRatio = 1.5", "from 0 to 1"}},
		{"otel name", `OtelServiceName = " "`, []string{"OtelServiceName", "a service name"}},
		{"zero listeners", `ListenersOfMainQueue = 0`, []string{"ListenersOfMainQueue = 0", "an integer >= 1"}},
		{"negative senders", `SendersPerChannel = -1`, []string{"SendersPerChannel = -1", ">= 1"}},
		{"zero max senders", `MaxSendersPerChannel = 0`, []string{"MaxSendersPerChannel = 0", ">= 1"}},
		{"senders above max", "SendersPerChannel = 20\nMaxSendersPerChannel = 10", []string{"SendersPerChannel = 20", "at most MaxSendersPerChannel (10)"}},
		{"retry senders above max", "SendersPerRetryChannel = 6", []string{"SendersPerRetryChannel = 6", "at most MaxSendersPerRetryChannel (5)"}},
		{"zero retry senders", `SendersPerRetryChannel = 0`, []string{"SendersPerRetryChannel = 0", ">= 1"}},
		{"negative interval", `IntervalOfSendingForSendRoutine = -5`, []string{"IntervalOfSendingForSendRoutine = -5", ">= 0"}},
		{"default timeout above max", "DefaultMaxMessageProcessTime = 40000", []string{"DefaultMaxMessageProcessTime = 40000", "at most MaxMessageProcessTime (30000)"}},
		{"zero timeout", "MaxMessageProcessTime = 0\nDefaultMaxMessageProcessTime = 0", []string{"MaxMessageProcessTime = 0", "DefaultMaxMessageProcessTime = 0"}},
		{"negative coe", `CoeOfIntervalForRetrySendingMsg = -1`, []string{"CoeOfIntervalForRetrySendingMsg", ">= 0"}},
		{"zero retries", `MaxRetryTimesOfSendingMessage = 0`, []string{"MaxRetryTimesOfSendingMessage = 0", ">= 1"}},
		{"negative retry-after bound", `MaxRetryAfterSeconds = -1`, []string{"MaxRetryAfterSeconds = -1", ">= 0"}},
		{"circuit breaker", `CircuitBreaker = "yes"`, []string{`CircuitBreaker = "yes"`, "one of on, off"}},
		{"adaptive window", `AdaptiveWindow = "auto"`, []string{`AdaptiveWindow = "auto"`, "one of on, off"}},
		{"breaker share", `BreakerFailureShare = 1.5`, []string{"BreakerFailureShare = 1.5", "> 0 and <= 1"}},
		{"breaker zero share", `BreakerFailureShare = 0.0`, []string{"BreakerFailureShare = 0", "> 0 and <= 1"}},
		{"breaker window", `BreakerWindowSeconds = 0`, []string{"BreakerWindowSeconds = 0", ">= 1"}},
		{"breaker pushes", `BreakerMinPushes = 0`, []string{"BreakerMinPushes = 0", ">= 1"}},
		{"breaker errors", `BreakerConsecutiveErrors = 0`, []string{"BreakerConsecutiveErrors = 0", ">= 1"}},
		{"breaker cool-down", `BreakerCoolDownSeconds = 0`, []string{"BreakerCoolDownSeconds = 0", ">= 1"}},
		{"breaker max cool-down", "BreakerCoolDownSeconds = 10\nBreakerMaxCoolDownSeconds = 5", []string{"BreakerMaxCoolDownSeconds = 5", "at least BreakerCoolDownSeconds (10)"}},
		{"cmd conns", `QueueServerPoolCmdConnCount = -1`, []string{"QueueServerPoolCmdConnCount = -1"}},
		{"listen conns", `QueueServerPoolListenConnCount = -2`, []string{"QueueServerPoolListenConnCount = -2"}},
		{"main tube empty", `NameOfMainQueue = ""`, []string{`NameOfMainQueue = ""`, "tube name", "empty"}},
		{"main tube chars", `NameOfMainQueue = "a b"`, []string{`NameOfMainQueue = "a b"`, `character ' ' not allowed`}},
		{"main tube hyphen", `NameOfMainQueue = "-x"`, []string{"NameOfMainQueue", "starts with -"}},
		{"main tube long", `NameOfMainQueue = "` + strings.Repeat("a", 201) + `"`, []string{"NameOfMainQueue", "longer than 200 bytes"}},
		{"channel prefix", `PrefixOfChannelQueue = "sub queue/"`, []string{"PrefixOfChannelQueue", "not allowed"}},
		{"subscription source", `SubscriptionSource = "mssql"`, []string{`SubscriptionSource = "mssql"`, `"file:<path>", "redis" or "mysql"`}},
		{"mysql without a database", "SubscriptionSource = \"mysql\"\n[Database]\nHost = \"\"\nPort = 0\nPollInterval = 10\nOptions = \"a=%zz\"",
			[]string{"Database.Host", "Database.Port = 0", "Database.User", "Database.DbName", "Database.PollInterval = 10", "Database.Options"}},
		{"subscription file empty", `SubscriptionSource = "file:"`, []string{`SubscriptionSource = "file:"`}},
		{"recover prefix", `MsgQueueFaultToleranceListNamePrefix = ""`, []string{"MsgQueueFaultToleranceListNamePrefix", "non-empty"}},
		{"failure records", `FailureRecordMaxLen = 0`, []string{"FailureRecordMaxLen = 0", ">= 1"}},
		{"log dir", `LOG_DIR = ""`, []string{`LOG_DIR = ""`, "a directory"}},
		{"log level", `LogLevel = "verbose"`, []string{`LogLevel = "verbose"`, "one of debug, info, warn, error"}},
		{"log format", `LogFormat = "xml"`, []string{`LogFormat = "xml"`, "one of text, json"}},
		{"data log buffer", `DataLogBuffer = 0`, []string{"DataLogBuffer = 0", ">= 1"}},
		{"fsync", `DataLogFsync = "sometimes"`, []string{`DataLogFsync = "sometimes"`, "one of never, interval, always"}},
		{"shutdown", `ShutdownTimeout = -1`, []string{"ShutdownTimeout = -1", ">= 0"}},
		{"alert window", `IntervalOfErrorMonitorAlert = 0`, []string{"IntervalOfErrorMonitorAlert = 0"}},
		{"alert total", `SubscriptionTotalFailureAlertThreshold = 0`, []string{"SubscriptionTotalFailureAlertThreshold = 0"}},
		{"alert message", `MessageFailureAlertThreshold = 0`, []string{"MessageFailureAlertThreshold = 0"}},
		{"alert blocked", `MessageBlockedAlertThreshold = 0`, []string{"MessageBlockedAlertThreshold = 0"}},
		{"alarm interval", `AlarmInterval = 0`, []string{"AlarmInterval = 0"}},
		{"global threshold", `GlobalMessageBlockedAlertThreshold = -1`, []string{"GlobalMessageBlockedAlertThreshold = -1"}},
		{"global interval", `GlobalMessageBlockedAlarmInterval = 0`, []string{"GlobalMessageBlockedAlarmInterval = 0"}},
		{"main tube threshold", `NameOfMainQueueBlockedAlertThreshold = -1`, []string{"NameOfMainQueueBlockedAlertThreshold = -1"}},
		{"gateway scheme", "[AlerterEmail]\nGateway = \"ftp://127.0.0.1/\"", []string{`AlerterEmail.Gateway = "ftp://127.0.0.1/"`, "http(s)://", `scheme "ftp" not supported`}},
		{"gateway host", "[AlarmPlatform]\nGateway = \"http:///x\"", []string{"AlarmPlatform.Gateway", "no host"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.body+"\n")
			c, _, err := Load(path)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), path, "the error names the file")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
		})
	}
}

func TestValidationCollectsAllErrors(t *testing.T) {
	_, _, err := Load(writeConfig(t, `
QueueServerAddr = "nonsense"
ListenersOfMainQueue = 0
LogLevel = "loud"
SendersPerChannel = 50
[Redis]
Addr = ""
`))
	require.Error(t, err)
	msg := err.Error()
	for _, key := range []string{"QueueServerAddr", "ListenersOfMainQueue", "LogLevel", "SendersPerChannel", "Redis.Addr"} {
		assert.Contains(t, msg, key+" = ")
	}
	// One line per problem after the header line.
	assert.Len(t, strings.Split(msg, "\n"), 1+5)
}

func TestValidateOnStruct(t *testing.T) {
	c := Default()
	c.QueueServerAddr = "nonsense"
	c.LogFormat = "yaml"
	err := c.Validate()
	require.Error(t, err)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "QueueServerAddr", fe.Key)
	assert.Equal(t, "nonsense", fe.Value)
	assert.Contains(t, err.Error(), `LogFormat = "yaml"`)
}

func TestAcceptedValues(t *testing.T) {
	c, warns, err := Load(writeConfig(t, `
QueueServerAddr = " 127.0.0.1:11300 , localhost:11301,[::1]:11302"
LogLevel = "DEBUG"
LogFormat = "JSON"
DataLogFsync = "Always"
ListenAddr = ""
DebugAddr = "[::1]:0"
StatisticApiAddr = "localhost:5606"
PrometheusApiAddr = ""
RECEPTION_ENV = "  PUB "
CoeOfIntervalForRetrySendingMsg = 0
SubscriptionSource = "redis"
[Redis]
Addr = "127.0.0.1:7000,127.0.0.1:7001"
[AlerterEmail]
Gateway = "sendmail://"
[AlerterSms]
Gateway = "https://127.0.0.1/sms"
TemplateRootPath = "templates/sms"
`))
	require.NoError(t, err)
	assert.Empty(t, warns)
	assert.Equal(t, []string{"127.0.0.1:11300", "localhost:11301", "[::1]:11302"}, c.QueueServers)
	assert.Equal(t, []string{"127.0.0.1:7000", "127.0.0.1:7001"}, c.Redis.Addrs)
	assert.Equal(t, "debug", c.LogLevel)
	assert.Equal(t, slog.LevelDebug, c.SlogLevel())
	assert.Equal(t, "json", c.LogFormat)
	assert.Equal(t, FsyncAlways, c.DataLogFsync)
	assert.Equal(t, "PUB", c.ReceptionEnv)
	assert.True(t, c.SubscriptionFromRedis)
	assert.Empty(t, c.SubscriptionFile)
	assert.False(t, c.ListenAddrExposed)
	assert.Equal(t, filepath.Join(filepath.Dir(c.Path), "templates/sms"), c.AlerterSms.TemplateRootPath)
}

func TestAdminToken(t *testing.T) {
	c, warns, err := Load(writeConfig(t, "ListenAddr = \"0.0.0.0:5601\"\nAdminToken = \"0123456789abcdef\""))
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].Msg, "AdminToken protects it")
	assert.Empty(t, c.AdminAPIRefused(), "a token opens the exposed admin API")

	_, _, err = Load(writeConfig(t, `AdminToken = "short"`))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "at least 16 characters")
	assert.NotContains(t, err.Error(), "short", "the token is never printed")

	t.Setenv("MEDISPATCHER_ADMIN_TOKEN", "fedcba9876543210")
	c, _, err = Load(writeConfig(t, `ListenAddr = "0.0.0.0:5601"`))
	require.NoError(t, err)
	assert.Equal(t, "fedcba9876543210", c.AdminToken)
	assert.Empty(t, c.AdminAPIRefused())
}

func TestPublishTokens(t *testing.T) {
	_, _, err := Load(writeConfig(t, `PublishTokens = ["0123456789abcdef", "secret"]`))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "PublishTokens[1]")
	assert.NotContains(t, err.Error(), "secret", "a token is never printed")

	t.Setenv("MEDISPATCHER_PUBLISH_TOKENS", " aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb ,")
	c, _, err := Load(writeConfig(t, ""))
	require.NoError(t, err)
	assert.Equal(t, []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}, c.PublishTokens)

	c, _, err = Load(writeConfig(t, `PublishTokens = ["cccccccccccccccc"]`))
	require.NoError(t, err)
	assert.Equal(t, []string{"cccccccccccccccc"}, c.PublishTokens, "the file's tokens win over the environment")
}

func TestExposedAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		exposed bool
	}{
		{"127.0.0.1:5601", false},
		{"127.3.4.5:5601", false},
		{"[::1]:5601", false},
		{"localhost:5601", false},
		{"0.0.0.0:5601", true},
		{":5601", true},
		{"[::]:5601", true},
		{"192.0.2.1:5601", true},
		{"ctl.example:5601", true},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			c, warns, err := Load(writeConfig(t, `ListenAddr = "`+tc.addr+`"`))
			require.NoError(t, err, "a non-loopback ListenAddr is allowed")
			assert.Equal(t, tc.exposed, c.ListenAddrExposed)
			if tc.exposed {
				require.Len(t, warns, 1)
				assert.Equal(t, "ListenAddr", warns[0].Key)
				assert.Contains(t, warns[0].Msg, "admin API will not be served")
				assert.NotEmpty(t, c.AdminAPIRefused(), "no token: the admin API stays closed")
			} else {
				assert.Empty(t, warns)
			}
		})
	}
}

func TestMessageFailureThresholdAboveRetriesWarns(t *testing.T) {
	_, warns, err := Load(writeConfig(t, "MaxRetryTimesOfSendingMessage = 3\n"))
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Equal(t, "MessageFailureAlertThreshold", warns[0].Key)
	assert.Contains(t, warns[0].Msg, "never fires")
}

func TestChannelJobTTRNotAboveMaxProcessTimeWarns(t *testing.T) {
	_, warns, err := Load(writeConfig(t, "ChannelJobTTR = 30\n"))
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Equal(t, "ChannelJobTTR", warns[0].Key)
	assert.Contains(t, warns[0].Msg, "outlive its reservation")
	_, warns, err = Load(writeConfig(t, "ChannelJobTTR = 31\n"))
	require.NoError(t, err)
	assert.Empty(t, warns)
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc", "medis")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	for _, tc := range []struct {
		source, want string
	}{
		{"file:subscriptions.toml", filepath.Join(sub, "subscriptions.toml")},
		{"file:conf.d/subs.toml", filepath.Join(sub, "conf.d", "subs.toml")},
		{"file:../subs.toml", filepath.Join(dir, "etc", "subs.toml")},
		{"file: spaced.toml ", filepath.Join(sub, "spaced.toml")},
		{"file:/srv/subs.toml", "/srv/subs.toml"},
	} {
		t.Run(tc.source, func(t *testing.T) {
			p := filepath.Join(sub, "medispatcher.toml")
			require.NoError(t, os.WriteFile(p, []byte(`
SubscriptionSource = "`+tc.source+`"
LOG_DIR = "log"
`), 0o600))
			// Load through a relative path from another working directory:
			// the file's own directory is still the base.
			t.Chdir(dir)
			c, _, err := Load(filepath.Join("etc", "medis", "medispatcher.toml"))
			require.NoError(t, err)
			assert.Equal(t, p, c.Path)
			assert.Equal(t, tc.want, c.SubscriptionFile)
			assert.False(t, c.SubscriptionFromRedis)
			assert.Equal(t, filepath.Join(sub, "log"), c.LogDir)
			assert.Equal(t, filepath.Join(sub, "log", "drop"), c.DropMessageLogDir)
		})
	}
}

func TestSyntaxErrorShowsLineAndColumn(t *testing.T) {
	path := writeConfig(t, "ListenersOfMainQueue = 3\nNameOfMainQueue = = \"x\"\n")
	_, _, err := Load(path)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), path+":2:19:")
	assert.Contains(t, err.Error(), "expected value but found '='")
	assert.Contains(t, err.Error(), `NameOfMainQueue = = "x"`, "the offending line is quoted")
}

func TestWrongTypeNamesKeyAndLine(t *testing.T) {
	path := writeConfig(t, "\nListenersOfMainQueue = \"ten\"\n")
	_, _, err := Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "line 2")
	assert.Contains(t, err.Error(), "ListenersOfMainQueue")
}

func TestMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "nope.toml")
}

func TestHelpers(t *testing.T) {
	c := Default()
	assert.Equal(t, 5*time.Second, c.PushTimeout(0))
	assert.Equal(t, 2*time.Second, c.PushTimeout(2000))
	assert.Equal(t, 30*time.Second, c.PushTimeout(90000))

	assert.Equal(t, 5, c.ChannelSenders(0))
	assert.Equal(t, 7, c.ChannelSenders(7))
	assert.Equal(t, 10, c.ChannelSenders(100))
	assert.Equal(t, 2, c.RetrySenders(0))
	assert.Equal(t, 5, c.RetrySenders(9))

	assert.Equal(t, time.Second, c.RetryDelay(1))
	assert.Equal(t, 4*time.Second, c.RetryDelay(2))
	c.CoeOfIntervalForRetrySendingMsg = 3
	assert.Equal(t, 27*time.Second, c.RetryDelay(3))

	assert.Equal(t, 35*time.Second, c.ShutdownGrace())
	c.ShutdownTimeout = 1500
	assert.Equal(t, 1500*time.Millisecond, c.ShutdownGrace())

	assert.Equal(t, max(2, runtime.NumCPU()), c.CmdConnsPerServer())
	assert.Equal(t, 2, c.ListenConnsPerServer())
	c.QueueServerPoolCmdConnCount, c.QueueServerPoolListenConnCount = 7, 3
	assert.Equal(t, 7, c.CmdConnsPerServer())
	assert.Equal(t, 3, c.ListenConnsPerServer())

	for level, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		c.LogLevel = level
		assert.Equal(t, want, c.SlogLevel(), level)
	}
}

// The example file documents every key with its default: loading it gives
// exactly Default(), without a warning, and it mentions every key.
func TestExampleFile(t *testing.T) {
	const example = "../../scripts/medispatcher.example.toml"
	c, warns, err := Load(example)
	require.NoError(t, err)
	assert.Empty(t, warns)

	want := Default()
	want.Path = c.Path
	require.NoError(t, want.Validate())
	assert.Equal(t, want, c, "the example's values are the defaults")

	text, err := os.ReadFile(example)
	require.NoError(t, err)
	for _, key := range tomlKeys(reflect.TypeFor[Config]()) {
		assert.Regexp(t, `(?m)^#? ?`+regexp.QuoteMeta(key)+` =`, string(text), "key %s is documented", key)
	}
}

// tomlKeys lists the TOML keys of a struct type; a table's keys are listed
// as they appear inside the table.
func tomlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Name
		if tag := f.Tag.Get("toml"); tag != "" {
			if tag == "-" {
				continue
			}
			name = tag
		}
		switch {
		case f.Type.Kind() == reflect.Struct:
			keys = append(keys, tomlKeys(f.Type)...)
		case name == "Database", name == "PostFieldsMap", name == "ProxyType":
			// Tables or per-table keys documented in prose; see the file.
		default:
			keys = append(keys, name)
		}
	}
	return keys
}

func TestFieldErrorFormatting(t *testing.T) {
	e := &FieldError{Key: "K", Value: 3, Want: "an integer >= 4"}
	assert.Equal(t, "K = 3: want an integer >= 4", e.Error())
	e = &FieldError{Key: "K", Value: "a\"b", Want: "x", Detail: "why"}
	assert.Equal(t, `K = "a\"b": want x (why)`, e.Error())
	assert.True(t, errors.Is(e, ErrInvalid))
}

// A [Database] table makes MySQL the source only in a file that does not
// name one: an explicit SubscriptionSource wins.
func TestDatabaseTableAndExplicitSource(t *testing.T) {
	c, _, err := Load(writeConfig(t, "SubscriptionSource = \"redis\"\n[Redis]\nAddr = \"127.0.0.1:6379\"\n[Database]\nHost = \"db.internal\"\nUser = \"u\"\nDbName = \"d\"\n"))
	require.NoError(t, err)
	assert.Equal(t, SubscriptionSourceRedis, c.SubscriptionSource)
	assert.False(t, c.SubscriptionFromMySQL)
	assert.Equal(t, "db.internal:3306", c.Database.Addr())

	c, _, err = Load(writeConfig(t, "QueueServerAddr = \"127.0.0.1:11300\"\n"))
	require.NoError(t, err)
	assert.Equal(t, "file:subscriptions.toml", c.SubscriptionSource, "no [Database], no SubscriptionSource: the file")
}
