package subs

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
)

// fuzzLimits are the limits the fuzz targets validate against.
var fuzzLimits = Limits{MaxConcurrency: 50, MaxRetryConcurrency: 20, MaxTimeoutMS: 30000, ChannelPrefix: DefaultChannelPrefix}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// checkInvalid asserts what every invalid entry's error must satisfy: it
// says something, matches ErrInvalid, and the keys it names are keys of
// the format. A validation error (not a decoding one) names at least one.
func checkInvalid(t *testing.T, err error) {
	t.Helper()
	if err == nil || err.Error() == "" {
		t.Fatalf("invalid entry with an empty error: %v", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error does not match ErrInvalid: %v", err)
	}
	fields := InvalidFields(err)
	for _, f := range fields {
		if !jsonKeys[f] {
			t.Fatalf("error names %q, not a key: %v", f, err)
		}
		if !strings.Contains(strings.ToLower(err.Error()), f) { // as spelt in the input
			t.Fatalf("InvalidFields gives %q but the message does not say it: %v", f, err)
		}
	}
	var ve *ValidationError
	if errors.As(err, &ve) && len(fields) == 0 {
		t.Fatalf("validation error names no key: %v", err)
	}
}

// fuzzCur is the set a fuzzed file is loaded over: its ids are those the
// seeds use.
var fuzzCur = func() *Set {
	var list []*Subscription
	for id := int64(1); id <= 3; id++ {
		s := &Subscription{ID: id, Topic: "cur_" + strconv.FormatInt(id, 10), URL: "http://127.0.0.1/cur", AlertEnabled: true}
		list = append(list, s)
	}
	return NewSet(list)
}()

// FuzzFile loads arbitrary bytes as a subscriptions file over fuzzCur.
func FuzzFile(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("[[subscription]]\nid = 1\ntopic = \"a\"\nurl = \"http://127.0.0.1/a\"\n"))
	f.Add([]byte("[[subscription]]\nid = 2\ntopic = \"a\"\nurl = \"ftp://x\"\nconcurrency = -1\n"))
	f.Add([]byte("[[subscription]]\nid = 3\ntopic = \"b\"\nurl = \"http://h/\"\nconcurrency = \"many\"\n"))
	f.Add([]byte("[[subscription]]\nid = 3\ntopic = \"b\"\nurl = {x = 1}\n"))
	f.Add([]byte("[[subscription]]\nid = 1\ntopic = \"a\"\nurl = \"http://h/\"\n[[subscription]]\nid = 1\ntopic = \"b\"\nurl = \"http://h/\"\n"))
	f.Add([]byte("[[subscription]]\nid = \"x\"\n[[subscription]]\ntopic=\"-bad\"\n"))
	f.Add([]byte("subscription = 3\n"))
	f.Add([]byte("[subscription]\nid = 1\n"))
	f.Add([]byte("[[subscription]]\nid = 4\ntopic = \"t\"\nurl = \"[T_ENV:prod]http://p/\\nhttp://u/\"\nrate = 2.5\nburst = 3\ndrop_action = 2\nalert_enabled = false\n"))
	data, err := os.ReadFile("../../../scripts/subscriptions.example.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		valid, bad, err := decodeFile(data, fuzzLimits, discardLog)
		if err != nil {
			if valid != nil || bad != nil || !strings.Contains(err.Error(), "decode subscriptions TOML: ") {
				t.Fatalf("a file that does not parse: %v (%d valid, %d bad)", err, len(valid), len(bad))
			}
			return
		}
		seen := map[int64]bool{}
		for _, s := range valid {
			if err := s.Validate(fuzzLimits); err != nil {
				t.Fatalf("a valid table does not re-validate: %v", err)
			}
			if seen[s.ID] {
				t.Fatalf("id %d kept twice", s.ID)
			}
			seen[s.ID] = true
		}
		for _, b := range bad {
			checkInvalid(t, b.err)
			if b.table < 1 || b.version == "" {
				t.Fatalf("bad table without its place or version: %+v", b)
			}
		}

		// The last-good rule over fuzzCur.
		reported := 0
		set, held := mergeLastGood(valid, bad, fuzzCur, func(badTable, bool) { reported++ })
		if reported != len(bad) {
			t.Fatalf("%d bad tables, %d reported", len(bad), reported)
		}
		for _, s := range valid {
			if !set.ByID(s.ID).Equal(s) {
				t.Fatalf("valid table %d not in the set as decoded", s.ID)
			}
		}
		for _, id := range held {
			if !set.ByID(id).Equal(fuzzCur.ByID(id)) || seen[id] {
				t.Fatalf("held id %d is not its last good version", id)
			}
		}
		for _, b := range bad {
			if last := fuzzCur.ByID(b.id); last != nil && !seen[b.id] && !set.ByID(b.id).Equal(last) {
				t.Fatalf("invalid table %d lost its last good version", b.id)
			}
		}
		if set.Len() != len(valid)+len(held) {
			t.Fatalf("set of %d from %d valid and %d held", set.Len(), len(valid), len(held))
		}

		// Round trip: the valid tables written out read back the same.
		out, err := encodeFile(valid)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, bad2, err := decodeFile(out, fuzzLimits, discardLog)
		if err != nil || len(bad2) > 0 || len(again) != len(valid) {
			t.Fatalf("round trip: err %v, %d bad, %d of %d\n%s", err, len(bad2), len(again), len(valid), out)
		}
		for i := range valid {
			if !again[i].Equal(valid[i]) {
				t.Fatalf("round trip changed %+v into %+v", valid[i], again[i])
			}
		}
	})
}

// FuzzRedisEntry decodes an arbitrary hash field and value as the Redis
// source does.
func FuzzRedisEntry(f *testing.F) {
	f.Add("1", `{"id":1,"topic":"a","url":"http://127.0.0.1/a"}`)
	f.Add("7", `{"topic":"a","url":"http://127.0.0.1/a","alert_enabled":false,"rate":0.5}`)
	f.Add("2", `{"id":3,"topic":"a","url":"http://h/"}`)
	f.Add("2", `{"id":2,"topic":"a","url":"ftp://h/","concurrency":-1,"drop_action":9}`)
	f.Add("2", `{"id":2,"topic":"a","url":"http://h/","timeout_ms":"soon"}`)
	f.Add("2", `{"id":2,"Topic":"a","URL":"http://h/","colour":"blue"}`)
	f.Add("02", `{"topic":"a","url":"http://h/"}`)
	f.Add("x", `{}`)
	f.Add("3", `not json`)
	f.Add("3", `[]`)
	f.Add("3", `null`)
	f.Add("4", `{"id":4,"topic":"t","url":"[T_ENV:prod] http://p/\nhttp://u/","rate":1e308}`)
	f.Add("5", `{"id":5,"topic":"t","url":"http://h/","filter":"body.amount > 100 && sender == \"shop\""}`)
	f.Add("5", `{"id":5,"topic":"t","url":"http://h/","filter":"body.kind in [1, (2"}`)
	r := NewRedisSource(nil, "", fuzzLimits, discardLog)
	f.Fuzz(func(t *testing.T, field, value string) {
		s, id, err := r.decode(field, value)
		if want, perr := strconv.ParseInt(field, 10, 64); perr == nil && want > 0 && strconv.FormatInt(want, 10) == field {
			if id != want {
				t.Fatalf("field %q gave id %d", field, id)
			}
		} else if id != 0 || err == nil {
			t.Fatalf("field %q is not an id but gave %d, %v", field, id, err)
		}
		if err != nil {
			if s != nil {
				t.Fatalf("both a subscription and an error: %v", err)
			}
			checkInvalid(t, err)
			if id > 0 && !strings.Contains(err.Error(), strconv.FormatInt(id, 10)) {
				t.Fatalf("error does not name subscription %d: %v", id, err)
			}
			return
		}
		if s.ID != id {
			t.Fatalf("subscription %d from field %q", s.ID, field)
		}
		if err := s.Validate(fuzzLimits); err != nil {
			t.Fatalf("decoded subscription does not re-validate: %v", err)
		}
		// Round trip through the JSON RedisPut writes.
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, unknown, err := DecodeJSON(data)
		if err != nil || len(unknown) > 0 || !again.Equal(s) {
			t.Fatalf("round trip of %s: %+v, unknown %v, %v", data, again, unknown, err)
		}
	})
}
