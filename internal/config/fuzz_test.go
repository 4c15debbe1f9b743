package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// dottedKeys lists every TOML key of a struct type, a table's keys as
// "Table.Key".
func dottedKeys(t reflect.Type, prefix string, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Name
		if tag := f.Tag.Get("toml"); tag != "" {
			if tag == "-" {
				continue
			}
			name = tag
		}
		into[prefix+name] = true
		if f.Type.Kind() == reflect.Struct {
			dottedKeys(f.Type, prefix+name+".", into)
		}
	}
}

var configKeys = func() map[string]bool {
	m := map[string]bool{}
	dottedKeys(reflect.TypeFor[Config](), "", m)
	return m
}()

// fieldErrors flattens err into its *FieldError leaves; others are
// returned apart.
func fieldErrors(err error) (fes []*FieldError, others []error) {
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			fes = append(fes, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			if u := errors.Unwrap(err); u != nil {
				walk(u)
			} else {
				others = append(others, err)
			}
		}
	}
	walk(err)
	return fes, others
}

// withoutIgnored clears the old keys a config accepts and ignores (typed
// any; their decoded values need not survive a round trip).
func withoutIgnored(c *Config) Config {
	v := *c
	v.DaemonUser, v.DaemonUID, v.DaemonGID, v.InstallDir, v.PidFile = nil, nil, nil, nil, nil
	v.DataDir, v.QueueServerType, v.ClientVer, v.MedisPerMaxConsumerQueueNum = nil, nil, nil, nil
	return v
}

// FuzzLoad loads arbitrary bytes as a configuration file.
func FuzzLoad(f *testing.F) {
	for _, p := range []string{"testdata/old-sample.toml", "../../scripts/medispatcher.example.toml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"ListenersOfMainQueue = 3\nNameOfMainQueue = = \"x\"\n",
		"\nListenersOfMainQueue = \"ten\"\n",
		"QueueServerAddr = \"127.0.0.1\"\nSendersPerChannel = -1\nNameOfMainQueue = \"-x\"\n",
		"[Redis]\nAddr = \"127.0.0.1:6379\"\nKeyPrefix = \"{p}\"\n",
		"SubscriptionSource = \"redis\"\n",
		"SubscriptionSource = \"subs/x.toml\"\nLOG_DIR = \"rel\"\n",
		"[AlarmPlatform]\nGateway = \"http://127.0.0.1:1/alarm\"\nFormat = \"json\"\n[AlarmPlatform.PostFieldsMap]\nRecipient = \"to\"\n",
		"[AlerterEmail]\nGateway = \"smtp://\"\n",
		"AdminAllowedHosts = [\"a\", \"\"]\nPushDenyCIDRs = [\"10.0.0.0/8\", \"x\"]\n",
		"Colour = \"blue\"\n[Database]\nHost = \"db\"\n[Unknown]\nk = 1\n",
		"DAEMON_USER = 1979-05-27T07:32:00Z\nDATA_DIR = [1, \"a\"]\n",
		"ListenAddr = \"0.0.0.0:5601\"\nAdminToken = \"\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "medispatcher.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, warns, err := Load(path)
		for _, w := range warns {
			if w.Key == "" || !strings.Contains(w.Msg, w.Key) {
				t.Fatalf("warning without its key: %+v", w)
			}
		}
		if err != nil {
			if cfg != nil {
				t.Fatalf("a config and an error: %v", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			if !errors.Is(err, ErrInvalid) {
				return // a syntax or type error
			}
			fes, others := fieldErrors(err)
			if len(fes) == 0 || len(others) > 0 {
				t.Fatalf("invalid config: %d field errors, others %v: %v", len(fes), others, err)
			}
			for _, fe := range fes {
				key, _, _ := strings.Cut(fe.Key, "[")
				if !configKeys[key] {
					t.Fatalf("field error names %q, not a key: %v", fe.Key, fe)
				}
				if fe.Want == "" {
					t.Fatalf("field error does not say what is allowed: %v", fe)
				}
			}
			return
		}
		if cfg == nil || cfg.Path != path {
			t.Fatalf("Load gave %v without an error", cfg)
		}
		// A loaded config re-validates to itself.
		again := *cfg
		if err := again.Validate(); err != nil {
			t.Fatalf("a loaded config does not re-validate: %v", err)
		}
		if !reflect.DeepEqual(withoutIgnored(&again), withoutIgnored(cfg)) {
			t.Fatalf("Validate changed a loaded config:\n%+v\n%+v", again, *cfg)
		}
		// Round trip: the loaded values written out load the same.
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(withoutIgnored(cfg)); err != nil {
			t.Fatalf("encode: %v", err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		back, _, err := Load(path)
		if err != nil {
			t.Fatalf("the loaded config written out does not load: %v\n%s", err, buf.Bytes())
		}
		if !reflect.DeepEqual(withoutIgnored(back), withoutIgnored(cfg)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v\n%s", withoutIgnored(back), withoutIgnored(cfg), buf.Bytes())
		}
	})
}
