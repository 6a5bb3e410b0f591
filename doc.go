// Package litepull keeps a local SQLite replica of tables that live in remote
// databases (Postgres, MySQL, SQLite files, libSQL/Turso, Cloudflare D1,
// StarbaseDB).
//
// The root package is the domain: configuration ([Config]), the [Source]
// interface every database implements, the [Replica] interface of the SQLite
// sink, and the [Engine] that moves one keyset page per table per tick from a
// source into the replica.
//
// The correctness contract the engine keeps:
//
//   - Tie-safe keyset paging: pages are ordered and bounded on the pair
//     (cursor, primary key), never on the cursor alone, so rows that share a
//     cursor value across a page boundary are never skipped.
//   - Atomic pages: a page's upserts and the new watermark commit in one SQLite
//     transaction. After a crash the replica holds either the old page state or
//     the new one.
//   - Late commits: an optional settle horizon (do not read timestamps newer
//     than source-now minus settle) and an optional lookback window re-read
//     when a table is caught up.
//   - NULL cursors are counted and reported, never silently dropped.
//   - Identifiers are checked against ^[A-Za-z_][A-Za-z0-9_]*$ before they touch
//     SQL; values are always bound parameters.
//   - An error on one table is recorded and reported; other tables keep running.
//
// Beyond incremental pulls, a table can be copied whole and swapped in
// atomically (mode: full), drop rows a soft-delete column marks, and have
// rows deleted at the source found by reconciling key-range counts and
// checksums (deletes: reconcile).
//
// Values travel between sources and the replica in SQLite's own domain: nil,
// int64, float64, string or []byte. Each source maps its types onto these
// losslessly (see [Column]).
package litepull
