package redisopt

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

func tlsConfig(addr string, f *testsrv.TLSFiles) *config.Config {
	return &config.Config{Redis: config.RedisConfig{
		Addrs: []string{addr}, TLS: true,
		TLSCAFile: f.CA, TLSCertFile: f.ClientCert, TLSKeyFile: f.ClientKey,
	}}
}

// TestRedisOverTLS: a redis-server serving TLS only, asking for a client
// certificate, is reached with the options built from the [Redis] keys;
// without the CA, the client certificate or with a wrong server name the
// connection is refused.
func TestRedisOverTLS(t *testing.T) {
	f := testsrv.NewTLSFiles(t)
	rd := testsrv.StartRedis(t, testsrv.WithTLS(f))
	ctx := context.Background()

	opt, err := Option(tlsConfig(rd.Addr, f))
	require.NoError(t, err)
	require.NotNil(t, opt.TLSConfig)
	c, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Do(ctx, c.B().Set().Key("k").Value("over tls").Build()).Error())
	v, err := c.Do(ctx, c.B().Get().Key("k").Build()).ToString()
	require.NoError(t, err)
	assert.Equal(t, "over tls", v)

	cfg := tlsConfig(rd.Addr, f)
	cfg.Redis.TLSServerName = "localhost"
	opt, err = Option(cfg)
	require.NoError(t, err)
	c2, err := rueidis.NewClient(opt)
	require.NoError(t, err, "the server certificate names localhost")
	c2.Close()

	for name, change := range map[string]func(*config.RedisConfig){
		"system roots only": func(r *config.RedisConfig) { r.TLSCAFile = "" },
		"no client cert":    func(r *config.RedisConfig) { r.TLSCertFile, r.TLSKeyFile = "", "" },
		"wrong server name": func(r *config.RedisConfig) { r.TLSServerName = "redis.example" },
		"plain to TLS port": func(r *config.RedisConfig) { r.TLS = false },
	} {
		cfg := tlsConfig(rd.Addr, f)
		change(&cfg.Redis)
		opt, err := Option(cfg)
		require.NoError(t, err, name)
		opt.Dialer.Timeout = 2 * time.Second
		c, err := rueidis.NewClient(opt)
		if err == nil {
			c.Close()
		}
		assert.Error(t, err, name)
		t.Logf("%s: %v", name, err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	tc, err := TLSConfig(&config.RedisConfig{TLSCAFile: "/nonexistent"})
	require.NoError(t, err, "TLS off: the files are not read")
	assert.Nil(t, tc)

	f := testsrv.NewTLSFiles(t)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	for name, r := range map[string]config.RedisConfig{
		"missing CA file": {TLS: true, TLSCAFile: filepath.Join(t.TempDir(), "missing.pem")},
		"CA not PEM":      {TLS: true, TLSCAFile: notPEM},
		"key missing":     {TLS: true, TLSCertFile: f.ClientCert},
		"key of another":  {TLS: true, TLSCertFile: f.ClientCert, TLSKeyFile: f.ServerKey},
	} {
		_, err := TLSConfig(&r)
		assert.ErrorContains(t, err, "redis TLS", name)
	}
	tc, err = TLSConfig(&config.RedisConfig{TLS: true, TLSServerName: "redis.internal"})
	require.NoError(t, err)
	assert.Equal(t, "redis.internal", tc.ServerName)
	assert.Nil(t, tc.RootCAs, "no CA file: the system roots")
}
