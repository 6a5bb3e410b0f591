package sqlitedialect_test

import (
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitedialect"
)

func TestAffinity(t *testing.T) {
	for decl, want := range map[string]litepull.Affinity{
		"INTEGER": litepull.AffInteger, "BIGINT": litepull.AffInteger, "VARCHAR(20)": litepull.AffText,
		"TEXT": litepull.AffText, "BLOB": litepull.AffNone, "": litepull.AffNone, "REAL": litepull.AffReal,
		"DOUBLE PRECISION": litepull.AffReal, "NUMERIC(10,2)": litepull.AffNumeric, "TIMESTAMP": litepull.AffNumeric,
		"BOOLEAN": litepull.AffNumeric,
	} {
		if got := sqlitedialect.Affinity(decl); got != want {
			t.Errorf("Affinity(%q) = %q, want %q", decl, got, want)
		}
	}
}
