package litepull

import (
	"context"
	"fmt"
)

// Reconciliation sizes: top-level key ranges of reconcileTop replica rows;
// a range whose count or checksum differs at the source is cut into ranges
// of reconcileLeaf rows; the keys of a leaf that differs are looked up at
// the source, and those it no longer has are deleted. Counting at the
// source is batched rangesPerQuery ranges to a statement.
const (
	reconcileTop   = 10000
	reconcileLeaf  = 100
	rangesPerQuery = 100
)

// reconcile finds the rows deleted at the source and deletes them from the
// replica. What it reads from the source grows with the number of ranges
// that differ, not with the table: two numbers per range, and the keys of
// the few leaves that differ. It is run on a caught-up table, where a
// differing range means rows deleted at the source (or, rarely, rows
// inserted since the run, which it leaves alone).
func (e *Engine) reconcile(ctx context.Context, p *plan, st *State) (int64, error) {
	rc, ok := p.src.(Reconciler)
	if !ok {
		return 0, fmt.Errorf("%w: this source cannot reconcile deletes; use mode: full", ErrUnsupported)
	}
	checksum := false
	if c, ok := p.schema.Column(p.pk[0]); ok && c.Affinity == AffInteger {
		checksum = true
	}
	differing := func(ranges []KeyRange, stats []RangeStat) ([]KeyRange, error) {
		var out []KeyRange
		for lo := 0; lo < len(ranges); lo += rangesPerQuery {
			hi := min(lo+rangesPerQuery, len(ranges))
			src, err := rc.CountRanges(ctx, p.schema, p.pk, ranges[lo:hi], checksum)
			if err != nil {
				return nil, err
			}
			for i, s := range src {
				if s != stats[lo+i] {
					out = append(out, ranges[lo+i])
				}
			}
		}
		return out, nil
	}

	top, stats, err := e.replica.KeyRanges(ctx, p.target, reconcileTop, nil, checksum)
	if err != nil {
		return 0, err
	}
	changed, err := differing(top, stats)
	if err != nil {
		return 0, err
	}
	var missing [][]Value
	for _, r := range changed {
		leaves, stats, err := e.replica.KeyRanges(ctx, p.target, reconcileLeaf, &r, checksum)
		if err != nil {
			return 0, err
		}
		changedLeaves, err := differing(leaves, stats)
		if err != nil {
			return 0, err
		}
		for _, leaf := range changedLeaves {
			keys, err := e.replica.Keys(ctx, p.target, leaf)
			if err != nil {
				return 0, err
			}
			found, err := rc.ExistingKeys(ctx, p.schema, p.pk, keys)
			if err != nil {
				return 0, err
			}
			have := map[string]bool{}
			for _, k := range found {
				enc, err := EncodeValues(k)
				if err != nil {
					return 0, err
				}
				have[enc] = true
			}
			for _, k := range keys {
				enc, err := EncodeValues(k)
				if err != nil {
					return 0, err
				}
				if !have[enc] {
					missing = append(missing, k)
				}
			}
		}
	}
	next := *st
	next.LastReconcile = e.now()
	next.RowsDeleted += int64(len(missing))
	if err := e.replica.DeleteKeys(ctx, p.target, missing, next); err != nil {
		return 0, fmt.Errorf("delete %d rows: %w", len(missing), err)
	}
	*st = next
	if len(missing) > 0 {
		e.logger.Info("deleted rows gone from the source", LogKeySource, p.target.SourceID, LogKeyTable, p.target.SourceTable, LogKeyRows, len(missing))
	}
	return int64(len(missing)), nil
}
