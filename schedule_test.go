package litepull_test

import (
	"testing"
	"time"

	"github.com/litepull/litepull"
)

func TestParseSchedule(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct{ expr, from, want string }{
		{"every 30s", "2026-01-01 00:00", "2026-01-01 00:00"}, // +30s, checked below
		{"*/15 * * * *", "2026-01-01 00:07", "2026-01-01 00:15"},
		{"0 3 * * *", "2026-01-01 03:00", "2026-01-02 03:00"},
		{"30 9 * * mon-fri", "2026-01-02 10:00", "2026-01-05 09:30"}, // Friday after 9:30 -> Monday
		{"0 0 1 jan,jul *", "2026-02-01 00:00", "2026-07-01 00:00"},
		{"0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"},
		{"0 12 13 * 5", "2026-01-01 00:00", "2026-01-02 12:00"},     // day 13 OR Friday (Vixie)
		{"0-30/10 1 * * 7", "2026-01-04 01:05", "2026-01-04 01:10"}, // 7 is Sunday
	} {
		s, err := litepull.ParseSchedule(tc.expr)
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", tc.expr, err)
		}
		got := s.Next(at(tc.from))
		want := at(tc.want)
		if tc.expr == "every 30s" {
			want = want.Add(30 * time.Second)
		}
		if !got.Equal(want) {
			t.Errorf("%q after %s = %s, want %s", tc.expr, tc.from, got.Format(time.RFC3339), want.Format(time.RFC3339))
		}
	}
	for _, bad := range []string{"", "every", "every 10ms", "every -1s", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
		"* * * 13 *", "* * * * 8", "5-1 * * * *", "*/0 * * * *", "0 0 30 2 *", "a b c d e"} {
		if _, err := litepull.ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "every 1m", "0 0 29 2 *", "1-5,10 */2 * jan-mar sun"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sched, err := litepull.ParseSchedule(s)
		if err != nil {
			return
		}
		from := time.Date(2026, 5, 17, 13, 37, 12, 0, time.UTC)
		next := sched.Next(from)
		if !next.After(from) {
			t.Fatalf("%q: Next(%s) = %s is not later", s, from, next)
		}
	})
}
