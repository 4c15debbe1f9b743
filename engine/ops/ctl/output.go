package ctl

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// table prints rows with aligned columns; cells are made single-line so a
// multi-line URL or error cannot break the alignment.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	// Trailing empty cells would still pad the cell before them.
	for len(cells) > 1 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	for i, c := range cells {
		if i > 0 {
			_, _ = io.WriteString(t.tw, "\t")
		}
		_, _ = io.WriteString(t.tw, oneLine(c))
	}
	_, _ = io.WriteString(t.tw, "\n")
}

func (t *table) flush() error { return t.tw.Flush() }

// oneLine joins the lines of s with " | " and turns tabs into spaces.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\t\r\n") {
		return s
	}
	s = strings.ReplaceAll(strings.TrimRight(s, "\r\n"), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n", " | ")
	return strings.ReplaceAll(s, "\t", " ")
}

// firstLine is the first line of a multi-line value with a count of the
// others: "http://a (+2)".
func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	first := strings.TrimSpace(lines[0])
	if more := len(lines) - 1; more > 0 {
		return fmt.Sprintf("%s (+%d)", first, more)
	}
	return first
}

// formatValue prints a JSON-decoded value: whole numbers without a decimal
// point or exponent.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return num(x)
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// num prints a float: whole numbers as integers, others with up to two
// decimals.
func num(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

func itoa[T ~int | ~int64 | ~uint64](v T) string { return fmt.Sprint(v) }

// percent prints a ratio 0..1 as a percentage.
func percent(r float64) string { return strconv.FormatFloat(r*100, 'f', 1, 64) + "%" }

// stamp prints a time in local time to the second; the zero time is "-".
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// seconds prints a duration in seconds rounded to the second: "3h2m1s".
func seconds(s float64) string {
	return (time.Duration(s*float64(time.Second)) / time.Second * time.Second).String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// orDash prints "-" for an empty value.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// wrap breaks s at spaces into lines of at most width characters (a
// longer word keeps its own line).
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		if i > 0 {
			if n+1+len(w) > width {
				b.WriteString("\n")
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
