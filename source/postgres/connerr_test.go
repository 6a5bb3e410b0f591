package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/postgres"
)

// TestMySQLPortSaysWhatItReached: a Postgres DSN pointed at a MySQL server
// says what it reached, in every sslmode, instead of pgconn's "received
// unexpected message: %!w(<nil>)".
func TestMySQLPortSaysWhatItReached(t *testing.T) {
	my, err := driver.ParseDSN(testdb.MySQL(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	want := "the server at " + my.Addr + " does not speak the Postgres protocol"
	for _, mode := range []string{"disable", "prefer", "require"} {
		t.Run(mode, func(t *testing.T) {
			src, err := postgres.New(litepull.SourceConfig{ID: "pg", DSN: fmt.Sprintf("postgres://app:hunter2@%s/db?sslmode=%s&connect_timeout=5", my.Addr, mode)})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, describeErr := src.Describe(ctx, "users")
			for _, err := range []error{src.Ping(ctx), describeErr} {
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "MySQL") ||
					strings.Contains(err.Error(), "%!") || strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error = %v\nwant %q, naming MySQL", err, want)
				}
			}
		})
	}
}
