// Package streamtest holds the end-to-end tests of change streams against
// the machine's real Postgres and MariaDB: concurrent writers and a reader
// that checks the replica only ever shows whole source transactions,
// kill -9 at random points, and polling and streaming giving identical
// rows.
package streamtest
