package stats

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Handler serves the Snapshot as JSON on GET (and HEAD). Query parameters
// select subscriptions: ?topic=NAME those of one topic, ?sub=ID one
// subscription (both: their intersection); the topics and totals of a
// filtered answer are computed over the selected subscriptions only, and
// it leaves out the engine-wide latency by stage. An unknown topic or
// subscription is 404, a malformed id 400.
func (s *Stats) Handler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD")
			writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
			return
		}
		args := ctx.QueryArgs()
		var keep func(*Counter) bool
		var topic string
		var id int64
		hasTopic, hasSub := args.Has("topic"), args.Has("sub")
		if hasTopic {
			topic = string(args.Peek("topic"))
		}
		if hasSub {
			var err error
			id, err = strconv.ParseInt(string(args.Peek("sub")), 10, 64)
			if err != nil {
				writeError(ctx, fasthttp.StatusBadRequest, "sub must be a subscription id")
				return
			}
		}
		if hasTopic || hasSub {
			keep = func(c *Counter) bool {
				return (!hasTopic || c.topic == topic) && (!hasSub || c.id == id)
			}
		}
		snap := s.snapshot(keep)
		if keep != nil && len(snap.Subscriptions) == 0 {
			writeError(ctx, fasthttp.StatusNotFound, "no such subscription or topic")
			return
		}
		ctx.SetContentType("application/json")
		ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
		if err := json.NewEncoder(ctx).Encode(snap); err != nil {
			// Encoding plain numbers and strings cannot fail; a write error
			// is the client's problem and surfaces on the connection.
			ctx.Error("encode statistics: "+err.Error(), fasthttp.StatusInternalServerError)
		}
	}
}

func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	ctx.SetBody(append(b, '\n'))
}
