// Package wire holds what producers, the daemon, subscribers' tools and the
// operator commands must agree on about beanstalkd jobs and tubes (the put
// parameters of a job that names none, how channel and retry tubes are
// named) and about the subscriptions' keys in Redis. It imports nothing of the project, so any package may use it.
package wire

import (
	"strconv"
	"strings"
	"time"
)

// Put parameters of a job whose message names none: the priority and time
// to run that producers have always used.
const (
	Priority   = 1024
	TTR        = 60 * time.Second
	TTRSeconds = int(TTR / time.Second)
)

// RetrySuffix ends a retry tube's name: "<channel tube>/FAIL".
const RetrySuffix = "/FAIL"

// ChannelTube is a subscription's channel tube, "<topic>/<prefix><id>".
func ChannelTube(topic, prefix string, id int64) string {
	return topic + "/" + prefix + strconv.FormatInt(id, 10)
}

// RetryTube is a subscription's retry tube, its channel tube plus "/FAIL".
func RetryTube(topic, prefix string, id int64) string {
	return ChannelTube(topic, prefix, id) + RetrySuffix
}

// ParseTube returns the subscription id of a channel tube
// "<topic>/<prefix><id>" or retry tube "<topic>/<prefix><id>/FAIL", and
// whether it is a retry tube; ok is false for any other name.
func ParseTube(tube, prefix string) (id int64, retry bool, ok bool) {
	if strings.HasSuffix(tube, RetrySuffix) {
		tube, retry = strings.TrimSuffix(tube, RetrySuffix), true
	}
	i := strings.LastIndex(tube, "/"+prefix)
	if i <= 0 {
		return 0, false, false
	}
	id, err := strconv.ParseInt(tube[i+1+len(prefix):], 10, 64)
	if err != nil || id <= 0 {
		return 0, false, false
	}
	return id, retry, true
}

// DefaultRedisPrefix starts the Redis keys of the subscriptions when the
// configuration's KeyPrefix is empty; the braces are a Redis Cluster hash
// tag, so all of them live in one slot.
const DefaultRedisPrefix = "{medispatcher}"

// RedisSubsHash is the hash of the subscriptions under prefix ("" = the
// default): field = subscription id (decimal), value = its JSON.
func RedisSubsHash(prefix string) string { return redisPrefix(prefix) + ":subs" }

// RedisSubsChannel is the pub/sub channel under prefix announcing a
// changed subscription id.
func RedisSubsChannel(prefix string) string { return redisPrefix(prefix) + ":subs:changed" }

func redisPrefix(p string) string {
	if p == "" {
		return DefaultRedisPrefix
	}
	return p
}
