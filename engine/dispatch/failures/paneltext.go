package failures

import (
	"strconv"

	"medispatcher/engine/dispatch/push"
)

// PanelText is the failure of a push in the words 2.x wrote into its
// failure table, which the control panel shows and operators search:
//
//	an answer:              Code: <status>\nContent:\n\t<answer body>
//	no answer:              Code: 0\nElapsed:<ms, 3 decimals> ms\nContent:\n\tFailed to get response: <error>
//	body not encodable:     not send. failed to encode message body.\nerr:\n\t<error>
//	URL cannot be pushed:   not send, failed to parse url. \nContent:\n\t<url>
//
// url is the URL the push used. The answer body is what the push kept of
// it (push.Config.MaxAnswer).
func PanelText(res *push.Result, url string) string {
	switch {
	case res.Kind == push.Encode:
		return "not send. failed to encode message body.\nerr:\n\t" + errText(res.Err)
	case res.Kind == push.BadURL:
		return "not send, failed to parse url. \nContent:\n\t" + url
	case res.Status != 0:
		return "Code: " + strconv.Itoa(res.Status) + "\nContent:\n\t" + string(res.Answer)
	}
	ms := strconv.FormatFloat(float64(res.Elapsed.Nanoseconds())/1e6, 'f', 3, 64)
	return "Code: 0\nElapsed:" + ms + " ms\nContent:\n\tFailed to get response: " + errText(res.Err)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
