// Package adminapi holds the wire types of medispatcher's admin API: the
// JSON bodies of its requests and answers, the error object, and the size
// limit of a request body. Package admin serves them and medictl (package
// ctl) reads them, so both sides of the API share one definition.
//
// It imports nothing of the engine, only the standard library. Where an
// answer carries a shape the engine defines (a subscription, backlog
// counts, an alert, a failure record, a recover list), adminapi declares
// its own copy with the same JSON, and admin converts the engine's value
// into it; admin's tests check the two encode alike. That keeps medictl,
// which only speaks HTTP, from linking the dispatcher, the beanstalkd
// client or Redis through the types it decodes.
package adminapi

// MaxBody bounds a request body; the largest legitimate one is a
// subscription with a few URLs.
const MaxBody = 64 << 10
