package message

import (
	"encoding/json"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// The typical job: typicalJob (a ~300-byte main-tube message whose body
// has eight mixed fields, a nested map and a small list).

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalJob)))
	var m Message
	for b.Loop() {
		if err := Decode(typicalJob, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalBody)))
	var dst []byte
	var err error
	for b.Loop() {
		if dst, err = AppendJSON(dst[:0], typicalBody); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndJSON is the per-push work: decode the job, build the
// message field and the jobid, reusing one buffer.
func BenchmarkDecodeAndJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalJob)))
	var m Message
	var dst []byte
	var err error
	for b.Loop() {
		if err = Decode(typicalJob, &m); err != nil {
			b.Fatal(err)
		}
		dst = AppendJobID(dst[:0], m.Time, 1, 17)
		if dst, err = AppendJSON(dst, m.Body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendChannelJob(b *testing.B) {
	var m Message
	if err := Decode(typicalJob, &m); err != nil {
		b.Fatal(err)
	}
	m.OriginJobID, m.SubscriptionID = 123456, 17
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendChannelJob(nil, &m))))
	var dst []byte
	for b.Loop() {
		dst = AppendChannelJob(dst[:0], &m)
	}
}

// BenchmarkReflectiveDecodeAndJSON is the old daemon's way, for the ratio:
// the job decoded into interface{} values with msgp's readers (maps as
// map[string]any with fmt.Sprint keys, since msgp.ReadIntfBytes refuses
// integer keys), then the body through encoding/json.Marshal.
func BenchmarkReflectiveDecodeAndJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalJob)))
	for b.Loop() {
		v, _, err := refValue(typicalJob, 0)
		if err != nil {
			b.Fatal(err)
		}
		job := v.(map[string]any)
		if _, ok := job["msgKey"].(string); !ok {
			b.Fatal("no msgKey")
		}
		if _, err := json.Marshal(job["body"]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReflectiveJSON isolates the body: decode to interface{} values
// plus encoding/json, against BenchmarkAppendJSON.
func BenchmarkReflectiveJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalBody)))
	for b.Loop() {
		if _, err := refJSON(typicalBody); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendJSONDeepMaps is the hostile case: MaxDepth nested maps
// must cost time linear in their size.
func BenchmarkAppendJSONDeepMaps(b *testing.B) {
	body := nestedMaps(MaxDepth)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var dst []byte
	var err error
	for b.Loop() {
		if dst, err = AppendJSON(dst[:0], body); err != nil {
			b.Fatal(err)
		}
	}
}

// The two walks below read every item of the typical job, once with
// msgp's typed readers and once with this package's readHead: the measure
// behind reading msgpack by hand.

func BenchmarkWalkMsgpReaders(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalJob)))
	for b.Loop() {
		if _, err := walkMsgp(typicalJob); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWalkReadHead(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalJob)))
	for b.Loop() {
		if _, err := walkHead(typicalJob); err != nil {
			b.Fatal(err)
		}
	}
}

func walkMsgp(b []byte) ([]byte, error) {
	var err error
	switch msgp.NextType(b) {
	case msgp.MapType, msgp.ArrayType:
		var n uint32
		isMap := msgp.NextType(b) == msgp.MapType
		if isMap {
			n, b, err = msgp.ReadMapHeaderBytes(b)
			n *= 2
		} else {
			n, b, err = msgp.ReadArrayHeaderBytes(b)
		}
		for i := uint32(0); i < n && err == nil; i++ {
			b, err = walkMsgp(b)
		}
		return b, err
	case msgp.StrType:
		_, b, err = msgp.ReadStringZC(b)
	case msgp.BinType:
		_, b, err = msgp.ReadBytesZC(b)
	case msgp.IntType:
		_, b, err = msgp.ReadInt64Bytes(b)
	case msgp.UintType:
		_, b, err = msgp.ReadUint64Bytes(b)
	case msgp.Float64Type:
		_, b, err = msgp.ReadFloat64Bytes(b)
	default:
		b, err = msgp.Skip(b)
	}
	return b, err
}

func walkHead(b []byte) ([]byte, error) {
	var h head
	rest, err := readHead(&h, b)
	if err != nil {
		return b, err
	}
	n := 0
	switch h.kind {
	case kindMap:
		n = 2 * h.count()
	case kindArray:
		n = h.count()
	}
	for i := 0; i < n && err == nil; i++ {
		rest, err = walkHead(rest)
	}
	return rest, err
}
