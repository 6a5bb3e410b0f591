package streamtest_test

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/litepull/litepull"
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
	file := replicaFile(t)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	for i := range 2 {
		db := myConnect(t, my)
		wg.Add(1)
		go func() {
			defer wg.Done()
			written.Add(int64(myWriteRandomly(t, db, uint64(100+i), stop)))
		}()
	}
	rng := rand.New(rand.NewPCG(9, 9))
	consistentReads := 0
	for i := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=1", envKind+"=mysql", envDSN+"="+my.DSN, envServerID+"="+serverID, envFile+"="+file)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(30+rng.IntN(700)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if status, ok := exitStatus(err); !ok || !status.Signaled() {
			t.Fatalf("child %d: %v; want it killed", i, err)
		}
		if ok, sum := moneyAfterKill(t, file); ok {
			consistentReads++
			if sum != totalMoney {
				t.Fatalf("after kill %d the replica shows half a source transaction: the accounts sum to %d, want %d", i, sum, totalMoney)
			}
		}
	}
	close(stop)
	wg.Wait()
	e, _ := engine(t, file, cfg)
	for try := 0; ; try++ {
		s, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
		if err == nil && s.Failed() == 0 {
			for _, r := range s.Tables {
				t.Logf("final run: %s: %d rows, copied again %v", r.Table, r.RowsPulled, r.FullRefresh)
			}
			break
		}
		if try == 50 {
			t.Fatalf("final run: %v %+v", err, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, q := range moneyQueries {
		mySameRows(t, my, file, q)
	}
	t.Logf("%d source transactions; %d of 20 kills left both account tables to check", written.Load(), consistentReads)
}
