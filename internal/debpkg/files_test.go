package debpkg

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// The repository's directories, from this package's.
const (
	repoRoot   = "../.."
	serviceDir = repoRoot + "/scripts/service"
	docDir     = repoRoot + "/scripts"
)

// TestPackagedConfig: the configuration the package installs loads
// without a warning and points at the packaged paths.
func TestPackagedConfig(t *testing.T) {
	cfg, warns, err := config.Load(filepath.Join(serviceDir, "medispatcher.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warns {
		t.Errorf("warning: %s", w.Msg)
	}
	if cfg.LogDir != LogDir {
		t.Errorf("LOG_DIR = %q, want %q", cfg.LogDir, LogDir)
	}
	if cfg.SubscriptionFile != SubsPath {
		t.Errorf("subscription file = %q, want %q", cfg.SubscriptionFile, SubsPath)
	}
}

// TestPackagedSubscriptions: the packaged subscriptions file holds none
// and reads without a complaint; its placeholder, uncommented, is one
// valid subscription.
func TestPackagedSubscriptions(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(serviceDir, "subscriptions.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := readSubscriptions(t, string(data)); n != 0 {
		t.Errorf("packaged file: %d subscriptions, want 0", n)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "# ") && l != "#" {
			lines = append(lines, l[1:])
		}
	}
	if n := readSubscriptions(t, strings.Join(lines, "\n")); n != 1 {
		t.Errorf("placeholder uncommented: %d subscriptions, want 1:\n%s", n, strings.Join(lines, "\n"))
	}
}

// readSubscriptions is the number of subscriptions the daemon's file
// source reads from text, failing t on any warning or error it logs.
func readSubscriptions(t *testing.T, text string) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "subscriptions.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	def := config.Default()
	lim := subs.Limits{
		MaxConcurrency:      def.MaxSendersPerChannel,
		MaxRetryConcurrency: def.MaxSendersPerRetryChannel,
		MaxTimeoutMS:        def.MaxMessageProcessTime,
		ChannelPrefix:       def.PrefixOfChannelQueue,
	}
	logged := &complaints{}
	src := subs.NewFileSource(path, lim, slog.New(logged))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := -1
	_ = src.Run(ctx, func(s *subs.Set) {
		n = s.Len()
		cancel()
	})
	for _, c := range logged.list() {
		t.Errorf("file source logged: %s", c)
	}
	return n
}

// complaints is a slog handler keeping the messages at WARN and above.
type complaints struct {
	mu   sync.Mutex
	msgs []string
}

func (c *complaints) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (c *complaints) WithAttrs([]slog.Attr) slog.Handler           { return c }
func (c *complaints) WithGroup(string) slog.Handler                { return c }

func (c *complaints) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, r.Level.String()+" "+r.Message)
	return nil
}

func (c *complaints) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}
