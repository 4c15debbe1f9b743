package message

import (
	"time"

	"github.com/tinylib/msgp/msgp"
)

// Small msgpack builders for readable test tables.

func mmap(pairs ...[]byte) []byte {
	if len(pairs)%2 != 0 {
		panic("mmap: odd number of arguments")
	}
	b := msgp.AppendMapHeader(nil, uint32(len(pairs)/2))
	for _, p := range pairs {
		b = append(b, p...)
	}
	return b
}

func marr(vals ...[]byte) []byte {
	b := msgp.AppendArrayHeader(nil, uint32(len(vals)))
	for _, v := range vals {
		b = append(b, v...)
	}
	return b
}

func mstr(s string) []byte     { return msgp.AppendString(nil, s) }
func mbin(b []byte) []byte     { return msgp.AppendBytes(nil, b) }
func mint(i int64) []byte      { return msgp.AppendInt64(nil, i) }
func muint(u uint64) []byte    { return msgp.AppendUint64(nil, u) }
func mf64(f float64) []byte    { return msgp.AppendFloat64(nil, f) }
func mf32(f float32) []byte    { return msgp.AppendFloat32(nil, f) }
func mbool(v bool) []byte      { return msgp.AppendBool(nil, v) }
func mnil() []byte             { return msgp.AppendNil(nil) }
func mtime(t time.Time) []byte { return msgp.AppendTimeExt(nil, t) }

func mext(typ int8, data []byte) []byte {
	b, err := msgp.AppendExtension(nil, &msgp.RawExtension{Type: typ, Data: data})
	if err != nil {
		panic(err)
	}
	return b
}

// cat concatenates encoded pieces (for hand-made headers).
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// nested returns depth arrays, one inside the other, around a nil.
func nested(depth int) []byte {
	b := make([]byte, 0, depth+1)
	for i := 0; i < depth; i++ {
		b = append(b, 0x91)
	}
	return append(b, 0xc0)
}

// nestedMaps returns depth one-pair maps ({"": {"": …nil}}).
func nestedMaps(depth int) []byte {
	b := make([]byte, 0, 2*depth+1)
	for i := 0; i < depth; i++ {
		b = append(b, 0x81, 0xa0)
	}
	return append(b, 0xc0)
}

// typicalBody is a representative order event: eight mixed fields, a
// nested map and a small list.
var typicalBody = mmap(
	mstr("order_id"), mint(900123456789),
	mstr("user_id"), mint(48151623),
	mstr("status"), mstr("paid"),
	mstr("amount"), mf64(1299.5),
	mstr("currency"), mstr("CNY"),
	mstr("items"), marr(
		mmap(mstr("sku"), mstr("SKU-2024-0001"), mstr("qty"), mint(2)),
		mmap(mstr("sku"), mstr("SKU-2024-0042"), mstr("qty"), mint(1)),
	),
	mstr("address"), mmap(mstr("city"), mstr("Beijing"), mstr("zip"), mstr("100000"), mint(1), mstr("primary")),
	mstr("note"), mstr("leave at the door <fragile> & thanks"),
)

// typicalJob is the main-tube job carrying typicalBody (~300 bytes).
var typicalJob = mmap(
	mstr("msgKey"), mstr("order_paid"),
	mstr("body"), typicalBody,
	mstr("sender"), mstr("order-service"),
	mstr("time"), mf64(1732500000.123456),
	mstr("context"), mstr("trace-id=5f2b7c9e1a; span=42"),
	mstr("owl_context"), mstr("owl:7d1e0c4a9b"),
)
