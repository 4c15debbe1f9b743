// Package redisopt builds the options of every Redis client medispatcher
// opens from the [Redis] section of its configuration (the daemon's and
// the operator tools'): addresses, database, password and TLS, so that
// they all connect the same way.
package redisopt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/redis/rueidis"

	"medispatcher/internal/config"
)

// Option returns the client options for cfg's Redis. It fails when a TLS
// file cannot be read or holds no usable certificate: a connection that
// would fail every time is a configuration error, not an outage.
func Option(cfg *config.Config) (rueidis.ClientOption, error) {
	tc, err := TLSConfig(&cfg.Redis)
	if err != nil {
		return rueidis.ClientOption{}, err
	}
	return rueidis.ClientOption{
		InitAddress:  cfg.Redis.Addrs,
		SelectDB:     cfg.Redis.DbIndex,
		Password:     cfg.Redis.Password,
		TLSConfig:    tc,
		DisableCache: true,
	}, nil
}

// TLSConfig returns the TLS settings of r, or nil when r.TLS is false.
// TLSCAFile replaces the system roots; TLSCertFile and TLSKeyFile are the
// client certificate; TLSServerName, when set, is the name checked in the
// server's certificate (otherwise the host of the address dialled).
func TLSConfig(r *config.RedisConfig) (*tls.Config, error) {
	if !r.TLS {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.TLSServerName}
	if r.TLSCAFile != "" {
		pem, err := os.ReadFile(r.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("redis TLS: read TLSCAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis TLS: TLSCAFile %s holds no PEM certificate", r.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if r.TLSCertFile != "" || r.TLSKeyFile != "" {
		if r.TLSCertFile == "" || r.TLSKeyFile == "" {
			return nil, errors.New("redis TLS: set both TLSCertFile and TLSKeyFile, or neither")
		}
		cert, err := tls.LoadX509KeyPair(r.TLSCertFile, r.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("redis TLS: load TLSCertFile %s and TLSKeyFile %s: %w", r.TLSCertFile, r.TLSKeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
