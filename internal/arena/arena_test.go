package arena_test

import (
	"testing"
	"time"

	"github.com/litepull/litepull/internal/arena"
)

func TestArenaStringsStayIntact(t *testing.T) {
	var a arena.Arena
	var got []string
	var want []string
	for i := 0; i < 20000; i++ {
		s := string(rune('a'+i%26)) + time.Duration(i).String()
		want = append(want, s)
		got = append(got, a.String([]byte(s)))
	}
	big := make([]byte, arena.MaxValue+1)
	got = append(got, a.String(big))
	want = append(want, string(big))
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d = %q, want %q: an arena string changed after later appends", i, got[i], want[i])
		}
	}
}
