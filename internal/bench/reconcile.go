package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/source/postgres"
)

// ReconcileResult compares finding deletes by reconciliation with reading
// every key.
type ReconcileResult struct {
	Rows, Deleted, Found      int64
	ReconcileTime, ScanTime   time.Duration
	ReconcileBytes, ScanBytes int64
}

// Reconcile loads schema.bench from Postgres into a fresh replica, deletes
// deletes rows spread over the table at the source, then measures (a) a run
// with reconciliation, which finds and deletes them, and (b) reading every
// primary key from the source, the naive way to find them. Bytes are those
// received from the server.
//
// Spread deletes hit a different range of 10,000 keys each (the worst case
// for that many deletes); clustered ones fall in one range.
func Reconcile(ctx context.Context, dir, dsn, schema string, pageSize, deletes int, clustered bool) (*ReconcileResult, error) {
	r, err := freshReplica(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cfg := litepull.SourceConfig{ID: "bench", Kind: "postgres", DSN: dsn, Schema: schema, PageSize: pageSize,
		Tables: []litepull.TableConfig{{Table: Table, CursorColumn: "created_at", Deletes: litepull.DeletesReconcile, ReconcileEvery: litepull.Duration(time.Hour)}}}
	c := litepull.Config{Replica: r.Path(), Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg = c.Sources[0]
	src, err := postgres.New(cfg)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
	sum, err := e.Run(ctx, litepull.RunOptions{Drain: true})
	if err != nil || sum.Failed() > 0 {
		return nil, fmt.Errorf("load: %v %v", err, sum.Tables)
	}
	res := &ReconcileResult{Rows: sum.RowsPulled()}

	first, step := res.Rows/int64(deletes)/2, res.Rows/int64(deletes)
	if clustered {
		first, step = res.Rows/2, 7
	}
	for i := int64(0); i < int64(deletes); i++ {
		if err := execPG(ctx, dsn, fmt.Sprintf("DELETE FROM %s.%s WHERE id = %d", schema, Table, first+i*step)); err != nil {
			return nil, err
		}
		res.Deleted++
	}

	before, start := src.BytesRead(), time.Now()
	sum, err = e.Run(ctx, litepull.RunOptions{Drain: true, Reconcile: true})
	if err != nil || sum.Failed() > 0 {
		return nil, fmt.Errorf("reconcile: %v %v", err, sum.Tables)
	}
	res.ReconcileTime, res.ReconcileBytes = time.Since(start), src.BytesRead()-before
	res.Found = sum.Tables[0].RowsDeleted

	// The naive way: every key, page by page.
	schemaDesc, err := src.Describe(ctx, Table)
	if err != nil {
		return nil, err
	}
	before, start = src.BytesRead(), time.Now()
	req := litepull.PageRequest{Schema: schemaDesc, Columns: []string{"id"}, Cursor: "id", Limit: pageSize}
	for {
		page, err := src.ReadPage(ctx, req)
		if err != nil {
			return nil, err
		}
		if len(page.Rows) < pageSize {
			break
		}
		req.After = &litepull.Watermark{Cursor: page.Rows[len(page.Rows)-1][0]}
	}
	res.ScanTime, res.ScanBytes = time.Since(start), src.BytesRead()-before
	return res, nil
}
