package replica_test

import (
	"reflect"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// TestRangeCutter: five keys after key 0 cut by two make ranges (0,2],
// (2,4], (4,5], each counting its keys and summing their MD5 hashes.
func TestRangeCutter(t *testing.T) {
	keys := [][]litepull.Value{{int64(1)}, {int64(2)}, {int64(3)}, {int64(4)}, {int64(5)}}
	c := replica.NewRangeCutter(2, &litepull.KeyRange{After: []litepull.Value{int64(0)}}, litepull.HashMD5)
	for _, k := range keys {
		c.Add(k, nil)
	}
	ranges, stats := c.Ranges()
	want := []litepull.KeyRange{
		{After: []litepull.Value{int64(0)}, Through: keys[1]},
		{After: keys[1], Through: keys[3]},
		{After: keys[3], Through: keys[4]},
	}
	if !reflect.DeepEqual(ranges, want) {
		t.Fatalf("ranges = %v, want %v", ranges, want)
	}
	for i, n := range []int64{2, 2, 1} {
		var sum litepull.RangeStat
		for _, k := range keys[2*i : 2*i+int(n)] {
			sum.Count++
			sum.Checksum += litepull.KeyMD5(k)
		}
		if stats[i] != sum {
			t.Errorf("range %d: %+v, want %+v", i, stats[i], sum)
		}
	}
}
