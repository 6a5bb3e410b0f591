package streamtest_test

import (
	"strconv"
	"testing"

	"github.com/litepull/litepull/internal/testdb"
)

// TestMySQLStreamKill9 kills a process streaming a MySQL/MariaDB binlog
// 20 times at random points (during the first copy, during re-copies,
// while applying) while writers run; after every kill the replica shows
// whole source transactions only, and at the end it equals the source.
func TestMySQLStreamKill9(t *testing.T) {
	my := testdb.MySQL(t)
	myMoney(t, my, 1000, 30000)
	serverID := strconv.FormatUint(uint64(testServerID()), 10)
	cfg := myChildConfig(my.DSN, serverID)
	var writers []func(stop <-chan struct{}) int
	for seed := range uint64(2) {
		db := myConnect(t, my)
		writers = append(writers, func(stop <-chan struct{}) int { return myWriteRandomly(t, db, seed+100, stop) })
	}
	childEnv := []string{envKind + "=mysql", envDSN + "=" + my.DSN, envServerID + "=" + serverID}
	killRepeatedly(t, cfg, childEnv, writers, func(file, q string) { mySameRows(t, my, file, q) })
}
