package postgres

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/litepull/litepull"
)

// TestAppendTimestampMatchesTime checks the hand-written formatter against
// the time package over the whole range it handles and past its edges.
func TestAppendTimestampMatchesTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	// time.Duration saturates at ±292 years: compute in Unix seconds.
	lo := (time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - pgEpochUnix) * 1e6
	hi := (time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()-pgEpochUnix)*1e6 + 999999
	cases := []int64{0, -1, 1, lo, hi, lo - 1, hi + 1, -86400e6, 86400e6 - 1, 9223371331200000000 - 1, -211813488000000000}
	for i := 0; i < 200000; i++ {
		cases = append(cases, lo+rng.Int64N(hi-lo))
	}
	for _, us := range cases {
		ref := pgEpoch.AddDate(0, 0, int(us/86400e6)).Add(time.Duration(us%86400e6) * time.Microsecond)
		for _, utc := range []bool{true, false} {
			layout := litepull.LayoutTimestamp
			if utc {
				layout = litepull.LayoutTimestampTZ
			}
			want := ref.Format(layout)
			if got := string(appendTimestamp(nil, us, utc)); got != want {
				t.Fatalf("appendTimestamp(%d, %v) = %s, want %s", us, utc, got, want)
			}
		}
	}
}

func TestPreparedStatementsFollowExecMode(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u@127.0.0.1:1/db":                                         true,
		"postgres://u@127.0.0.1:1/db?default_query_exec_mode=exec":            false,
		"postgres://u@127.0.0.1:1/db?default_query_exec_mode=simple_protocol": false,
	} {
		s, err := New(litepull.SourceConfig{ID: "x", DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		if s.prepare != want {
			t.Errorf("%s: prepare = %v, want %v", dsn, s.prepare, want)
		}
		s.Close()
	}
}
