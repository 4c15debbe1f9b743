package config

import (
	"os"
	"path/filepath"
	"strings"
)

// normalize is the one step of Validate (and so of Load) that changes the
// configuration. It fills in the defaults that depend on other values (an
// empty DropMessageLogDir, AdminToken from the environment, an alerter's
// Format), trims and lower-cases the values compared as words, makes paths
// absolute and derives the fields tagged `toml:"-"`.
//
// It accepts any value and reports nothing itself: validate, which only
// reads, says what is wrong. The returned paths hold, by key, each path as
// written and the reason of each one that could not be made absolute (it
// is then kept as written). Normalizing a normalized configuration changes
// nothing.
func (c *Config) normalize() *paths {
	r := &paths{base: c.baseDir(), written: map[string]string{}, failed: map[string]error{}}

	c.QueueServers, _ = parseAddrList(c.QueueServerAddr)
	c.ReceptionEnv = strings.TrimSpace(c.ReceptionEnv)
	c.normalizeSubscriptionSource(r)

	c.Redis.Addrs, _ = parseAddrList(c.Redis.Addr)
	c.Redis.TLSCAFile = r.file("Redis.TLSCAFile", c.Redis.TLSCAFile)
	c.Redis.TLSCertFile = r.file("Redis.TLSCertFile", c.Redis.TLSCertFile)
	c.Redis.TLSKeyFile = r.file("Redis.TLSKeyFile", c.Redis.TLSKeyFile)

	c.normalizeLogs(r)
	c.normalizeEndpoints(r)
	for _, a := range c.alerters() {
		a.cfg.Format = strings.ToLower(strings.TrimSpace(a.cfg.Format))
		if a.cfg.Format == "" {
			a.cfg.Format = "form"
		}
		if a.cfg.TemplateRootPath != "" {
			a.cfg.TemplateRootPath = r.file(a.key+".TemplateRootPath", a.cfg.TemplateRootPath)
		}
	}
	return r
}

// baseDir is the directory relative paths are resolved against: that of
// Path, or "" (the working directory) when Path is empty.
func (c *Config) baseDir() string {
	if c.Path == "" {
		return ""
	}
	return filepath.Dir(c.Path)
}

// normalizeSubscriptionSource derives SubscriptionFile and
// SubscriptionFromRedis; both stay empty for a source validate rejects.
func (c *Config) normalizeSubscriptionSource(r *paths) {
	c.SubscriptionFile, c.SubscriptionFromRedis, c.SubscriptionFromMySQL = "", false, false
	switch {
	case c.SubscriptionSource == SubscriptionSourceRedis:
		c.SubscriptionFromRedis = true
	case c.SubscriptionSource == SubscriptionSourceMySQL:
		c.SubscriptionFromMySQL = true
	default:
		if p, ok := subscriptionFilePath(c.SubscriptionSource); ok {
			c.SubscriptionFile = r.path("SubscriptionSource", p)
		}
	}
}

// normalizeLogs resolves the log directories (an empty DropMessageLogDir
// is LogDir/drop) and lower-cases the enumerated log settings.
func (c *Config) normalizeLogs(r *paths) {
	if strings.TrimSpace(c.LogDir) != "" {
		c.LogDir = r.file("LOG_DIR", c.LogDir)
	}
	if strings.TrimSpace(c.DropMessageLogDir) == "" {
		c.DropMessageLogDir = filepath.Join(c.LogDir, "drop")
	} else {
		c.DropMessageLogDir = r.file("DropMessageLogDir", c.DropMessageLogDir)
	}
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	c.DataLogFsync = strings.ToLower(strings.TrimSpace(c.DataLogFsync))
}

// normalizeEndpoints takes AdminToken from the environment when the file
// sets none, derives ListenAddrExposed and ExposedObservability, and
// resolves the admin API's TLS files. An old file with ListenAddr =
// "0.0.0.0:5601" must still load and run the dispatcher; what it does not
// get is an open admin API: the daemon leaves ListenAddr closed until a
// token is set (AdminAPIRefused).
func (c *Config) normalizeEndpoints(r *paths) {
	if c.AdminToken == "" {
		c.AdminToken = os.Getenv("MEDISPATCHER_ADMIN_TOKEN")
	}
	if len(c.PublishTokens) == 0 {
		c.PublishTokens = publishTokensFromEnv()
	}
	c.ListenAddrExposed = false
	c.ExposedObservability = nil
	for _, l := range c.listeners() {
		if !beyondLoopback(l.addr) {
			continue
		}
		if l.admin {
			c.ListenAddrExposed = true
		} else {
			c.ExposedObservability = append(c.ExposedObservability, l.key)
		}
	}
	if len(c.AdminAllowedHosts) == 0 {
		c.AdminAllowedHosts = nil
	}
	if len(c.PushDenyCIDRs) == 0 {
		c.PushDenyCIDRs = nil
	}
	c.AdminTLSCertFile = r.file("AdminTLSCertFile", c.AdminTLSCertFile)
	c.AdminTLSKeyFile = r.file("AdminTLSKeyFile", c.AdminTLSKeyFile)
}

// paths makes the path keys' values absolute against base and keeps, by
// key, each value as written and the reason of each one it could not
// resolve. A key is the name of the FieldError that reports it.
type paths struct {
	base    string
	written map[string]string
	failed  map[string]error
}

// path is p made absolute, or what absPath gave with the failure kept
// under key.
func (r *paths) path(key, p string) string {
	r.written[key] = p
	abs, err := absPath(r.base, p)
	if err != nil {
		r.failed[key] = err
	}
	return abs
}

// file is a path key's value made absolute ("" stays ""); on failure the
// value is kept as written. The file itself is read when the daemon
// starts.
func (r *paths) file(key, p string) string {
	if p == "" {
		return ""
	}
	r.written[key] = p
	abs, err := absPath(r.base, p)
	if err != nil {
		r.failed[key] = err
		return p
	}
	return abs
}

// asWritten is the value of key before normalize resolved it, or val when
// it did not.
func (r *paths) asWritten(key, val string) string {
	if w, ok := r.written[key]; ok {
		return w
	}
	return val
}

// listener is one of the listen address keys.
type listener struct {
	key, addr string
	// admin is true for ListenAddr (the admin API); the others serve
	// observability and obey ExposeObservability.
	admin bool
	// risk says what an address beyond loopback exposes.
	risk string
}

// listeners are the listen address keys, the admin API first.
func (c *Config) listeners() []listener {
	adminRisk := "the admin API is reachable from the network (AdminToken protects it)"
	if c.AdminToken == "" {
		adminRisk = "AdminToken is empty, so the admin API will not be served"
	}
	return []listener{
		{"ListenAddr", c.ListenAddr, true, adminRisk},
		{"DebugAddr", c.DebugAddr, false, "pprof exposes memory contents and can stall the process"},
		{"StatisticApiAddr", c.StatisticApiAddr, false, "statistics name every topic and subscription"},
		{"PrometheusApiAddr", c.PrometheusApiAddr, false, "metrics name every topic and subscription"},
	}
}

// alerterSection is one alert gateway section and its key.
type alerterSection struct {
	key string
	cfg *AlerterConfig
}

// alerters are the three alert gateway sections.
func (c *Config) alerters() []alerterSection {
	return []alerterSection{{"AlerterEmail", &c.AlerterEmail}, {"AlerterSms", &c.AlerterSms}, {"AlarmPlatform", &c.AlarmPlatform}}
}
