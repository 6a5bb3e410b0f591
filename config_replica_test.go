package litepull_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/litepull/litepull"
)

// TestRemoteReplicaConfig: replica: is a path, or a mapping naming a
// remote service, checked key by key like the rest of the file.
func TestRemoteReplicaConfig(t *testing.T) {
	const sources = "\nsources:\n  - id: s\n    kind: sqlite\n    dsn: x.db\n"
	cfg, err := litepull.ParseConfig([]byte("replica:\n  kind: starbase\n  url: https://sb.example.workers.dev\n  token: ${SB}\n"+sources),
		env(map[string]string{"SB": "secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.RemoteReplica; r == nil || r.Kind != "starbase" || r.Token != "secret" || cfg.Replica != "" || r.String() != "starbase sb.example.workers.dev" {
		t.Fatalf("remote replica = %+v, path %q", r, cfg.Replica)
	}
	cfg, err = litepull.ParseConfig([]byte("replica: ./r.db"+sources), env(nil))
	if err != nil || cfg.RemoteReplica != nil || cfg.Replica != "./r.db" {
		t.Fatalf("path replica: %+v %v", cfg, err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"replica:\n  kind: starbase\n  urll: https://x\n", `replica: unknown key "urll"`},
		{"replica:\n  kind: mongo\n  url: https://x\n", `replica.kind: unknown kind "mongo"`},
		{"replica:\n  kind: libsql\n", "replica.url: missing"},
		{"replica:\n  kind: d1\n  token: t\n", "accountId and databaseId are required"},
	} {
		_, err := litepull.ParseConfig([]byte(c.yaml+sources), env(nil))
		var ce *litepull.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want a config error with %q", c.yaml, err, c.want)
		}
	}
}
