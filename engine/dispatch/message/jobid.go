package message

import "strconv"

// AppendJobID appends the push's jobid: "<time %f>-<originJobID>-<subID>".
// The time has exactly six decimals, as fmt's %f writes it (1732500002 →
// "1732500002.000000"); subscribers de-duplicate on the whole string, so it
// must not change across retries or versions.
func AppendJobID(dst []byte, time float64, originJobID uint64, subID int64) []byte {
	dst = strconv.AppendFloat(dst, time, 'f', 6, 64)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, originJobID, 10)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, subID, 10)
}
