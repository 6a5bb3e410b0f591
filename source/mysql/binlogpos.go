package mysql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/litepull/litepull"
)

// binlogPos is a place in a server's binlog: a file and the byte offset
// in it, the server it belongs to and, where the server has GTIDs, the
// GTID state reached there. Positions are written
// "file:offset@server;gtid=state", mariadb-bin.000012:4567@1;gtid=0-1-57:
// server is the server's @@server_uuid (MySQL) or @@server_id (MariaDB,
// which has no uuid), so that a file and offset recorded against another
// server (a failover, a rebuilt server) are not resumed from; the GTID
// state can be, on any server of the same replication topology (see
// binloggtid.go). Positions written before GTIDs were recorded
// ("file:offset@server") read as positions without a GTID state.
//
// Positions of one server are totally ordered by file, then offset;
// files by the number after their last dot (mariadb-bin.000009 before
// .000010, and .999999 before .1000000). Positions of different servers
// are ordered by their GTID states, where both have one.
type binlogPos struct {
	file   string
	offset uint64
	server string
	// gtid is the GTID state through the position, when hasGTID: "" is
	// the state of a server that has written no GTID yet.
	gtid    string
	hasGTID bool
}

const gtidMark = ";gtid="

func (p binlogPos) position() litepull.Position {
	s := p.file + ":" + strconv.FormatUint(p.offset, 10) + "@" + p.server
	if p.hasGTID {
		s += gtidMark + p.gtid
	}
	return litepull.Position(s)
}

func (p binlogPos) String() string {
	s := p.file + ":" + strconv.FormatUint(p.offset, 10)
	if p.hasGTID {
		s += " (GTID " + p.gtid + ")"
	}
	return s
}

// withGTID is p with the GTID state gtid.
func (p binlogPos) withGTID(gtid string) binlogPos {
	p.gtid, p.hasGTID = gtid, true
	return p
}

// parsePos reads a position as binlogPos.position writes it.
func parsePos(pos litepull.Position) (binlogPos, error) {
	s, gtid, hasGTID := strings.Cut(string(pos), gtidMark)
	at := strings.LastIndexByte(s, '@')
	colon := -1
	if at > 0 {
		colon = strings.LastIndexByte(s[:at], ':')
	}
	if colon < 1 {
		return binlogPos{}, fmt.Errorf("position %q is not a binlog position such as mariadb-bin.000012:4567@1", pos)
	}
	off, err := strconv.ParseUint(s[colon+1:at], 10, 64)
	if err != nil {
		return binlogPos{}, fmt.Errorf("position %q is not a binlog position such as mariadb-bin.000012:4567@1", pos)
	}
	if hasGTID && strings.TrimSpace(gtid) != "" {
		if _, err := gtidContains(gtid, gtid); err != nil {
			return binlogPos{}, fmt.Errorf("position %q: %w", pos, err)
		}
	}
	return binlogPos{file: s[:colon], offset: off, server: s[at+1:], gtid: gtid, hasGTID: hasGTID}, nil
}

// before reports p < q: by file and offset on one server, by GTID state
// across servers; positions of different servers without GTID states
// are not ordered (false).
func (p binlogPos) before(q binlogPos) bool {
	if p.server != q.server {
		return p.hasGTID && q.hasGTID && gtidBefore(p.gtid, q.gtid)
	}
	if c := compareFiles(p.file, q.file); c != 0 {
		return c < 0
	}
	return p.offset < q.offset
}

// compareFiles orders binlog file names by base name, then by the number
// after the last dot.
func compareFiles(a, b string) int {
	ab, an, aok := splitFile(a)
	bb, bn, bok := splitFile(b)
	switch {
	case !aok || !bok || ab != bb:
		return strings.Compare(a, b)
	case an < bn:
		return -1
	case an > bn:
		return 1
	}
	return 0
}

// splitFile splits mariadb-bin.000012 into mariadb-bin and 12.
func splitFile(name string) (string, uint64, bool) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(name[dot+1:], 10, 64)
	return name[:dot], n, err == nil
}

// binlogFile is one line of SHOW BINARY LOGS.
type binlogFile struct {
	name string
	size int64
}

// bytesBetween is how many bytes of binlog lie from p to q, across files,
// by the files' sizes; 0 when q is not after p or on another server. A file no longer listed
// counts for nothing.
func bytesBetween(files []binlogFile, p, q binlogPos) int64 {
	if p.server != q.server || !p.before(q) {
		return 0
	}
	if p.file == q.file {
		return int64(q.offset - p.offset)
	}
	var n int64
	for _, f := range files {
		switch {
		case f.name == p.file:
			n += max(f.size-int64(p.offset), 0)
		case f.name == q.file:
			n += int64(q.offset)
		case compareFiles(p.file, f.name) < 0 && compareFiles(f.name, q.file) < 0:
			n += f.size
		}
	}
	return n
}

// totalSize is the size of every binlog file the server keeps.
func totalSize(files []binlogFile) int64 {
	var n int64
	for _, f := range files {
		n += f.size
	}
	return n
}

// lostError says why the stream cannot resume at p on a server whose
// identity is server and whose binlog files are files, if it cannot: the
// position is another server's (and carries no GTID state to find it by
// there), or its file was purged, or it lies past the end of its file
// (the binlog was reset).
func lostError(p binlogPos, server string, files []binlogFile) error {
	const lost = "the changes made since are lost to the replica"
	if p.server != server {
		why := "it carries no GTID state to find it by there (recorded before litepull kept GTIDs)"
		if p.hasGTID {
			why = "the source has no GTIDs to find it by (MySQL: gtid_mode = ON on every server of the topology)"
		}
		return fmt.Errorf("the replica's position %s was recorded against server %s, and the source is now server %s "+
			"(a failover, or a rebuilt server), and %s: %s", p, p.server, server, why, lost)
	}
	for _, f := range files {
		if f.name == p.file {
			if int64(p.offset) > f.size {
				return fmt.Errorf("the replica's position %s lies past the end of binlog file %s (%d bytes): the binlog was reset (RESET MASTER?): %s",
					p, f.name, f.size, lost)
			}
			return nil
		}
	}
	oldest := "none"
	if len(files) > 0 {
		oldest = files[0].name
	}
	return fmt.Errorf("binlog file %s, where the replica's position %s lies, was purged at the source (its oldest is %s): %s; "+
		"keep binlogs longer than litepull may be stopped (binlog_expire_logs_seconds, expire_logs_days; "+
		"on RDS: CALL mysql.rds_set_configuration('binlog retention hours', 168))", p.file, p, oldest, lost)
}

// gtidLostError says why a stream cannot resume by GTID from state,
// recorded against another server, on a server whose binlog holds the
// transactions after purged up to executed (gtidHolds), if it cannot: the
// server lacks transactions the replica holds (it is behind the old one,
// or diverged from it), or it purged ones the replica lacks.
func gtidLostError(p binlogPos, server, executed, purged string) error {
	if ok, err := gtidHolds(executed, p.gtid); err != nil || !ok {
		return fmt.Errorf("the replica's position %s was recorded against server %s, and the source is now server %s, which lacks "+
			"transactions the replica holds (its GTID state is %q): it is behind the server the replica followed, or its history "+
			"diverged from it, so the replica would keep rows the source never had", p, p.server, server, executed)
	}
	if ok, err := gtidContains(p.gtid, purged); err != nil || !ok {
		return fmt.Errorf("the replica's position %s was recorded against server %s, and the source is now server %s, which purged "+
			"binlog the replica still needs (its binlog begins after GTIDs %q): the changes made since are lost to the replica", p, p.server, server, purged)
	}
	return nil
}
