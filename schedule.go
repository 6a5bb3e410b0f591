package litepull

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule says when a table runs next.
type Schedule interface {
	// Next returns the first run time strictly after t.
	Next(t time.Time) time.Time
	String() string
}

// ParseSchedule reads "every 30s" (any Go duration of at least 100ms) or a
// standard 5-field cron expression "minute hour day-of-month month
// day-of-week" with *, lists (1,15), ranges (1-5), steps (*/10, 0-30/5),
// and the names jan…dec and sun…sat. Cron times are in UTC.
func ParseSchedule(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < 100*time.Millisecond {
			return nil, fmt.Errorf("schedule %q: want every <duration of at least 100ms>, such as every 30s", s)
		}
		return every(d), nil
	}
	return parseCron(s)
}

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }
func (e every) String() string             { return "every " + time.Duration(e).String() }

// cron is a parsed 5-field expression: one bit per allowed value.
type cron struct {
	text                         string
	minute, hour, dom, month, dw uint64
	domStar, dowStar             bool
}

var (
	monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	dayNames   = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
)

func parseCron(s string) (Schedule, error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return nil, fmt.Errorf("schedule %q: want \"every 30s\" or 5 cron fields (minute hour day-of-month month day-of-week)", s)
	}
	c := &cron{text: s, domStar: f[2] == "*", dowStar: f[4] == "*"}
	var err error
	for _, p := range []struct {
		field  string
		dst    *uint64
		lo, hi int
		names  map[string]int
		what   string
	}{
		{f[0], &c.minute, 0, 59, nil, "minute"},
		{f[1], &c.hour, 0, 23, nil, "hour"},
		{f[2], &c.dom, 1, 31, nil, "day of month"},
		{f[3], &c.month, 1, 12, monthNames, "month"},
		{f[4], &c.dw, 0, 7, dayNames, "day of week"},
	} {
		if *p.dst, err = cronField(p.field, p.lo, p.hi, p.names); err != nil {
			return nil, fmt.Errorf("schedule %q: %s: %w", s, p.what, err)
		}
	}
	if c.dw&(1<<7) != 0 { // 7 is Sunday too
		c.dw |= 1
	}
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("schedule %q never matches a date", s)
	}
	return c, nil
}

func cronField(field string, lo, hi int, names map[string]int) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("bad step %q", stepText)
			}
			step = n
		}
		from, to := lo, hi
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if from, err = cronValue(a, lo, hi, names); err != nil {
				return 0, err
			}
			to = from
			if isRange {
				if to, err = cronValue(b, lo, hi, names); err != nil {
					return 0, err
				}
			} else if hasStep {
				to = hi
			}
			if to < from {
				return 0, fmt.Errorf("range %q runs backwards", rng)
			}
		}
		for v := from; v <= to; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func cronValue(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q is not a value from %d to %d", s, lo, hi)
	}
	return v, nil
}

func (c *cron) String() string { return c.text }

// Next finds the next matching minute after t, in UTC. Day-of-month and
// day-of-week combine as in Vixie cron: when both are restricted, either
// may match.
func (c *cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	// 30 years bounds the search: any satisfiable expression matches within
	// 28 (Feb 29 on a given weekday), and skipping by day keeps it fast.
	limit := t.AddDate(30, 0, 0)
	for t.Before(limit) {
		if c.month&(1<<uint(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !c.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if c.hour&(1<<uint(t.Hour())) == 0 {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if c.minute&(1<<uint(t.Minute())) == 0 {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{} // never (e.g. 30 feb)
}

func (c *cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dw&(1<<uint(t.Weekday())) != 0
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow
}
