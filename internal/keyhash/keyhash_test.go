package keyhash_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyhash"
	"github.com/litepull/litepull/internal/sqlitex"
)

// hashValues are SQL literals of every storage class, with the edges of
// each: integers at both ends of int64 and around 2^31, text with quotes,
// emoji and NULs, text that is not valid UTF-8, blobs, REALs, NULL.
var hashValues = []string{
	"0", "1", "-1", "2147483646", "2147483647", "2147483648", "-2147483648", "9223372036854775807", "-9223372036854775808", "1000003",
	"''", "'a'", "'1'", "'héllo 🌍 中文'", `'quote '' and "'`, "'~~~~'", "'0:''a'''", "printf('%.1000c', 'x')", "printf('%.40c', 'é')",
	"CAST(x'610062' AS TEXT)",             // a NUL inside
	"CAST(x'80' AS TEXT)",                 // a lone continuation byte
	"CAST(x'61c3' AS TEXT)",               // a lead byte at the end
	"CAST(x'c080' AS TEXT)",               // overlong
	"CAST(x'eda080' AS TEXT)",             // a surrogate
	"CAST(x'efbfbe' AS TEXT)",             // U+FFFE
	"CAST(x'fc8080808080808041' AS TEXT)", // a lead byte with seven continuation bytes
	"x''", "x'00ff'", "x'27'",
	"0.1", "2.0", "-0.5", "1e308", "NULL",
}

// TestHashMatchesSQL checks that Hash, which the replica computes in Go,
// gives what HashSQL gives in SQLite, for single and composite keys.
func TestHashMatchesSQL(t *testing.T) {
	c, err := sqlite3.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Untyped columns keep every storage class; named like the hash
	// subquery's own columns, which must not capture them.
	if err := c.Exec(`CREATE TABLE t (s, n)`); err != nil {
		t.Fatal(err)
	}
	for i, a := range hashValues {
		b := hashValues[(i*7+3)%len(hashValues)]
		if err := c.Exec(fmt.Sprintf("INSERT INTO t VALUES (%s, %s)", a, b)); err != nil {
			t.Fatal(err)
		}
	}
	q := fmt.Sprintf("SELECT s, n, %s, %s, %s, %s FROM t AS k",
		keyhash.QuoteSQL(`k."s"`), keyhash.QuoteSQL(`k."n"`),
		keyhash.SQLite("k", []string{"s"}), keyhash.SQLite("k", []string{"s", "n"}))
	_, rows, err := sqlitex.QueryAll(c, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(hashValues) {
		t.Fatalf("%d rows, want %d", len(rows), len(hashValues))
	}
	for i, r := range rows {
		qs, _ := r[2].(string)
		qn, _ := r[3].(string)
		one := keyhash.Hash([]litepull.Value{r[0]}, []string{qs})
		two := keyhash.Hash([]litepull.Value{r[0], r[1]}, []string{qs, qn})
		if one != r[4] || two != r[5] {
			t.Errorf("%s, %s: Go hashes (%d, %d), SQL (%v, %v)", hashValues[i], hashValues[(i*7+3)%len(hashValues)], one, two, r[4], r[5])
		}
		if one < 0 || one >= 1<<31 {
			t.Errorf("%s: hash %d out of [0, 2^31)", hashValues[i], one)
		}
	}
}

// TestHashSumsTellKeySetsApart checks sets that a sum of keys, or a count,
// cannot tell apart.
func TestHashSumsTellKeySetsApart(t *testing.T) {
	sum := func(keys ...litepull.Value) (s int64) {
		for _, k := range keys {
			q := ""
			if _, ok := k.(int64); !ok {
				q = fmt.Sprintf("'%s'", k)
			}
			s += keyhash.Hash([]litepull.Value{k}, []string{q})
		}
		return s
	}
	for _, c := range [][2][]litepull.Value{
		{{int64(10), int64(13)}, {int64(11), int64(12)}},                                 // the same sum
		{{int64(1), int64(5), int64(6)}, {int64(2), int64(3), int64(7)}},                 // the same sums of squares too
		{{int64(5)}, {int64(5 + 1000003)}},                                               // the same modulo 1000003
		{{int64(1<<40 + 10), int64(1<<40 + 13)}, {int64(1<<40 + 11), int64(1<<40 + 12)}}, // large ids
		{{int64(math.MinInt64), int64(-1)}, {int64(math.MinInt64 + 1), int64(-2)}},       // negative ones
		{{"user-0012", "user-0021"}, {"user-0011", "user-0022"}},                         // the same characters at the same places
		{{strings.Repeat("a", 100) + "b"}, {strings.Repeat("a", 100) + "c"}},             // a difference past the first chunks
	} {
		if a, b := sum(c[0]...), sum(c[1]...); a == b {
			t.Errorf("%v and %v: equal checksums %d", c[0], c[1], a)
		}
	}
}

// TestHashInjectiveOnIDWindows checks that integer keys closer than about
// 2^31 never share a hash, wherever the window lies.
func TestHashInjectiveOnIDWindows(t *testing.T) {
	for _, base := range []int64{0, 1<<31 - 50000, 1 << 40, math.MaxInt64 - 100000, math.MinInt64, -50000} {
		seen := map[int64]int64{}
		for v := base; v < base+100000; v++ {
			h := keyhash.Hash([]litepull.Value{v}, []string{""})
			if prev, dup := seen[h]; dup {
				t.Fatalf("%d and %d share hash %d", prev, v, h)
			}
			seen[h] = v
		}
	}
}

// TestIntSQLMatchesHash checks the integer-only form against Hash, in
// SQLite (whose xor is (a | b) - (a & b)).
func TestIntSQLMatchesHash(t *testing.T) {
	c, err := sqlite3.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ints := []int64{0, 1, -1, 7, 1000003, 2147483647, 2147483648, -2147483648, 1 << 40, math.MaxInt64, math.MinInt64}
	xor := func(a, b string) string { return "((" + a + " | " + b + ") - (" + a + " & " + b + "))" }
	for i, a := range ints {
		b := ints[(i*5+2)%len(ints)]
		_, rows, err := sqlitex.QueryAll(c, "SELECT "+keyhash.IntSQL([]string{"?1"}, xor)+", "+keyhash.IntSQL([]string{"?1", "?2"}, xor), a, b)
		if err != nil {
			t.Fatal(err)
		}
		one := keyhash.Hash([]litepull.Value{a}, []string{""})
		two := keyhash.Hash([]litepull.Value{a, b}, []string{"", ""})
		if rows[0][0] != one || rows[0][1] != two {
			t.Errorf("(%d, %d): SQL (%v, %v), Go (%d, %d)", a, b, rows[0][0], rows[0][1], one, two)
		}
	}
}
