package message

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
)

type decodeCase struct {
	name    string
	job     []byte
	want    Message
	wantErr string // substring of the error; "" means success
}

func b(s string) []byte { return []byte(s) }

func decodeCases() []decodeCase {
	body := mmap(mstr("k"), mint(7))
	return []decodeCase{
		{name: "producer job", job: mmap(
			mstr("msgKey"), mstr("order_paid"), mstr("body"), body, mstr("sender"), mstr("shop"),
			mstr("time"), mf64(1732500000.123456), mstr("priority"), mint(10), mstr("delay"), mint(3),
			mstr("context"), mstr("ctx"), mstr("owl_context"), mstr("owl")),
			want: Message{Topic: b("order_paid"), Body: body, Sender: b("shop"), Time: 1732500000.123456,
				Priority: 10, Delay: 3, Context: b("ctx"), OwlContext: b("owl")}},
		{name: "old daemon retry job", job: mmap(
			mstr("MsgKey"), mstr("order_paid"), mstr("Body"), body, mstr("Sender"), mstr("shop"),
			mstr("Time"), mf64(1.5), mstr("OriginJobId"), mint(12345), mstr("RetryTimes"), mint(0),
			mstr("LogId"), mint(99), mstr("Delay"), mint(0), mstr("Priority"), mint(1024),
			mstr("Context"), mstr(""), mstr("Owl_context"), mstr("")),
			want: Message{Topic: b("order_paid"), Body: body, Sender: b("shop"), Time: 1.5,
				OriginJobID: 12345, LogID: 99, Priority: 1024}},
		{name: "keys any case", job: mmap(mstr("MSGKEY"), mstr("t"), mstr("oRiGiNjObId"), mint(5), mstr("SUBSCRIPTIONID"), mint(17), mstr("retrytimes"), mint(2), mstr("OWL_CONTEXT"), mstr("o")),
			want: Message{Topic: b("t"), OriginJobID: 5, SubscriptionID: 17, RetryTimes: 2, OwlContext: b("o")}},
		{name: "bin strings and bin keys", job: mmap(mbin(b("msgKey")), mbin(b("t")), mstr("sender"), mbin(b("s")), mstr("time"), mbin(b("2.25"))),
			want: Message{Topic: b("t"), Sender: b("s"), Time: 2.25}},
		{name: "numeric string time", job: mmap(mstr("msgKey"), mstr("t"), mstr("time"), mstr("1732500001.5")),
			want: Message{Topic: b("t"), Time: 1732500001.5}},
		{name: "int time", job: mmap(mstr("msgKey"), mstr("t"), mstr("time"), mint(1732500002)),
			want: Message{Topic: b("t"), Time: 1732500002}},
		{name: "uint and float32 numbers", job: mmap(mstr("msgKey"), mstr("t"), mstr("time"), mf32(2.5), mstr("delay"), muint(math.MaxUint32), mstr("LogId"), muint(math.MaxUint64)),
			want: Message{Topic: b("t"), Time: 2.5, Delay: math.MaxUint32, LogID: math.MaxUint64}},
		{name: "numeric strings for integers", job: mmap(mstr("msgKey"), mstr("t"), mstr("delay"), mstr("30"), mstr("priority"), mstr("+7"), mstr("RetryTimes"), mstr("-1"), mstr("SubscriptionId"), mstr("9223372036854775807")),
			want: Message{Topic: b("t"), Delay: 30, Priority: 7, RetryTimes: -1, SubscriptionID: math.MaxInt64}},
		{name: "floats truncate", job: mmap(mstr("msgKey"), mstr("t"), mstr("delay"), mf64(2.9), mstr("priority"), mstr("3.7"), mstr("RetryTimes"), mf64(-1.5), mstr("OriginJobId"), mf64(-0.5)),
			want: Message{Topic: b("t"), Delay: 2, Priority: 3, RetryTimes: -1}},
		{name: "nil means absent", job: mmap(mstr("msgKey"), mstr("t"), mstr("body"), mnil(), mstr("sender"), mnil(), mstr("time"), mnil(), mstr("delay"), mnil(), mstr("owl_context"), mnil(), mstr("LogId"), mnil()),
			want: Message{Topic: b("t")}},
		{name: "nil resets an earlier value", job: mmap(mstr("msgKey"), mstr("t"), mstr("delay"), mint(5), mstr("delay"), mnil()),
			want: Message{Topic: b("t")}},
		{name: "empty numeric string means absent", job: mmap(mstr("msgKey"), mstr("t"), mstr("priority"), mstr(""), mstr("time"), mstr("")),
			want: Message{Topic: b("t")}},
		{name: "last duplicate wins", job: mmap(mstr("msgKey"), mstr("a"), mstr("MsgKey"), mstr("b")),
			want: Message{Topic: b("b")}},
		{name: "unknown and non-string keys skipped", job: mmap(mint(1), mmap(mstr("x"), marr()), mstr("extra"), marr(mint(1), mmap()), marr(mint(1)), mstr("v"), mnil(), mint(2), mstr("msgKey"), mstr("t"), mext(3, b("xyz")), mint(1)),
			want: Message{Topic: b("t")}},
		{name: "string body", job: mmap(mstr("msgKey"), mstr("t"), mstr("body"), mstr("plain string body")),
			want: Message{Topic: b("t"), Body: mstr("plain string body")}},
		{name: "trailing bytes ignored", job: cat(mmap(mstr("msgKey"), mstr("t")), []byte{0xc1, 0xff, 0x00}),
			want: Message{Topic: b("t")}},

		{name: "not a map", job: marr(mstr("msgKey")), wantErr: "not a msgpack map"},
		{name: "empty job", job: nil, wantErr: "unexpected end"},
		{name: "missing msgKey", job: mmap(mstr("body"), mint(1)), wantErr: `missing or empty "msgKey"`},
		{name: "empty msgKey", job: mmap(mstr("msgKey"), mstr("")), wantErr: `missing or empty "msgKey"`},
		{name: "nil msgKey", job: mmap(mstr("msgKey"), mnil()), wantErr: `missing or empty "msgKey"`},
		{name: "msgKey not a string", job: mmap(mstr("msgKey"), mint(5)), wantErr: `key "msgKey": want string, got int`},
		{name: "sender a map", job: mmap(mstr("msgKey"), mstr("t"), mstr("sender"), mmap()), wantErr: `key "sender": want string, got map`},
		{name: "negative delay", job: mmap(mstr("msgKey"), mstr("t"), mstr("delay"), mint(-1)), wantErr: `key "delay": negative value`},
		{name: "negative delay string", job: mmap(mstr("msgKey"), mstr("t"), mstr("delay"), mstr("-3")), wantErr: `key "delay": negative value`},
		{name: "delay overflow", job: mmap(mstr("msgKey"), mstr("t"), mstr("delay"), mint(1<<32)), wantErr: `key "delay": value out of range`},
		{name: "priority overflow string", job: mmap(mstr("msgKey"), mstr("t"), mstr("priority"), mstr("99999999999999999999999")), wantErr: `key "priority": value out of range`},
		{name: "priority garbage string", job: mmap(mstr("msgKey"), mstr("t"), mstr("priority"), mstr("soon")), wantErr: `key "priority": not a numeric string`},
		{name: "origin job id float overflow", job: mmap(mstr("msgKey"), mstr("t"), mstr("OriginJobId"), mf64(1e20)), wantErr: `key "OriginJobId": value out of range`},
		{name: "log id negative", job: mmap(mstr("msgKey"), mstr("t"), mstr("LogId"), mint(-2)), wantErr: `key "LogId": negative value`},
		{name: "subscription id beyond int64", job: mmap(mstr("msgKey"), mstr("t"), mstr("SubscriptionId"), muint(math.MaxInt64+1)), wantErr: `key "SubscriptionId": value out of range`},
		{name: "retry times NaN", job: mmap(mstr("msgKey"), mstr("t"), mstr("RetryTimes"), mf64(math.NaN())), wantErr: `key "RetryTimes": not a finite number`},
		{name: "time infinite", job: mmap(mstr("msgKey"), mstr("t"), mstr("time"), mf64(math.Inf(1))), wantErr: `key "time": not a finite number`},
		{name: "time NaN string", job: mmap(mstr("msgKey"), mstr("t"), mstr("time"), mstr("NaN")), wantErr: `key "time": not a finite number`},
		{name: "time bool", job: mmap(mstr("msgKey"), mstr("t"), mstr("time"), mbool(true)), wantErr: `key "time": want number, got bool`},
		{name: "truncated body", job: mmap(mstr("msgKey"), mstr("t"), mstr("body"), mmap(mstr("a"), mint(1)))[:18], wantErr: `key "body"`},
		{name: "truncated key", job: mmap(mstr("msgKey"), mstr("t"))[:4], wantErr: "key 0: unexpected end"},
		{name: "map shorter than its count", job: []byte{0x82, 0xa6, 'm', 's', 'g', 'K', 'e', 'y', 0xa1, 't'}, wantErr: "1 of 2 pairs: map ends early"},
		{name: "invalid prefix in unknown value", job: mmap(mstr("msgKey"), mstr("t"), mstr("x"), []byte{0xc1}), wantErr: `key "x"`},
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := Message{Topic: b("stale"), RetryTimes: 9} // Decode must reset it
			err := Decode(tc.job, &m)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrMalformed)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, m)
		})
	}
}

func TestDecodeAliasesInput(t *testing.T) {
	job := mmap(mstr("msgKey"), mstr("topic"), mstr("body"), mstr("payload"))
	var m Message
	require.NoError(t, Decode(job, &m))
	job[bytesIndex(job, "topic")] = 'T'
	assert.Equal(t, "Topic", string(m.Topic), "Topic must alias the job, not copy it")
	// Appending to a decoded field must not overwrite the job.
	_ = append(m.Topic, 'X')
	assert.Equal(t, "Topic", string(m.Topic))
	assert.Equal(t, byte(0xa4), job[bytesIndex(job, "Topic")+5], `the "body" key after the topic is intact`)
}

func bytesIndex(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	panic("not found: " + s)
}

func TestDecodeAllocs(t *testing.T) {
	jobs := map[string][]byte{
		"typical":         typicalJob,
		"numeric strings": mmap(mstr("msgKey"), mstr("t"), mstr("time"), mstr("1732500001.5"), mstr("delay"), mstr("30"), mstr("OriginJobId"), mstr("2.0")),
		"channel job":     AppendChannelJob(nil, &Message{Topic: b("t"), Body: typicalBody, OriginJobID: 1, SubscriptionID: 2}),
	}
	for name, job := range jobs {
		var m Message
		allocs := testing.AllocsPerRun(200, func() {
			if err := Decode(job, &m); err != nil {
				panic(err)
			}
		})
		assert.Zero(t, allocs, name)
	}
}

func TestAsciiEqualFold(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"msgkey", true}, {"MsgKey", true}, {"MSGKEY", true},
		{"msgke", false}, {"msgkey ", false}, {"msgkez", false},
		{"msg\u212aey", false}, // Kelvin sign: no Unicode folding
		{"MSG@EY", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, asciiEqualFold([]byte(tt.key), "msgkey"), tt.key)
	}
}

// A map header claiming more pairs than the job holds must fail, not loop
// over billions of iterations or allocate for them.
func TestDecodeHugeCount(t *testing.T) {
	job := msgp.AppendMapHeader(nil, math.MaxUint32)
	job = append(job, mmap(mstr("msgKey"), mstr("t"))[1:]...)
	var m Message
	err := Decode(job, &m)
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "map ends early")
}
