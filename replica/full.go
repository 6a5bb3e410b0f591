package replica

import (
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

// ShadowPrefix starts the name of the table a full refresh copies into.
const ShadowPrefix = "litepull_shadow_"

// BeginFull starts a full refresh of t.Dest: it (re)creates an empty shadow
// table of the same shape and returns the target to write pages into.
// Readers keep seeing t.Dest, untouched, until SwapFull.
func (r *Replica) BeginFull(ctx context.Context, t *litepull.Target) (*litepull.Target, error) {
	shadow := *t
	shadow.Dest = ShadowPrefix + t.Dest
	err := r.locked(ctx, func(c *sqlite3.Conn) error {
		if err := c.Exec("DROP TABLE IF EXISTS " + quote(shadow.Dest)); err != nil {
			return err
		}
		return c.Exec(createTable(&shadow))
	})
	if err != nil {
		return nil, fmt.Errorf("create shadow table for %s: %w", t.Dest, err)
	}
	return &shadow, nil
}

// SwapFull replaces t.Dest with its filled shadow, records t's columns and
// writes st, in one transaction: a reader sees the old table or the new
// one, never an empty or half-copied one, and the column metadata always
// describes the table there is. Indexes the user made on t.Dest are made
// again on the new table.
func (r *Replica) SwapFull(ctx context.Context, t *litepull.Target, shadow *litepull.Target, st litepull.State) error {
	return r.Apply(ctx, litepull.Batch{Swaps: []litepull.Swap{{Target: t, Shadow: shadow, State: st}}})
}

// SwapsInBatch says that a batch's swaps commit with the rest of it.
func (r *Replica) SwapsInBatch() {}

// swap is SwapFull inside the caller's transaction.
func (r *Replica) swap(c *sqlite3.Conn, sw litepull.Swap) error {
	t, shadow := sw.Target, sw.Shadow
	// A table another source table fills, or one litepull did not make,
	// is never replaced.
	if err := r.checkOwner(c, t); err != nil {
		return err
	}
	// The user's indexes and triggers on the table, made again on the new
	// one (indexes first: a trigger may rely on one).
	_, idx, err := sqlitex.QueryAll(c, "SELECT sql FROM sqlite_schema WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL ORDER BY type = 'trigger'", t.Dest)
	if err != nil {
		return err
	}
	if err := c.Exec("DROP TABLE IF EXISTS " + quote(t.Dest)); err != nil {
		return err
	}
	if err := c.Exec(fmt.Sprintf("ALTER TABLE %s RENAME TO %s", quote(shadow.Dest), quote(t.Dest))); err != nil {
		return err
	}
	for _, row := range idx {
		if err := c.Exec(row[0].(string)); err != nil {
			return fmt.Errorf("recreate your index or trigger on %s: %w; drop or change it (%s), then run again", t.Dest, err, row[0])
		}
	}
	if err := recordColumns(c, t); err != nil {
		return err
	}
	return r.saveState(c, sw.State)
}

// DropShadow removes a shadow table left by a failed full refresh.
func (r *Replica) DropShadow(ctx context.Context, shadow *litepull.Target) error {
	return r.locked(ctx, func(c *sqlite3.Conn) error {
		return c.Exec("DROP TABLE IF EXISTS " + quote(shadow.Dest))
	})
}
