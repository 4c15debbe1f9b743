package datalog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedTime is the clock of the golden lines: a non-UTC zone, so that the
// offset is part of what is checked.
var fixedTime = time.Date(2026, 11, 25, 14, 3, 7, 123456789, time.FixedZone("CST", 8*3600))

// capture runs write against a fresh Writer (one day file, fixed clock),
// closes it and returns the lines written, in order.
func capture(t *testing.T, write func(w *Writer)) [][]byte {
	t.Helper()
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, Split: true, Now: func() time.Time { return fixedTime }})
	require.NoError(t, err)
	write(w)
	require.NoError(t, w.Close(context.Background()))
	return fileLines(t, filepath.Join(dir, "DATA.2026-11-25.log"))
}

// fileLines returns the lines of path, each with its newline, and checks
// that the file ends with one.
func fileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	if len(data) == 0 {
		return nil
	}
	require.Equal(t, byte('\n'), data[len(data)-1], "file must end with a newline")
	lines := bytes.SplitAfter(data, []byte{'\n'})
	return lines[:len(lines)-1] // the empty rest after the final newline
}

// assertClean checks the promise to line-oriented tools: no control bytes
// but the final newline.
func assertClean(t *testing.T, line []byte) {
	t.Helper()
	for i, c := range line[:len(line)-1] {
		if c < ' ' || c == 0x7f {
			t.Fatalf("control byte %#x at %d in %q", c, i, line)
		}
	}
}

func TestHelpersGoldenLines(t *testing.T) {
	job := []byte{0x82, 0xa6, 'm', 's', 'g', 'K', 'e', 'y', 0xa1, 'a', 0x00, 0xff}
	const ts = "2026-11-25T14:03:07.123456+08:00 "
	tests := []struct {
		name  string
		write func(w *Writer) error
		want  string
	}{
		{"DecodeErr", func(w *Writer) error { return w.DecodeErr(job, "not a map") },
			ts + `DECODERR reason="not a map" raw=gqZtc2dLZXmhYQD/`},
		{"DecodeErr empty job", func(w *Writer) error { return w.DecodeErr(nil, "empty") },
			ts + `DECODERR reason=empty raw=`},
		{"RedistFail", func(w *Writer) error {
			return w.RedistFail("order_paid", 17, job, "put order_paid/sub-queue/17: i/o timeout")
		}, ts + `REDISTFAIL topic=order_paid sub=17 reason="put order_paid/sub-queue/17: i/o timeout" raw=gqZtc2dLZXmhYQD/`},
		{"Drop", func(w *Writer) error { return w.Drop("order_paid", 3, job, "backlog 5001>5000") },
			ts + `DROP topic=order_paid sub=3 reason="backlog 5001>5000" raw=gqZtc2dLZXmhYQD/`},
		{"RecovFailBack", func(w *Writer) error { return w.RecovFailBack(job, "rpush: connection refused") },
			ts + `RECOVFAILBACK reason="rpush: connection refused" raw=gqZtc2dLZXmhYQD/`},
		{"RecovFailDecode", func(w *Writer) error { return w.RecovFailDecode([]byte("x"), "eof") },
			ts + `RECOVFAILDECODE reason=eof raw=eA==`},
		{"RecovFailAssert", func(w *Writer) error { return w.RecovFailAssert([]byte{1}, "int") },
			ts + `RECOVFAILASSERT reason=int raw=AQ==`},
		{"DelFail", func(w *Writer) error {
			return w.DelFail("127.0.0.1:11300", "order_paid/sub-queue/17", 42, "NOT_FOUND")
		}, ts + `DELFAIL server=127.0.0.1:11300 tube=order_paid/sub-queue/17 job=42 reason=NOT_FOUND`},
		{"KickFail", func(w *Writer) error { return w.KickFail("127.0.0.1:11301", "main", 7, "") },
			ts + `KICKFAIL server=127.0.0.1:11301 tube=main job=7 reason=""`},
		{"Sent", func(w *Writer) error {
			return w.Sent(false, []byte("order_paid"), 17, true, 200, 3021*time.Microsecond,
				"http://10.0.0.5/hook?x=1&y=2", []byte(`{"id":42,"name":"Zoë"}`))
		}, ts + `SENT topic=order_paid sub=17 result=ok code=200 elapse=3.021ms dest=http://10.0.0.5/hook?x=1&y=2 data={"id":42,"name":"Zoë"}`},
		{"Resent with spaces in body", func(w *Writer) error {
			return w.Sent(true, []byte("t"), 1, false, 502, 5*time.Second, "http://h/", []byte(`{"a":"b c"}`))
		}, ts + `RESENT topic=t sub=1 result=fail code=502 elapse=5000.000ms dest=http://h/ data="{\"a\":\"b c\"}"`},
		{"Sent without body", func(w *Writer) error {
			return w.Sent(false, []byte("t"), 1, false, 0, 0, "http://h/", nil)
		}, ts + `SENT topic=t sub=1 result=fail code=0 elapse=0.000ms dest=http://h/`},
		{"Write sanitises", func(w *Writer) error {
			return w.Write("my cat", []Field{{"raw", "x"}, {"a b", "1"}, {"", "2"}}, []byte("r"))
		}, ts + `MY_CAT raw_=x a_b=1 _=2 raw=cg==`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := capture(t, func(w *Writer) { require.NoError(t, tt.write(w)) })
			require.Len(t, lines, 1)
			assert.Equal(t, tt.want+"\n", string(lines[0]))
			assertClean(t, lines[0])
			_, err := ParseLine(lines[0])
			require.NoError(t, err)
		})
	}
}

func TestParseRoundTripAllByteValues(t *testing.T) {
	raw := make([]byte, 256)
	for i := range raw {
		raw[i] = byte(i)
	}
	// Every byte value also as a field value, one byte at a time and all
	// together, to cover the quoting of each.
	fields := []Field{{"all", string(raw)}}
	for i := range 256 {
		fields = append(fields, Field{"b", string(raw[i : i+1])})
	}
	lines := capture(t, func(w *Writer) {
		require.NoError(t, w.RedistFail("topic", 1, raw, "r"))
		require.NoError(t, w.Write("X", fields, raw))
	})
	require.Len(t, lines, 2)
	for _, l := range lines {
		assertClean(t, l)
		e, err := ParseLine(l)
		require.NoError(t, err)
		assert.Equal(t, raw, e.Raw)
		assert.True(t, e.Time.Equal(fixedTime.Truncate(time.Microsecond)), "time %v", e.Time)
	}
	e, err := ParseLine(lines[1])
	require.NoError(t, err)
	assert.Equal(t, Category("X"), e.Category)
	assert.Equal(t, fields, e.Fields)
}

func TestParseRoundTripValues(t *testing.T) {
	values := []string{
		"plain", "with space", "new\nline", "cr\rlf\r\n", "tab\there", `"leading quote`, `inner"quote`,
		`back\slash`, `\"`, "", " ", "=", "a=b=c", "Zoë 中文", "\u2028sep", "\x00nul", "\xff\xfe invalid",
		"trailing\\", "del\x7f", "\u00a0nbsp", `{"json":[1,2,{"k":"v"}]}`, "http://h/p?a=1&b=%20",
	}
	for _, v := range values {
		t.Run(v, func(t *testing.T) {
			lines := capture(t, func(w *Writer) {
				require.NoError(t, w.Write(RedistFail, []Field{{"topic", v}, {"sub", "1"}}, nil))
				require.NoError(t, w.Sent(false, []byte(v), 2, true, 200, time.Millisecond, v, []byte(v)))
				require.NoError(t, w.DelFail(v, v, 3, v))
			})
			require.Len(t, lines, 3)
			for _, l := range lines {
				assertClean(t, l)
				e, err := ParseLine(l)
				require.NoError(t, err, "%q", l)
				assert.Nil(t, e.Raw)
				for _, f := range e.Fields {
					switch f.Key {
					case "topic", "dest", "data", "server", "tube", "reason":
						assert.Equal(t, v, f.Value, "field %s of %q", f.Key, l)
					}
				}
			}
			e, err := ParseLine(lines[1])
			require.NoError(t, err)
			got, ok := e.Field("data")
			require.True(t, ok)
			assert.Equal(t, v, got)
		})
	}
}

func TestParseLineErrors(t *testing.T) {
	const ts = "2026-11-25T14:03:07.123456+08:00"
	tests := map[string]string{
		"empty":              "",
		"no category":        ts,
		"bad time":           "yesterday SENT",
		"lower category":     ts + " sent",
		"empty category":     ts + " ",
		"double space":       ts + " SENT  a=1",
		"trailing space":     ts + " SENT a=1 ",
		"no equals":          ts + " SENT a",
		"empty key":          ts + " SENT =1",
		"bad key":            ts + " SENT a\"b=1",
		"empty bare":         ts + " SENT a= b=1",
		"unterminated quote": ts + ` SENT a="xy`,
		"bad escape":         ts + ` SENT a="\q"`,
		"junk after quote":   ts + ` SENT a="x"y`,
		"raw not last":       ts + " SENT raw=AA== a=1",
		"bad base64":         ts + " SENT raw=A",
	}
	for name, line := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseLine([]byte(line + "\n"))
			require.ErrorIs(t, err, ErrMalformedLine)
		})
	}
}

func TestParseLineAccepts(t *testing.T) {
	e, err := ParseLine([]byte("2026-11-25T06:03:07Z SENT"))
	require.NoError(t, err)
	assert.Equal(t, Sent, e.Category)
	assert.Empty(t, e.Fields)
	assert.Nil(t, e.Raw)

	e, err = ParseLine([]byte("2026-11-25T06:03:07.5Z REDISTFAIL topic=a raw=\n"))
	require.NoError(t, err)
	assert.Equal(t, []byte{}, e.Raw, "raw= is an empty job, not a missing one")
	v, ok := e.Field("topic")
	assert.True(t, ok)
	assert.Equal(t, "a", v)
	_, ok = e.Field("sub")
	assert.False(t, ok)
}

func TestAppendMillis(t *testing.T) {
	tests := map[time.Duration]string{
		0:                          "0.000ms",
		time.Microsecond:           "0.001ms",
		12345 * time.Microsecond:   "12.345ms",
		time.Minute:                "60000.000ms",
		-1500 * time.Microsecond:   "-1.500ms",
		999 * time.Nanosecond:      "0.000ms",
		1010*time.Microsecond + 99: "1.010ms",
	}
	for d, want := range tests {
		assert.Equal(t, want, string(appendMillis(nil, d)), "%v", d)
	}
}

func TestScannerReadsLongLines(t *testing.T) {
	big := bytes.Repeat([]byte{0xab}, 200<<10) // base64 far over bufio's 64 KiB default
	lines := capture(t, func(w *Writer) {
		require.NoError(t, w.RedistFail("t", 1, big, "r"))
		require.NoError(t, w.RedistFail("t", 2, []byte("small"), "r"))
	})
	s := NewScanner(bytes.NewReader(bytes.Join(lines, nil)))
	var got [][]byte
	for s.Scan() {
		e, err := ParseLine(s.Bytes())
		require.NoError(t, err)
		got = append(got, e.Raw)
	}
	require.NoError(t, s.Err())
	assert.Equal(t, [][]byte{big, []byte("small")}, got)
}

// FuzzParseLine is the package's one fuzz target (so that `go test
// -fuzz=.` works): any input either parses or returns ErrMalformedLine;
// the input written as a field value and as raw bytes comes back from
// ParseLine on one clean line; the quoting fast path agrees with the plain
// rule.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte("2026-11-25T14:03:07.123456+08:00 SENT topic=a sub=1 data=\"x y\" raw=AA==\n"))
	f.Add([]byte("2026-11-25T14:03:07Z X a=\"\\\"\""))
	f.Add([]byte("abcdefgh ijklmnop"))
	f.Add([]byte("Zoë\u2028 \x7f"))
	f.Add([]byte{0, 1, 0xff})
	f.Fuzz(func(t *testing.T, line []byte) {
		if _, err := ParseLine(line); err != nil {
			require.ErrorIs(t, err, ErrMalformedLine)
		}
		roundTrip(t, "k", string(line), line)
		if v := string(line); needsQuoteRef(v) != needsQuote(v) {
			t.Fatalf("needsQuote(%q) = %v", v, needsQuote(v))
		}
	})
}

// roundTrip: whatever a caller writes comes back from ParseLine, and the
// line stays one clean line.
func roundTrip(t *testing.T, key, value string, raw []byte) {
	t.Helper()
	line := fixedTime.AppendFormat(nil, TimeLayout)
	line = append(line, " FUZZ"...)
	line = appendFields(line, []Field{{key, value}, {"z", value}}, raw)
	line = append(line, '\n')
	assertClean(t, line)
	e, err := ParseLine(line)
	require.NoError(t, err, "%q", line)
	require.Len(t, e.Fields, 2)
	assert.Equal(t, value, e.Fields[0].Value)
	assert.Equal(t, value, e.Fields[1].Value)
	if raw != nil {
		assert.Equal(t, raw, e.Raw)
	} else {
		assert.Nil(t, e.Raw)
	}
}

// needsQuoteRef is needsQuote without the word-at-a-time fast path.
func needsQuoteRef(v string) bool {
	if v == "" || v[0] == '"' {
		return true
	}
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 || r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

func TestNeedsQuoteFastPath(t *testing.T) {
	base := []byte("abcdefghijklmnopqrstuvwxyz0123456789")
	for n := 1; n <= len(base); n++ {
		for pos := range n {
			for c := range 256 {
				v := append([]byte(nil), base[:n]...)
				v[pos] = byte(c)
				require.Equal(t, needsQuoteRef(string(v)), needsQuote(string(v)), "%q", v)
			}
		}
	}
	// U+FFFD spelled out is printable; a lone invalid byte is not.
	assert.False(t, needsQuote("a\uFFFDbcdefghij"))
	assert.True(t, needsQuote("abcdefghij\xff"))
}
