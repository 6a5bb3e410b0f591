package litepull_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/litepull/litepull"
)

func TestEncodeValuesRoundTrip(t *testing.T) {
	for _, vals := range [][]litepull.Value{
		{int64(42), "x"},
		{int64(math.MinInt64), int64(math.MaxInt64)},
		{1.5, math.Inf(1), math.Inf(-1), 0.1},
		{"2026-01-01T00:00:00.000001Z", "", "a:b", `quote " and \ backslash`, "ü🌍"},
		{[]byte{0, 1, 255}, []byte{}, nil},
	} {
		enc, err := litepull.EncodeValues(vals)
		if err != nil {
			t.Fatal(err)
		}
		got, err := litepull.DecodeValues(enc)
		if err != nil {
			t.Fatalf("DecodeValues(%s): %v", enc, err)
		}
		if !reflect.DeepEqual(got, vals) {
			t.Errorf("round trip of %#v via %s = %#v", vals, enc, got)
		}
	}
	if _, err := litepull.EncodeValues([]litepull.Value{struct{}{}}); err == nil {
		t.Error("EncodeValues accepted a struct")
	}
	for _, bad := range []string{"", "[", `["x"]`, `["i:notanumber"]`, `["q:1"]`, `[1]`, `["f:NaN"]`} {
		if _, err := litepull.DecodeValues(bad); err == nil {
			t.Errorf("DecodeValues(%q) succeeded", bad)
		}
	}
}

func FuzzDecodeValues(f *testing.F) {
	f.Add(`["i:1","s:x",null,"b:AAE=","f:1.5"]`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		vals, err := litepull.DecodeValues(s)
		if err != nil {
			return
		}
		enc, err := litepull.EncodeValues(vals)
		if err != nil {
			t.Fatalf("decoded values do not encode: %v", err)
		}
		again, err := litepull.DecodeValues(enc)
		if err != nil || !reflect.DeepEqual(again, vals) {
			t.Fatalf("re-decode of %s = %v, %v; want %v", enc, again, err, vals)
		}
	})
}

func TestFloatValueKeepsNaN(t *testing.T) {
	if v := litepull.FloatValue(math.NaN()); v != "NaN" {
		t.Fatalf("FloatValue(NaN) = %#v, want \"NaN\" (SQLite would store NaN as NULL)", v)
	}
	if v := litepull.FloatValue(2.5); v != 2.5 {
		t.Fatalf("FloatValue(2.5) = %#v", v)
	}
}
