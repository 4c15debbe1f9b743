package alert

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/internal/config"
)

// Alert kinds, the Kind of an Alert and the kind label of the metrics.
const (
	KindSubFailures    = "sub_failures"
	KindMessageRetries = "message_retries"
	KindChannelBacklog = "channel_backlog"
	KindGlobalBacklog  = "global_backlog"
	KindMainBacklog    = "main_backlog"
	KindSubInvalid     = "sub_invalid"
	// Daemon-wide problems (Problem): a DATA line that could not be
	// written (its job was kept), no subscription loaded.
	KindDataLog         = "datalog_unwritable"
	KindNoSubscriptions = "no_subscriptions"
	// The subscription source's database lost while a set is held, and
	// back (SubscriptionSourceDown, SubscriptionSourceUp).
	KindSourceDown      = "subscription_source_down"
	KindSourceRecovered = "subscription_source_recovered"
	// A subscription's circuit breaker (Breaker): opened, closed again, or
	// disabled by a 410 Gone in standard mode.
	KindBreakerOpen      = "breaker_open"
	KindBreakerClosed    = "breaker_closed"
	KindSubscriptionGone = "subscription_gone"
)

// Gateway names, as they appear in Alert.Delivered/Failed, in logs and in
// the gateway label of the metrics.
const (
	GatewayEmail    = "email"    // [AlerterEmail]
	GatewaySms      = "sms"      // [AlerterSms]
	GatewayPlatform = "platform" // [AlarmPlatform]
)

// Defaults of the Options.
const (
	DefaultQueueSize   = 256
	DefaultRetries     = 3
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = 30 * time.Second
	DefaultSendTimeout = 10 * time.Second
	DefaultRecent      = 200
)

// ErrInvalid is matched (errors.Is) by the errors of SetGlobals.
var ErrInvalid = errors.New("invalid alert setting")

// Alert is one alert raised. Delivered and Failed fill in as the gateways
// answer (after their retries).
type Alert struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"` // one of the Kind constants
	SubID     int64     `json:"sub,omitempty"`
	Topic     string    `json:"topic,omitempty"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
	Delivered []string  `json:"delivered"` // gateways that acked
	Failed    []string  `json:"failed"`    // gateways that did not, after retries
	// Note says why an alert was not (or not fully) sent: no receiver, a
	// gateway's queue full.
	Note string `json:"note,omitempty"`
}

// Globals are the settings of the global conditions and the default
// receiver, which the admin API can change at run time.
type Globals struct {
	DefaultAlarmReceiver, DefaultAlarmChan                                   string
	GlobalMessageBlockedAlertThreshold, NameOfMainQueueBlockedAlertThreshold int
	GlobalMessageBlockedAlarmInterval                                        int // s
}

func (g Globals) validate() error {
	var errs []error
	if g.GlobalMessageBlockedAlertThreshold < 0 {
		errs = append(errs, fmt.Errorf("%w: GlobalMessageBlockedAlertThreshold = %d: must be >= 0 (0 = off)", ErrInvalid, g.GlobalMessageBlockedAlertThreshold))
	}
	if g.NameOfMainQueueBlockedAlertThreshold < 0 {
		errs = append(errs, fmt.Errorf("%w: NameOfMainQueueBlockedAlertThreshold = %d: must be >= 0 (0 = off)", ErrInvalid, g.NameOfMainQueueBlockedAlertThreshold))
	}
	if g.GlobalMessageBlockedAlarmInterval < 1 {
		errs = append(errs, fmt.Errorf("%w: GlobalMessageBlockedAlarmInterval = %d: must be >= 1 (s)", ErrInvalid, g.GlobalMessageBlockedAlarmInterval))
	}
	return errors.Join(errs...)
}

// Option changes how New builds a Monitor.
type Option func(*options)

type options struct {
	now         func() time.Time
	queueSize   int
	retries     int
	backoff     time.Duration
	maxBackoff  time.Duration
	sendTimeout time.Duration
	recent      int
	tls         *tls.Config
	gateways    map[string]Gateway
	onDelivery  func(gateway string, a Alert, err error)
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithQueueSize bounds each gateway's queue of alerts waiting for delivery
// (DefaultQueueSize).
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// WithRetry sets how many times a failed delivery is retried and the first
// wait, doubled after each attempt up to max (DefaultRetries,
// DefaultBackoff, DefaultMaxBackoff).
func WithRetry(retries int, backoff, max time.Duration) Option {
	return func(o *options) { o.retries, o.backoff, o.maxBackoff = retries, backoff, max }
}

// WithSendTimeout bounds one delivery attempt (DefaultSendTimeout).
func WithSendTimeout(d time.Duration) Option { return func(o *options) { o.sendTimeout = d } }

// WithRecent sets how many alerts Recent keeps (DefaultRecent).
func WithRecent(n int) Option { return func(o *options) { o.recent = n } }

// WithTLSConfig is used by https:// and smtps:// gateways and for
// STARTTLS (default: the system's roots). Its ServerName is filled in.
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tls = c } }

// WithGateway replaces the gateway name (GatewayEmail, GatewaySms,
// GatewayPlatform) built from the configuration by g; a nil g turns it off.
func WithGateway(name string, g Gateway) Option {
	return func(o *options) {
		if o.gateways == nil {
			o.gateways = make(map[string]Gateway)
		}
		o.gateways[name] = g
	}
}

// WithOnDelivery calls f after each delivery ends, from the gateway's
// goroutine, with the alert as Recent would show it and the last error
// (nil = delivered). For statistics and tests; f must not block.
func WithOnDelivery(f func(gateway string, a Alert, err error)) Option {
	return func(o *options) { o.onDelivery = f }
}

// defaults are the per-subscription settings a subscription's zero
// overrides stand for, in the units the hot path compares.
type defaults struct {
	windowNS, intervalNS                   int64
	failThreshold, retryThreshold, backlog int
}

// Monitor checks the alert conditions and delivers the alerts. Create it
// with New; its methods are safe for concurrent use.
type Monitor struct {
	log  *slog.Logger
	now  func() time.Time
	base time.Time // offsets from it are monotonic with the real clock
	env  string    // RECEPTION_ENV
	host string
	def  defaults
	opts options

	globals      atomic.Pointer[Globals]
	globalFired  [2]fired    // global_backlog, main_backlog
	problemFired [2]fired    // datalog_unwritable, no_subscriptions
	sourceFired  fired       // subscription_source_down
	sourceDown   atomic.Bool // a subscription_source_down awaits its recovery

	states   atomic.Pointer[map[int64]*subState] // copy on write
	statesMu sync.Mutex                          // serialises writers of states

	gateways []*gatewayEntry // the ones that are on
	byName   map[string]*gatewayEntry

	mu                  sync.Mutex // guards recent and the records in it
	recent              []*record  // ring, recentN entries
	recentN, recentNext int

	met monitorMetrics
}

type monitorMetrics struct {
	raised   map[string]*metrics.Counter
	dropped  *metrics.Counter
	unrouted *metrics.Counter
}

var kinds = []string{KindSubFailures, KindMessageRetries, KindChannelBacklog, KindGlobalBacklog, KindMainBacklog,
	KindSubInvalid, KindDataLog, KindNoSubscriptions, KindSourceDown, KindSourceRecovered,
	KindBreakerOpen, KindBreakerClosed, KindSubscriptionGone}

func newMonitorMetrics() monitorMetrics {
	m := monitorMetrics{
		raised:   make(map[string]*metrics.Counter, len(kinds)),
		dropped:  metrics.GetOrCreateCounter(`medispatcher_alerts_dropped_total`),
		unrouted: metrics.GetOrCreateCounter(`medispatcher_alerts_unrouted_total`),
	}
	for _, k := range kinds {
		m.raised[k] = metrics.GetOrCreateCounter(`medispatcher_alerts_raised_total{kind="` + k + `"}`)
	}
	return m
}

// New builds the monitor and its gateways from cfg (the three alerter
// sections; an empty Gateway = that gateway is off). cfg is expected to
// have passed config validation; New still rejects a gateway it cannot
// use and a template it cannot read.
func New(cfg *config.Config, log *slog.Logger, opts ...Option) (*Monitor, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := baseMonitor(cfg, log, newOptions(opts))
	g := globalsFrom(cfg)
	if err := g.validate(); err != nil {
		return nil, fmt.Errorf("alert globals from config: %w", err)
	}
	m.globals.Store(&g)
	if err := m.addGateways(cfg); err != nil {
		return nil, err
	}
	return m, nil
}

// newOptions applies opts over the defaults and brings out-of-range values
// back to the nearest usable one.
func newOptions(opts []Option) options {
	o := options{
		now:         time.Now,
		queueSize:   DefaultQueueSize,
		retries:     DefaultRetries,
		backoff:     DefaultBackoff,
		maxBackoff:  DefaultMaxBackoff,
		sendTimeout: DefaultSendTimeout,
		recent:      DefaultRecent,
	}
	for _, f := range opts {
		f(&o)
	}
	o.queueSize = max(o.queueSize, 1)
	o.retries = max(o.retries, 0)
	o.recent = max(o.recent, 1)
	if o.sendTimeout <= 0 {
		o.sendTimeout = DefaultSendTimeout
	}
	return o
}

// baseMonitor builds a Monitor with no gateway and no globals yet: the
// per-subscription defaults from cfg, no subscription state, nothing
// fired.
func baseMonitor(cfg *config.Config, log *slog.Logger, o options) *Monitor {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	m := &Monitor{
		log:  log.With("component", "alert"),
		now:  o.now,
		env:  cfg.ReceptionEnv,
		host: host,
		def: defaults{
			windowNS:       secondsNS(cfg.IntervalOfErrorMonitorAlert),
			intervalNS:     secondsNS(cfg.AlarmInterval),
			failThreshold:  max(cfg.SubscriptionTotalFailureAlertThreshold, 1),
			retryThreshold: max(cfg.MessageFailureAlertThreshold, 1),
			backlog:        max(cfg.MessageBlockedAlertThreshold, 1),
		},
		opts:    o,
		byName:  make(map[string]*gatewayEntry),
		recent:  make([]*record, o.recent),
		recentN: o.recent,
		met:     newMonitorMetrics(),
	}
	m.base = m.now()
	empty := map[int64]*subState{}
	m.states.Store(&empty)
	for i := range m.problemFired {
		m.problemFired[i].at.Store(never)
	}
	for i := range m.globalFired {
		m.globalFired[i].at.Store(never)
	}
	m.sourceFired.at.Store(never)
	return m
}

// globalsFrom is the configuration's global settings, before SetGlobals
// changes any.
func globalsFrom(cfg *config.Config) Globals {
	return Globals{
		DefaultAlarmReceiver:                 cfg.DefaultAlarmReceiver,
		DefaultAlarmChan:                     cfg.DefaultAlarmChan,
		GlobalMessageBlockedAlertThreshold:   cfg.GlobalMessageBlockedAlertThreshold,
		NameOfMainQueueBlockedAlertThreshold: cfg.NameOfMainQueueBlockedAlertThreshold,
		GlobalMessageBlockedAlarmInterval:    cfg.GlobalMessageBlockedAlarmInterval,
	}
}

func secondsNS(s int) int64 { return int64(min(max(s, 1), maxSeconds)) * int64(time.Second) }

// Globals returns the current global settings.
func (m *Monitor) Globals() Globals { return *m.globals.Load() }

// SetGlobals replaces the global settings; it refuses negative thresholds
// and an interval below 1 s (and then changes nothing).
func (m *Monitor) SetGlobals(g Globals) error {
	if err := g.validate(); err != nil {
		return err
	}
	m.globals.Store(&g)
	return nil
}

// record is one raised alert as Recent shows it.
type record struct {
	a Alert
}

// Recent returns up to n most recent alerts raised (newest first), for the
// admin API and status page. The alerts are copies.
func (m *Monitor) Recent(n int) []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	n = min(n, m.recentN)
	out := make([]Alert, 0, max(n, 0))
	for i := 1; i <= m.recentN && len(out) < n; i++ {
		r := m.recent[(m.recentNext-i+m.recentN)%m.recentN]
		if r == nil {
			break
		}
		a := r.a
		a.Delivered = cloneNonNil(a.Delivered)
		a.Failed = cloneNonNil(a.Failed)
		out = append(out, a)
	}
	return out
}

// cloneNonNil copies s; an empty s becomes an empty, non-nil slice, so that
// JSON shows [] rather than null.
func cloneNonNil(s []string) []string {
	if len(s) == 0 {
		return []string{}
	}
	return slices.Clone(s)
}

// never is a fired.at that has never fired.
const never = math.MinInt64

// fired is when one (subscription, kind) or global kind last raised an
// alert, as an offset in ns from Monitor.base.
type fired struct{ at atomic.Int64 }

// due reports whether an alert may be raised at now given interval; it
// does not claim it.
func (f *fired) due(now, interval int64) bool {
	last := f.at.Load()
	return last == never || now-last >= interval
}

// claim raises at most one alert per interval: of the callers that find
// the interval passed, exactly one wins the compare-and-swap.
func (f *fired) claim(now, interval int64) bool {
	last := f.at.Load()
	if last != never && now-last < interval {
		return false
	}
	return f.at.CompareAndSwap(last, now)
}
