package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/tributary-dev/tributary/internal/config"
)

// poolShare is a pool of the store's, named for what it serves, and how
// many sessions it may hold at once.
type poolShare struct {
	what     string
	sessions int
	reads    bool // the clients' reads' pool, sized by TRIBUTARY_MYSQL_MAX_CONNS
}

// warnConnectionLimits warns, once as the store opens, where a server's
// max_connections, or the DSN's user's max_user_connections (the account's
// own limit, where it has one: the session's value), is below the sessions
// one instance's pools may hold on it at once. The start goes well, and
// /readyz says 200, on the few sessions they open at first; under load, a
// request that needs one more is refused ("Too many connections", 1040 or
// 1203: a 503). What fails to read the limits is not warned of: the check
// only says.
func (s *Store) warnConnectionLimits(ctx context.Context) {
	reads := poolShare{"for reads (" + config.Var("MySQLMaxConns") + ")", s.reads.Stats().MaxOpenConnections, true}
	primary := []poolShare{
		{"the writer's", s.writes.Stats().MaxOpenConnections, false},
		{"the live feed's and /readyz's", s.primary.Stats().MaxOpenConnections, false},
		{"the lock holder search's", s.probe.Stats().MaxOpenConnections, false},
	}
	if s.galera != nil {
		primary = append(primary, poolShare{"the Galera cluster's watch", 1, false}) // a probe on each node (openProbes)
	} else {
		// Its ping's session, and a new one for a second opinion on a
		// ping past its bound (sqlstore's stall watch).
		primary = append(primary, poolShare{"the stall watch's", 2, false})
	}
	if s.replica == nil {
		s.warnConnectionLimit(ctx, s.primary, s.Node(), append([]poolShare{reads}, primary...))
		return
	}
	primary[1].what = "the durability checks' and /readyz's"
	s.warnConnectionLimit(ctx, s.primary, s.Node(), primary)
	s.warnConnectionLimit(ctx, s.feed, s.replica.Addr, []poolShare{reads,
		{"the live feed's and /readyz's", s.feed.Stats().MaxOpenConnections, false},
		{"the read replica's stall watch's", 2, false}}) // its own, as the primary's
}

// warnConnectionLimit warns, once, where the server db is on, at addr,
// cannot hold the sessions of shares (warnConnectionLimits).
func (s *Store) warnConnectionLimit(ctx context.Context, db *sql.DB, addr string, shares []poolShare) {
	need := 0
	var parts []string
	readsHere := false
	for _, p := range shares {
		need += p.sessions
		parts = append(parts, fmt.Sprintf("%d %s", p.sessions, p.what))
		readsHere = readsHere || p.reads
	}
	var maxConns, maxUser int64
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.max_connections, @@SESSION.max_user_connections").Scan(&maxConns, &maxUser); err != nil {
		s.log.Debug("the server's connection limits could not be read", "server", addr, "error", err)
		return
	}
	limit, name, whose := maxConns, "max_connections", "the server's"
	if maxUser > 0 && maxUser < maxConns {
		limit, name, whose = maxUser, "max_user_connections", "the DSN's user's"
	}
	if int64(need) <= limit {
		return
	}
	lower := ""
	if readsHere {
		lower = ", or lower " + config.Var("MySQLMaxConns")
	}
	s.log.Warn(fmt.Sprintf("%s %s (%d) cannot hold the sessions one instance may hold at once on this server (%d: %s): under load, requests that need one more "+
		"are refused, 503 (Too many connections); raise %s to at least %d for each instance, and what other clients hold besides%s",
		whose, name, limit, need, strings.Join(parts, ", "), name, need, lower),
		"server", addr, "variable", name, "limit", limit, "sessions", need)
}
