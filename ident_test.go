package litepull_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/litepull/litepull"
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func TestValidIdent(t *testing.T) {
	for name, want := range map[string]bool{
		"users": true, "_x": true, "A9_b": true, "id": true,
		"": false, "9a": false, "a-b": false, "a b": false, `a"b`: false, "a;b": false, "é": false,
		"a.b": false, strings.Repeat("a", 129): false,
	} {
		if got := litepull.ValidIdent(name); got != want {
			t.Errorf("ValidIdent(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSplitQualified(t *testing.T) {
	parts, err := litepull.SplitQualified("public.users")
	if err != nil || len(parts) != 2 || parts[0] != "public" || parts[1] != "users" {
		t.Fatalf("SplitQualified(public.users) = %v, %v", parts, err)
	}
	for _, bad := range []string{"a.b.c", ".users", "public.", "pub lic.users", "public.us;ers"} {
		if _, err := litepull.SplitQualified(bad); !errors.Is(err, litepull.ErrBadIdentifier) {
			t.Errorf("SplitQualified(%q) = %v, want ErrBadIdentifier", bad, err)
		}
	}
}

// FuzzIdent checks the validator against the regular expression of the
// contract, and that quoting any string yields one quoted token.
func FuzzIdent(f *testing.F) {
	for _, s := range []string{"users", "a\"b", "9x", "", "_", "a`b", "x\x00y", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := identRE.MatchString(s) && len(s) <= 128
		if got := litepull.ValidIdent(s); got != want {
			t.Fatalf("ValidIdent(%q) = %v, regexp says %v", s, got, want)
		}
		if err := litepull.CheckIdent("column", s); (err == nil) != want {
			t.Fatalf("CheckIdent(%q) = %v", s, err)
		}
		for _, q := range []byte{'"', '`'} {
			quoted := litepull.QuoteIdent(s, q)
			inner := quoted[1 : len(quoted)-1]
			if quoted[0] != q || quoted[len(quoted)-1] != q {
				t.Fatalf("QuoteIdent(%q) = %q: not enclosed", s, quoted)
			}
			// Inside, every quote character comes doubled: the token cannot end early.
			if strings.ReplaceAll(inner, string([]byte{q, q}), "") != strings.ReplaceAll(s, string(q), "") {
				t.Fatalf("QuoteIdent(%q) = %q: a lone quote inside", s, quoted)
			}
		}
	})
}
