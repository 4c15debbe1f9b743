// Package filter compiles and evaluates subscriptions' content filters:
// boolean expressions (the expr language, github.com/expr-lang/expr) over
// one message, deciding whether that subscription gets it.
//
// An expression sees three names: topic and sender (strings) and body,
// the message body decoded as the subscriber's JSON shows it (see
// message.DecodeValue): maps with string keys, lists, numbers, strings,
// booleans and nil. For example:
//
//	body.amount > 100
//	body.status == "paid" && sender == "shop"
//	body.kind in ["a", "b", "c"]
//	body.sku startsWith "AB"
//
// Compile checks an expression once, when its subscription changes; Match
// runs the compiled program on one message, with an Env the caller reuses.
//
// Files: filter.go (Compile, Match), env.go (Env).
package filter
