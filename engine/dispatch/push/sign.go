package push

import (
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// The Standard Webhooks headers of a signed push.
var (
	strWebhookID        = []byte("Webhook-Id")
	strWebhookTimestamp = []byte("Webhook-Timestamp")
	strWebhookSignature = []byte("Webhook-Signature")
	strDot              = []byte(".")
)

// HMAC pads (RFC 2104).
const (
	ipad = 0x36
	opad = 0x5c
)

// signer holds the per-push state of signing: the digest and buffers live
// in the pooled scratch, so that a warm push signs without allocating.
type signer struct {
	h   hash.Hash // SHA-256
	pad []byte    // one block: the key XOR ipad, then XOR opad
	sum []byte    // the inner, then the outer digest
	ts  []byte    // webhook-timestamp
	sig []byte    // webhook-signature
}

// sign sets the Standard Webhooks headers on h: webhook-id is the push's
// jobid (the form's own value), webhook-timestamp now in Unix seconds,
// and webhook-signature one "v1,<base64 HMAC-SHA256>" per key, in order
// and separated by spaces, each over id "." timestamp "." body, so a
// subscriber verifies with whichever of its secrets it holds while they
// rotate.
func (g *signer) sign(h *fasthttp.RequestHeader, keys [][]byte, id, body []byte, now time.Time) {
	if g.h == nil {
		g.h = sha256.New()
		g.pad = make([]byte, sha256.BlockSize)
	}
	g.ts = strconv.AppendInt(g.ts[:0], now.Unix(), 10)
	g.sig = g.sig[:0]
	for i, key := range keys {
		if i > 0 {
			g.sig = append(g.sig, ' ')
		}
		g.sig = append(g.sig, "v1,"...)
		g.sig = base64.StdEncoding.AppendEncode(g.sig, g.mac(key, id, body))
	}
	h.SetCanonical(strWebhookID, id)
	h.SetCanonical(strWebhookTimestamp, g.ts)
	h.SetCanonical(strWebhookSignature, g.sig)
}

// mac is HMAC-SHA256(key, id "." ts "." body), valid until the next call.
func (g *signer) mac(key, id, body []byte) []byte {
	if len(key) > sha256.BlockSize {
		// HMAC hashes a key longer than a block (validation allows none).
		g.h.Reset()
		g.h.Write(key)
		g.sum = g.h.Sum(g.sum[:0])
		key = g.sum
	}
	clear(g.pad)
	copy(g.pad, key)
	for i := range g.pad {
		g.pad[i] ^= ipad
	}
	g.h.Reset()
	g.h.Write(g.pad)
	g.h.Write(id)
	g.h.Write(strDot)
	g.h.Write(g.ts)
	g.h.Write(strDot)
	g.h.Write(body)
	g.sum = g.h.Sum(g.sum[:0])
	for i := range g.pad {
		g.pad[i] ^= ipad ^ opad
	}
	g.h.Reset()
	g.h.Write(g.pad)
	g.h.Write(g.sum)
	g.sum = g.h.Sum(g.sum[:0])
	return g.sum
}
