package mysql_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/mysql"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPostgresPortSaysWhatItReached: a MySQL DSN pointed at a Postgres
// server says what it reached, and the driver's own messages go to the
// logger set, not to stderr, without the password.
func TestPostgresPortSaysWhatItReached(t *testing.T) {
	pc, err := pgconn.ParseConfig(testdb.Postgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port)))
	var logs syncBuffer
	mysql.SetLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { mysql.SetLogger(nil) })
	// Postgres waits for the client to speak first: without a read
	// deadline the driver would wait for its handshake until Postgres
	// gives up (authentication_timeout, a minute).
	src, err := mysql.New(litepull.SourceConfig{ID: "my", DSN: "app:hunter2@tcp(" + addr + ")/db?readTimeout=1s"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := "the server at " + addr + " does not speak the MySQL protocol"
	if err := src.Ping(ctx); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Postgres") {
		t.Errorf("Ping = %v\nwant %q, naming Postgres", err, want)
	}
	// Without a read timeout in the DSN, the connect timeout ends the wait;
	// the message still says what answered.
	src2, err := mysql.New(litepull.SourceConfig{ID: "my2", DSN: "app:hunter2@tcp(" + addr + ")/db", ConnectTimeout: litepull.Duration(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	if err := src2.Ping(ctx); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Postgres") {
		t.Errorf("Ping after the connect timeout = %v\nwant %q, naming Postgres", err, want)
	}
	if !strings.Contains(logs.String(), "mysql driver") || !strings.Contains(logs.String(), "source=my") || strings.Contains(logs.String(), "hunter2") {
		t.Errorf("driver messages not logged through the logger, or with the password:\n%s", logs.String())
	}
}
