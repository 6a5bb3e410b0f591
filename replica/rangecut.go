package replica

import (
	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyhash"
)

// RangeCutter cuts keys walked in key order into ranges of size keys, each
// with its count and the sum of a hash over its keys: the numbers a
// source computes for the same ranges. The file replica and the remote
// one both cut with it.
type RangeCutter struct {
	size       int64
	hash       litepull.KeyHash
	prev, last []litepull.Value
	cur        litepull.RangeStat
	ranges     []litepull.KeyRange
	stats      []litepull.RangeStat
}

// NewRangeCutter starts cutting after within.After (from the first key if
// within is nil).
func NewRangeCutter(size int, within *litepull.KeyRange, hash litepull.KeyHash) *RangeCutter {
	c := &RangeCutter{size: int64(size), hash: hash}
	if within != nil {
		c.prev = within.After
	}
	return c
}

// Add counts the next key; quotes are the text SQLite's quote() gives for
// its values, read for HashSQLite only.
func (c *RangeCutter) Add(key []litepull.Value, quotes []string) {
	c.cur.Count++
	switch c.hash {
	case litepull.HashMD5:
		c.cur.Checksum += litepull.KeyMD5(key)
	case litepull.HashSQLite:
		c.cur.Checksum += keyhash.Hash(key, quotes)
	}
	c.last = key
	if c.cur.Count == c.size {
		c.cut()
	}
}

func (c *RangeCutter) cut() {
	c.ranges = append(c.ranges, litepull.KeyRange{After: c.prev, Through: c.last})
	c.stats = append(c.stats, c.cur)
	c.prev, c.cur = c.last, litepull.RangeStat{}
}

// Ranges returns the ranges and their stats, the last one cut short if the
// keys ran out within it.
func (c *RangeCutter) Ranges() ([]litepull.KeyRange, []litepull.RangeStat) {
	if c.cur.Count > 0 {
		c.cut()
	}
	return c.ranges, c.stats
}
