// Package subs holds medispatcher's subscriptions: the model, its
// validation, the per-line URL lists with their [T_ENV:NAME] tags, the
// immutable snapshot (Set) the dispatcher reads on every message, and the
// two sources that keep that snapshot current without a restart.
//
// # Sources
//
// A Source delivers a whole new Set whenever the subscriptions change; the
// daemon swaps it in atomically. A source that cannot be read keeps the
// last good set, because an empty set would make the dispatcher drop every
// message of every topic.
//
// An entry that fails to decode or validate keeps its last good version
// (the one with its id in the set applied last), so a bad edit does not
// unsubscribe it; an entry that never was valid is left out. Either way it
// is logged at ERROR with its id and the keys at fault, and
// Options.OnInvalid is called, once per invalid version. A subscription
// with no URL for the daemon's RECEPTION_ENV (Options.Env) is logged at
// WARN once per version.
//
// FileSource reads a TOML file of [[subscription]] tables (the format
// written by WriteFile and by operators' tooling) and watches its directory
// with inotify, so an editor's write-and-rename is seen as well as an
// in-place write.
//
// RedisSource reads the subscriptions from Redis. Key layout, with prefix P
// (DefaultRedisPrefix, "{medispatcher}", when empty; the braces are a Redis
// Cluster hash tag, so every key below lives in one slot):
//
//	P:subs          HASH     field = subscription id (decimal),
//	                         value = the subscription as JSON (its json tags)
//	P:subs:changed  CHANNEL  every writer PUBLISHes the changed id (decimal)
//	                         after its HSET or HDEL; a message that is not a
//	                         decimal id (for example "*") makes every
//	                         daemon re-read the whole hash
//
// The source SUBSCRIBEs to the channel, reads the whole hash with HGETALL
// once the subscription is confirmed (at start and after every reconnect,
// so changes made while it was disconnected are not missed), and on each
// notification re-reads only the changed fields with HMGET. It never polls
// and never uses KEYS. RedisPut and RedisDelete are the writers.
//
// # What this package must never do
//
// It must not allocate or lock on the per-message path (Set lookups and
// URLSet.Pick), must not poll a file or Redis for changes where a signal
// exists, and must not replace a good set by an empty one because a read
// failed.
package subs
