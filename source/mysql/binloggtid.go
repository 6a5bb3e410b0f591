package mysql

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/google/uuid"
)

// GTIDs name transactions across a replication topology, where binlog
// files and offsets name places in one server's binlog only. A position
// that carries the GTID state reached there can be resumed from on any
// server of the topology (after a failover).
//
// The state is written as the server writes it: on MariaDB a GTID
// position, the last GTID of each replication domain ("0-1-57,1-2-9",
// @@gtid_binlog_pos); on MySQL a GTID set ("3e11fa47-…:1-57",
// @@gtid_executed). A MySQL set always holds a ':', a MariaDB position
// never does.

// mariaGTID is one MariaDB GTID: domain, server, sequence number.
type mariaGTID struct{ domain, server, seq uint64 }

// parseMariaGTID reads "0-1-57".
func parseMariaGTID(s string) (mariaGTID, error) {
	parts := strings.Split(strings.TrimSpace(s), "-")
	if len(parts) != 3 {
		return mariaGTID{}, fmt.Errorf("GTID %q is not domain-server-sequence", s)
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return mariaGTID{}, fmt.Errorf("GTID %q is not domain-server-sequence", s)
		}
		n[i] = v
	}
	return mariaGTID{n[0], n[1], n[2]}, nil
}

// mariaPos is a MariaDB GTID position: the last GTID of each domain.
type mariaPos map[uint64]mariaGTID

func parseMariaPos(s string) (mariaPos, error) {
	p := mariaPos{}
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	for _, g := range strings.Split(s, ",") {
		gt, err := parseMariaGTID(g)
		if err != nil {
			return nil, err
		}
		if old, dup := p[gt.domain]; dup && old.seq > gt.seq {
			continue
		}
		p[gt.domain] = gt
	}
	return p, nil
}

func (p mariaPos) String() string {
	domains := make([]uint64, 0, len(p))
	for d := range p {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	out := make([]string, len(domains))
	for i, d := range domains {
		g := p[d]
		out[i] = fmt.Sprintf("%d-%d-%d", g.domain, g.server, g.seq)
	}
	return strings.Join(out, ",")
}

// contains reports whether every domain of q is in p at q's sequence
// number or later.
func (p mariaPos) contains(q mariaPos) bool {
	for d, g := range q {
		if h, ok := p[d]; !ok || h.seq < g.seq {
			return false
		}
	}
	return true
}

func isMySQLGTID(s string) bool { return strings.Contains(s, ":") }

// gtidAdd is the GTID state set after the transaction gtid ("0-1-58", or
// "uuid:58").
func gtidAdd(set, gtid string) (string, error) {
	if isMySQLGTID(gtid) {
		s, err := gomysql.ParseMysqlGTIDSet(set)
		if err != nil {
			return "", fmt.Errorf("GTID set %q: %w", set, err)
		}
		if err := s.Update(gtid); err != nil {
			return "", fmt.Errorf("GTID %q: %w", gtid, err)
		}
		return s.String(), nil
	}
	p, err := parseMariaPos(set)
	if err != nil {
		return "", err
	}
	g, err := parseMariaGTID(gtid)
	if err != nil {
		return "", err
	}
	p[g.domain] = g
	return p.String(), nil
}

// gtidContains reports whether the GTID state a holds every transaction
// b holds. States of different kinds (MariaDB and MySQL) hold nothing of
// each other.
func gtidContains(a, b string) (bool, error) {
	if strings.TrimSpace(b) == "" {
		return true, nil
	}
	if isMySQLGTID(a) || isMySQLGTID(b) {
		sa, err := gomysql.ParseMysqlGTIDSet(a)
		if err != nil {
			return false, fmt.Errorf("GTID set %q: %w", a, err)
		}
		sb, err := gomysql.ParseMysqlGTIDSet(b)
		if err != nil {
			return false, fmt.Errorf("GTID set %q: %w", b, err)
		}
		return sa.Contain(sb), nil
	}
	pa, err := parseMariaPos(a)
	if err != nil {
		return false, err
	}
	pb, err := parseMariaPos(b)
	if err != nil {
		return false, err
	}
	return pa.contains(pb), nil
}

// gtidHolds reports whether a server whose GTID state is state (MariaDB's
// @@gtid_binlog_state, the last GTID of each domain and server; MySQL's
// @@gtid_executed) has in its binlog every transaction of the GTID state
// pos. On MariaDB a domain's sequence numbers alone do not say that: a
// server that diverged (a former primary, a replica promoted before it
// caught up) writes the same numbers as another server, so the server
// must hold pos's GTID of each domain from the server that wrote it, as
// MariaDB itself requires to start sending the binlog there.
func gtidHolds(state, pos string) (bool, error) {
	if isMySQLGTID(state) || isMySQLGTID(pos) {
		return gtidContains(state, pos)
	}
	want, err := parseMariaPos(pos)
	if err != nil {
		return false, err
	}
	have := map[[2]uint64]uint64{} // (domain, server): last sequence number
	if strings.TrimSpace(state) != "" {
		for _, s := range strings.Split(state, ",") {
			g, err := parseMariaGTID(s)
			if err != nil {
				return false, err
			}
			have[[2]uint64{g.domain, g.server}] = max(have[[2]uint64{g.domain, g.server}], g.seq)
		}
	}
	for _, g := range want {
		if seq, ok := have[[2]uint64{g.domain, g.server}]; !ok || seq < g.seq {
			return false, nil
		}
	}
	return true, nil
}

// sameMariaPos reports whether the MariaDB GTID positions a and b are
// one (the same GTID in each domain, whatever the order); positions it
// cannot read are taken as the same.
func sameMariaPos(a, b string) bool {
	pa, err1 := parseMariaPos(a)
	pb, err2 := parseMariaPos(b)
	return err1 != nil || err2 != nil || maps.Equal(pa, pb)
}

// validGTID reports whether s is a GTID state this package reads (MySQL's
// tagged GTIDs are not).
func validGTID(s string) bool {
	_, err := gtidContains(s, s)
	return err == nil
}

// gtidBefore reports a < b: b holds every transaction of a, and more.
func gtidBefore(a, b string) bool {
	ab, err1 := gtidContains(b, a)
	ba, err2 := gtidContains(a, b)
	return err1 == nil && err2 == nil && ab && !ba
}

// mysqlGTID is a MySQL GTID event's transaction as "uuid:gno", or "" for
// an anonymous transaction (gtid_mode OFF) or a tagged GTID (MySQL 8.4),
// which the set's text cannot carry here.
func mysqlGTID(sid []byte, tag string, gno int64) string {
	u, err := uuid.FromBytes(sid)
	if err != nil || u == (uuid.UUID{}) || tag != "" || gno <= 0 {
		return ""
	}
	return u.String() + ":" + strconv.FormatInt(gno, 10)
}

// startSet is the GTID state as go-mysql sends it to start a binlog dump
// by GTID.
func startSet(gtid string) (gomysql.GTIDSet, error) {
	if isMySQLGTID(gtid) {
		return gomysql.ParseMysqlGTIDSet(gtid)
	}
	return gomysql.ParseMariadbGTIDSet(gtid)
}
