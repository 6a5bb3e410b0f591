package litepull_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/litepull/litepull"
)

func TestConfigTimeouts(t *testing.T) {
	cfg, err := litepull.ParseConfig([]byte(`
sources:
  - id: default
    kind: postgres
  - id: set
    kind: mysql
    connectTimeout: 2s
    readTimeout: 90s
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][2]time.Duration{{15 * time.Second, time.Minute}, {2 * time.Second, 90 * time.Second}} {
		if connect, read := cfg.Sources[i].Timeouts(); connect != want[0] || read != want[1] {
			t.Errorf("source %s: timeouts %s, %s; want %s, %s", cfg.Sources[i].ID, connect, read, want[0], want[1])
		}
	}
	if connect, read := (litepull.SourceConfig{}).Timeouts(); connect != 15*time.Second || read != time.Minute {
		t.Errorf("unvalidated config: timeouts %s, %s; want the defaults", connect, read)
	}
	if _, err := litepull.ParseConfig([]byte("sources:\n- id: a\n  kind: postgres\n  readTimeout: -1s\n"), env(nil)); err == nil {
		t.Error("a negative readTimeout was accepted")
	}
}

func TestWithTable(t *testing.T) {
	read := fmt.Errorf("read page of orders: %w", fmt.Errorf("read page of orders: %w",
		&litepull.TimeoutError{Op: litepull.OpRead, After: time.Minute}))
	got := litepull.WithTable(read, "orders")
	want := "read of orders timed out after 1m0s; a lock on the table (a migration?) or a stalled network (readTimeout sets the limit)"
	if got.Error() != want || !errors.Is(got, litepull.ErrTimeout) {
		t.Errorf("WithTable = %q, want %q", got, want)
	}
	connect := fmt.Errorf("describe orders: %w", &litepull.TimeoutError{Op: litepull.OpConnect, After: time.Second, Addr: "db:5432"})
	if got := litepull.WithTable(connect, "orders").Error(); got[:41] != "connect to db:5432 timed out after 1s; a " {
		t.Errorf("WithTable = %q, want the connect timeout alone", got)
	}
	other := errors.New("no such table")
	if got := litepull.WithTable(other, "orders"); got != other {
		t.Errorf("WithTable = %v, want other errors untouched", got)
	}
}
