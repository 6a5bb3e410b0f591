package litepull

import (
	"math"
	"testing"
	"time"
)

func TestCursorAhead(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// The source's clock: 2026-11-26 06:00 UTC, 01:00 in New York.
	utcNow := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	nyNow := utcNow.In(ny)
	for _, tc := range []struct {
		name   string
		cursor Value
		now    time.Time
		want   float64 // seconds ahead; 0: not beyond the tolerance
	}{
		{"Infinity", "infinity", utcNow, math.Inf(1)},
		{"NegativeInfinity", "-infinity", utcNow, 0},
		{"Year2999", "2999-01-01T00:00:00.000000Z", utcNow, float64(time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - utcNow.Unix())},
		{"WithinTolerance", "2026-11-26T06:00:59.000000Z", utcNow, 0},
		{"MinutesAhead", "2026-11-26T06:50:00.000000Z", utcNow, 3000},
		{"BeyondTolerance", "2026-11-26T08:00:00.000000Z", utcNow, 7200},
		{"Offset", "2026-11-26T10:00:00+02:00", utcNow, 7200},
		{"NaiveInItsZone", "2026-11-26T01:00:30.000000", nyNow, 0},
		{"NaiveFromAZoneAhead", "2026-11-26T06:00:00.000000", nyNow, 5 * 3600},
		{"SQLiteText", "2026-11-26 09:00:00", utcNow, 3 * 3600},
		{"TodayInAZoneAhead", "2026-11-27", utcNow, 0},
		{"DateTwoDaysAhead", "2026-11-28", utcNow, 42 * 3600},
		{"NumbersAreNotJudged", int64(99999999999), utcNow, 0},
		{"MySQLZeroDate", "0000-00-00T00:00:00.000000", utcNow, 0},
		{"NotATime", "soon", utcNow, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cursorAhead(tc.cursor, tc.now); got != tc.want {
				t.Errorf("cursorAhead(%v) = %v, want %v", tc.cursor, got, tc.want)
			}
		})
	}
}

func TestSubtractLookbackKeepsSentinels(t *testing.T) {
	for _, c := range []string{"infinity", "-infinity", "0000-00-00T00:00:00.000000"} {
		got, err := subtractLookback(c, Lookback{Duration: time.Second})
		if err != nil || got != c {
			t.Errorf("subtractLookback(%q) = %v, %v; want it unchanged", c, got, err)
		}
	}
}
