package litepull

import (
	"context"
	"fmt"
)

// Reconciliation shape: the replica's keys are cut into leaves of
// reconcileLeaf keys, grouped reconcileFanout at a time into ranges of
// 1000 and 10,000 keys. The source counts and checksums the top ranges;
// only those that differ are looked at a level down, and only the keys of
// differing leaves are looked up. Counting is batched rangesPerQuery ranges
// to a statement, and lookups keysPerQuery keys.
//
// A range's checksum is the sum of a hash of every key in it, computed the
// same way on both sides (see KeyHash). Counts alone are not enough: a
// range where the source deleted one key and has another the replica
// lacks (a NULL-cursor row, a row committed late below the watermark) has
// equal counts, and its deleted key would never be found. A sum of hashes
// differs whenever the key sets do (but for a 2^-31 chance), whatever the
// key's type; a plain sum of integer keys would miss ids 10 and 13
// deleted while 11 and 12 arrive late.
const (
	reconcileLeaf   = 100
	reconcileFanout = 10
	reconcileLevels = 3 // leaves, and two levels above them
	rangesPerQuery  = 100
	keysPerQuery    = 500
)

// node is a range of the replica's keys with its count and checksum, and
// the nodes it splits into.
type node struct {
	r        KeyRange
	stat     RangeStat
	children []*node
}

// group builds the level above nodes, fanout nodes to a parent.
func group(nodes []*node, fanout int) []*node {
	var out []*node
	for lo := 0; lo < len(nodes); lo += fanout {
		kids := nodes[lo:min(lo+fanout, len(nodes))]
		p := &node{r: KeyRange{After: kids[0].r.After, Through: kids[len(kids)-1].r.Through}, children: kids}
		for _, k := range kids {
			p.stat.Count += k.stat.Count
			p.stat.Checksum += k.stat.Checksum
		}
		out = append(out, p)
	}
	return out
}

// differingLeaves walks the tree built over leaves from the top, one batch
// of source counts per level, and returns the leaves whose count or
// checksum differs from the source's.
func differingLeaves(ctx context.Context, rc Reconciler, p *plan, leaves []*node) ([]*node, error) {
	level := leaves
	for i := 1; i < reconcileLevels; i++ {
		level = group(level, reconcileFanout)
	}
	for depth := 0; ; depth++ {
		var changed []*node
		for lo := 0; lo < len(level); lo += rangesPerQuery {
			batch := level[lo:min(lo+rangesPerQuery, len(level))]
			rs := make([]KeyRange, len(batch))
			for i, n := range batch {
				rs[i] = n.r
			}
			src, err := rc.CountRanges(ctx, p.schema, p.pk, rs)
			if err != nil {
				return nil, err
			}
			for i, s := range src {
				if s != batch[i].stat {
					changed = append(changed, batch[i])
				}
			}
		}
		if depth == reconcileLevels-1 {
			return changed, nil
		}
		level = nil
		for _, n := range changed {
			level = append(level, n.children...)
		}
	}
}

// reconcile finds the rows deleted at the source and deletes them from the
// replica. What it asks of the source grows with the number of ranges
// that differ, not with the table: two numbers per range looked at, and
// the keys of the leaves that differ. It runs on a caught-up table, where
// a differing range means rows deleted at the source (or rows inserted
// since the run, which it leaves alone: a key is deleted only once the
// source has said it does not have it).
func (e *Engine) reconcile(ctx context.Context, p *plan, st *State) (int64, error) {
	rc, ok := p.src.(Reconciler)
	if !ok {
		return 0, fmt.Errorf("%w: this source cannot reconcile deletes; use mode: full", ErrUnsupported)
	}
	hash := rc.KeyHash(p.schema, p.pk)
	ranges, stats, err := e.replica.KeyRanges(ctx, p.target, reconcileLeaf, nil, hash)
	if err != nil {
		return 0, err
	}
	level := make([]*node, len(ranges))
	for i := range ranges {
		level[i] = &node{r: ranges[i], stat: stats[i]}
	}
	// With no hash every leaf is looked up: counts alone would miss a
	// deleted key next to a key the replica lacks.
	if hash != HashNone {
		if level, err = differingLeaves(ctx, rc, p, level); err != nil {
			return 0, err
		}
	}

	missing, err := e.missingKeys(ctx, rc, p, level)
	if err != nil {
		return 0, err
	}

	next := *st
	next.LastReconcile = e.now()
	next.RowsDeleted += int64(len(missing))
	if err := e.replica.Apply(ctx, Batch{Changes: []TableChanges{{Target: p.target, Deletes: missing}}, States: []State{next}}); err != nil {
		return 0, fmt.Errorf("delete %d rows: %w", len(missing), err)
	}
	*st = next
	if len(missing) > 0 {
		e.logger.Info("deleted rows gone from the source", LogKeySource, p.target.SourceID, LogKeyTable, p.target.SourceTable, LogKeyRows, len(missing))
	}
	return int64(len(missing)), nil
}

// missingKeys looks the replica's keys of leaves up at the source,
// keysPerQuery at a time, and returns those the source no longer has.
func (e *Engine) missingKeys(ctx context.Context, rc Reconciler, p *plan, leaves []*node) ([][]Value, error) {
	var keys, missing [][]Value
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		gone, err := notFound(ctx, rc, p, keys)
		missing = append(missing, gone...)
		keys = keys[:0]
		return err
	}
	for _, leaf := range leaves {
		ks, err := e.replica.Keys(ctx, p.target, leaf.r)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
		if len(keys) >= keysPerQuery {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return missing, nil
}

// notFound returns the keys, of those given, that the source does not have.
func notFound(ctx context.Context, rc Reconciler, p *plan, keys [][]Value) ([][]Value, error) {
	found, err := rc.ExistingKeys(ctx, p.schema, p.pk, keys)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, k := range found {
		enc, err := EncodeValues(k)
		if err != nil {
			return nil, err
		}
		have[enc] = true
	}
	var gone [][]Value
	for _, k := range keys {
		enc, err := EncodeValues(k)
		if err != nil {
			return nil, err
		}
		if !have[enc] {
			gone = append(gone, k)
		}
	}
	return gone, nil
}
