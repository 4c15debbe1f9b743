package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/redis/rueidis"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/config"
	"medispatcher/internal/redisopt"
	"medispatcher/internal/wire"
)

func subsExportCommand() *command {
	return &command{
		name:    "subs export",
		summary: "copy the live subscriptions into a subscriptions file or Redis, to switch SubscriptionSource",
		help: `Reads the daemon's subscriptions with their URLs' secrets (GET
/api/v1/subscriptions?secrets=1: the daemon must have an AdminToken) and
writes them, so that the daemon can then be switched to that source:
  --to file:PATH  a subscriptions file (SubscriptionSource = "file:PATH"),
                  refused when PATH exists, unless --force replaces it;
                  readable by its owner only: it holds the URLs' secrets
  --to redis      the Redis hash of the -f config's [Redis] (Addr, DbIndex,
                  Password, TLS, KeyPrefix): the one the daemon reads once
                  SubscriptionSource = "redis"; refused when the hash holds
                  subscriptions, unless --force adds to it (same ids replaced)
Then set SubscriptionSource in the daemon's config and restart it.`,
		setup: func(fs *flag.FlagSet) action {
			to := fs.String("to", "", "file:PATH or redis")
			force := fs.Bool("force", false, "replace an existing file, or add to a Redis hash that holds subscriptions")
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				write, err := r.exportTarget(*to, *force)
				if err != nil {
					return err
				}
				list, err := r.secretSubs(ctx)
				if err != nil {
					return err
				}
				if err := write(ctx, list); err != nil {
					return err
				}
				return r.printExported(*to, len(list))
			}
		},
	}
}

// exportWriter stores the exported subscriptions.
type exportWriter func(ctx context.Context, list []*adminapi.Subscription) error

// exportTarget parses --to into its writer; a mistake is a usage error
// found before any request.
func (r *runner) exportTarget(to string, force bool) (exportWriter, error) {
	switch {
	case strings.HasPrefix(to, "file:") && len(to) > len("file:"):
		path := strings.TrimPrefix(to, "file:")
		return func(_ context.Context, list []*adminapi.Subscription) error { return writeSubsFile(path, list, force) }, nil
	case to == "redis":
		if r.g.config == "" {
			return nil, usageErrorf("--to redis writes the [Redis] of the daemon's config: give it with -f")
		}
		cfg, _, err := config.Load(r.g.config)
		if err != nil {
			return nil, &configError{err}
		}
		return func(ctx context.Context, list []*adminapi.Subscription) error { return putRedis(ctx, cfg, list, force) }, nil
	}
	return nil, usageErrorf("--to must be file:PATH or redis, not %q", to)
}

// secretSubs are the daemon's subscriptions with their URLs as stored.
func (r *runner) secretSubs(ctx context.Context) ([]*adminapi.Subscription, error) {
	var l adminapi.SubList
	if _, err := r.call(ctx, "GET", "/api/v1/subscriptions", url.Values{"secrets": {"1"}}, nil, &l); err != nil {
		return nil, err
	}
	out := make([]*adminapi.Subscription, 0, len(l.Subscriptions))
	for _, v := range l.Subscriptions {
		if v != nil && v.Subscription != nil {
			out = append(out, v.Subscription)
		}
	}
	return out, nil
}

func (r *runner) printExported(to string, n int) error {
	if r.g.json {
		return json.NewEncoder(r.env.Stdout).Encode(map[string]any{"to": to, "exported": n})
	}
	fmt.Fprintf(r.env.Stdout, "%d subscriptions exported to %s\n", n, to)
	return nil
}

// fileHeader starts a subscriptions file, as the daemon's own writer
// starts it.
const fileHeader = "# medispatcher subscriptions: one [[subscription]] table each.\n\n"

// encodeSubsFile is list in the subscriptions file format: one
// [[subscription]] table each, with the file's keys (adminapi's toml
// tags).
func encodeSubsFile(list []*adminapi.Subscription) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(fileHeader)
	doc := struct {
		Subscription []*adminapi.Subscription `toml:"subscription"`
	}{list}
	if err := toml.NewEncoder(&buf).Encode(doc); err != nil {
		return nil, fmt.Errorf("encode subscriptions: %w", err)
	}
	return buf.Bytes(), nil
}

// writeSubsFile writes list to path, which must not exist unless force.
// Without force the file is created exclusively, so a file another
// process creates meanwhile is not overwritten either.
func writeSubsFile(path string, list []*adminapi.Subscription, force bool) error {
	data, err := encodeSubsFile(list)
	if err != nil {
		return err
	}
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, mode, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; --force replaces it", path)
	}
	if err != nil {
		return fmt.Errorf("export subscriptions: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// redisKeys are the Redis keys of the subscriptions under a KeyPrefix
// ("" = the default): the hash of their JSON by id and the channel
// announcing a changed id, which the daemon's Redis source reads and
// follows.
func redisKeys(prefix string) (hash, channel string) {
	return wire.RedisSubsHash(prefix), wire.RedisSubsChannel(prefix)
}

// putRedis stores list in the hash of cfg's Redis, each value the
// subscription's JSON (the API's keys are the record's), and announces
// each id on the change channel as the daemon's own writes do.
func putRedis(ctx context.Context, cfg *config.Config, list []*adminapi.Subscription, force bool) error {
	opt, err := redisopt.Option(cfg)
	if err != nil {
		return &configError{err}
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return fmt.Errorf("redis %s: %w", cfg.Redis.Addr, err)
	}
	defer c.Close()
	hash, channel := redisKeys(cfg.Redis.KeyPrefix)
	n, err := c.Do(ctx, c.B().Hlen().Key(hash).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("redis %s: hlen %s: %w", cfg.Redis.Addr, hash, err)
	}
	if n > 0 && !force {
		return fmt.Errorf("redis %s: %s holds %d subscriptions; --force adds to them (same ids replaced)", cfg.Redis.Addr, hash, n)
	}
	for _, s := range list {
		data, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode subscription %d: %w", s.ID, err)
		}
		id := strconv.FormatInt(s.ID, 10)
		res := c.DoMulti(ctx,
			c.B().Hset().Key(hash).FieldValue().FieldValue(id, string(data)).Build(),
			c.B().Publish().Channel(channel).Message(id).Build())
		for _, r := range res {
			if err := r.Error(); err != nil {
				return fmt.Errorf("redis %s: put subscription %d: %w", cfg.Redis.Addr, s.ID, err)
			}
		}
	}
	return nil
}
