package postgres

import (
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/litepull/litepull"
)

// TestParseLSN: positions read back as the LSN they were written from, and
// anything else is refused.
func TestParseLSN(t *testing.T) {
	for _, lsn := range []pglogrepl.LSN{0, 1, 0x16_B374D848, 0xFFFFFFFF_FFFFFFFF, 0x1_00000000} {
		p := position(lsn)
		got, err := parseLSN(p)
		want, werr := pglogrepl.ParseLSN(string(p))
		if err != nil || werr != nil || got != lsn || got != want {
			t.Errorf("parseLSN(%q) = %v, %v; want %v (pglogrepl: %v, %v)", p, got, err, lsn, want, werr)
		}
	}
	if got, err := parseLSN("16/b374d848"); err != nil || got != 0x16_B374D848 {
		t.Errorf("lower-case hex: %v, %v", got, err)
	}
	for _, bad := range []litepull.Position{"16", "16/", "/B374D848", "G/1", "1/2/3", "100000000/0", "1/100000000", "-1/2", "+1/2", " 1/2", "0x1/2"} {
		if got, err := parseLSN(bad); err == nil {
			t.Errorf("parseLSN(%q) = %v, want an error", bad, got)
		}
	}
}

// TestIncludes: a position includes the transactions that commit before it.
func TestIncludes(t *testing.T) {
	st := &stream{}
	cases := []struct {
		at, commit litepull.Position
		want       bool
	}{
		{"0/20", "0/10", true},
		{"1/0", "0/FFFFFFFF", true},
		{"0/10", "0/10", false},
		{"0/10", "0/20", false},
		{"", "0/10", false},
		{"0/10", "", false},
		{"bad", "0/10", false},
	}
	for _, c := range cases {
		if got := st.Includes(c.at, c.commit); got != c.want {
			t.Errorf("Includes(%q, %q) = %v, want %v", c.at, c.commit, got, c.want)
		}
	}
}
