package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/wire"
)

// maxIdempotencyKey bounds an Idempotency-Key header's length.
const maxIdempotencyKey = 200

// pending is the record of a key whose first request is still running.
const pending = "pending"

// redisOpTimeout bounds each Redis command of the idempotency record.
const redisOpTimeout = 5 * time.Second

// idempotencyPrefix starts the Redis keys of the records:
// "<KeyPrefix>:publish:idem:".
func idempotencyPrefix(keyPrefix string) string {
	if keyPrefix == "" {
		keyPrefix = wire.DefaultRedisPrefix
	}
	return keyPrefix + ":publish:idem:"
}

// recordKey is the Redis key of an Idempotency-Key, scoped by the bearer
// token that sent it (a hash of it: the token itself never goes to Redis),
// so that two clients cannot see each other's answers.
func (a *API) recordKey(token []byte, key string) string {
	sum := sha256.Sum256(token)
	return a.idemPrefix + hex.EncodeToString(sum[:8]) + ":" + key
}

// validKey reports whether k is 1..200 printable ASCII characters.
func validKey(k []byte) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for _, c := range k {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// idempotent answers the request with do's answer, or, when its
// Idempotency-Key was seen within PublishIdempotencySeconds, with the
// first request's answer (replay true) without calling do.
//
// The key is claimed in Redis (SET NX, "pending") before do runs; a
// success (status below 400) replaces the claim with the answer, keeping
// its expiry, and a failure removes it so that the client can try again.
// A request whose key is claimed by one still running is refused (409),
// and so is one whose key cannot be claimed for Redis being down (503):
// publishing without the guarantee asked for could duplicate a message.
// A request refused before anything is published (bad) uses no record.
func (a *API) idempotent(ctx *fasthttp.RequestCtx, token []byte, bad *problem, do func() answer) (answer, bool) {
	hk := ctx.Request.Header.Peek(adminapi.IdempotencyKeyHeader)
	if hk == nil || bad != nil {
		return do(), false
	}
	if !validKey(hk) {
		return problemAnswer(problemf(statusBadRequest, codeBadRequest,
			"%s: 1 to %d printable ASCII characters (no spaces)", adminapi.IdempotencyKeyHeader, maxIdempotencyKey)), false
	}
	wctx, cancel := context.WithTimeout(context.Background(), redisWait)
	c := a.d.Redis(wctx)
	cancel()
	if c == nil {
		return problemAnswer(problemf(statusUnavailable, codeUnavailable,
			"%s needs Redis %s, which is not connected", adminapi.IdempotencyKeyHeader, a.d.Config.Redis.Addr)), false
	}
	key := a.recordKey(token, string(hk))
	// Twice: a record removed between our SET and GET (its request failed)
	// can be claimed again at once.
	for attempt := 0; attempt < 2; attempt++ {
		claimed, stored, p := a.claim(c, key)
		switch {
		case p != nil:
			return problemAnswer(p), false
		case claimed:
			ans := do()
			a.settle(c, key, ans)
			return ans, false
		case stored == pending:
			return problemAnswer(problemf(fasthttp.StatusConflict, codeConflict,
				"a request with this %s is in progress", adminapi.IdempotencyKeyHeader)), false
		case stored != "":
			if ans, ok := parseRecord(stored); ok {
				return ans, true
			}
			return problemAnswer(problemf(fasthttp.StatusInternalServerError, codeInternal,
				"the record of this %s is unreadable", adminapi.IdempotencyKeyHeader)), false
		}
	}
	return problemAnswer(problemf(fasthttp.StatusConflict, codeConflict,
		"a request with this %s is in progress", adminapi.IdempotencyKeyHeader)), false
}

// claim sets key to pending unless it exists; otherwise it returns the
// stored record ("" when it vanished meanwhile).
func (a *API) claim(c rueidis.Client, key string) (claimed bool, stored string, p *problem) {
	ctx, cancel := context.WithTimeout(context.Background(), redisOpTimeout)
	defer cancel()
	ttl := int64(a.d.Config.PublishIdempotencySeconds)
	err := c.Do(ctx, c.B().Set().Key(key).Value(pending).Nx().ExSeconds(ttl).Build()).Error()
	if err == nil {
		return true, "", nil
	}
	if !rueidis.IsRedisNil(err) {
		return false, "", a.redisDown(err)
	}
	stored, err = c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return false, "", nil
	}
	if err != nil {
		return false, "", a.redisDown(err)
	}
	return false, stored, nil
}

func (a *API) redisDown(err error) *problem {
	return problemf(statusUnavailable, codeUnavailable, "%s: Redis: %v", adminapi.IdempotencyKeyHeader, err)
}

// settle replaces the claim by the answer, or removes it after a failure.
// If Redis fails here the claim stays "pending" until it expires: repeats
// are refused (409) rather than published twice.
func (a *API) settle(c rueidis.Client, key string, ans answer) {
	ctx, cancel := context.WithTimeout(context.Background(), redisOpTimeout)
	defer cancel()
	var cmd rueidis.Completed
	if ans.status < 400 {
		cmd = c.B().Set().Key(key).Value(formatRecord(ans)).Xx().Keepttl().Build()
	} else {
		cmd = c.B().Del().Key(key).Build()
	}
	if err := c.Do(ctx, cmd).Error(); err != nil && !rueidis.IsRedisNil(err) {
		a.d.Log.Warn("publish: idempotency record not updated", "err", err)
	}
}

// formatRecord stores an answer as "<status> <body>".
func formatRecord(ans answer) string {
	return strconv.Itoa(ans.status) + " " + string(ans.body)
}

func parseRecord(s string) (answer, bool) {
	i := strings.IndexByte(s, ' ')
	if i <= 0 {
		return answer{}, false
	}
	st, err := strconv.Atoi(s[:i])
	if err != nil {
		return answer{}, false
	}
	return answer{status: st, body: []byte(s[i+1:])}, true
}
