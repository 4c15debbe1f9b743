// Package pubload drives the daemon's HTTP publish API for the load
// generator: a fasthttp client of POST /api/v1/messages and
// /api/v1/messages/batch, and loadgen.Putter adapters that publish the
// load generator's main-tube jobs through it, one request per message or
// many messages per request, so that loadgen's open-loop producer, farm and
// ledger measure the API exactly as they measure direct puts.
//
// A job is published as the JSON message a producer would send for it:
// its topic, its sender and its body (msgpack turned into JSON), so the
// subscriber receives the same body either way and the farm reads it back
// (seq, ts) as it does a directly put job's.
package pubload
