package sqlitestore

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// index is an index of one of the store's tables as the file's schema has
// it.
type index struct {
	table string
	// create is the statement that made it; "" for the index of a table's
	// constraint (UNIQUE, a WITHOUT ROWID table's PRIMARY KEY).
	create          string
	unique, partial bool
	// columns are its key columns in order, each with its collation and
	// order where not the default ("stream_type COLLATE NOCASE").
	columns []string
}

// sameAs says whether ix serves as want does: on the same table and
// columns, as unique, and over every row.
func (ix index) sameAs(want index) bool {
	return strings.EqualFold(ix.table, want.table) && ix.unique == want.unique && !ix.partial && !want.partial &&
		slices.EqualFunc(ix.columns, want.columns, strings.EqualFold)
}

// keyColumns are the columns whose types the store relies on: the log's
// order and its guards (events.position the rowid), the ids and versions
// it compares as bytes and integers, and the data it returns byte for byte.
var keyColumns = []string{
	"events.position", "events.event_id", "events.stream_id", "events.stream_version", "events.data",
	"streams.stream_id", "log_head.position",
}

// unlike returns what of now is there but other than want makes it: a key
// column of another type, or one its indexes show compared otherwise (a
// collation the table declares), an index of the store's name on other columns
// (of another collation, partial, unique or not), a constraint's unique
// index gone; and the sqlite3 statements that make those indexes right.
// mendable is false where a column is unlike, which no statement mends.
// What now lacks is lacking's.
func unlike(want, now schema) (unlikes, mends []string, mendable bool) {
	mendable = true
	for _, c := range keyColumns {
		got, ok := now.types[c]
		if ok && got != want.types[c] {
			unlikes = append(unlikes, fmt.Sprintf("the column %s as %s, where the migrations make %s", c, got, want.types[c]))
			mendable = false
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want.indexes)) {
		w := want.indexes[name]
		if w.create == "" {
			// A constraint's: any index that is as unique, on the same
			// columns, guards as it does.
			if !slices.ContainsFunc(slices.Collect(maps.Values(now.indexes)), func(ix index) bool { return ix.sameAs(w) }) {
				columns := strings.Join(w.columns, ", ")
				unlikes = append(unlikes, fmt.Sprintf("no unique index on %s (%s), where the migrations make one: the guard against a duplicate", w.table, columns))
				mends = append(mends, fmt.Sprintf("CREATE UNIQUE INDEX %s_%s ON %s (%s)", w.table, strings.Join(w.columns, "_"), w.table, columns))
			}
			continue
		}
		got, ok := now.indexes[name]
		if !ok || got.sameAs(w) {
			continue
		}
		if strings.EqualFold(got.create, w.create) {
			// Made by the same statement, yet otherwise: its columns
			// compare as the table declares them (COLLATE NOCASE), which
			// no index mends. RTRIM compares byte for byte but for
			// trailing spaces, which no name holds: as BINARY does.
			for i, c := range got.columns {
				column, collation, _ := strings.Cut(c, " COLLATE ")
				if i >= len(w.columns) || strings.EqualFold(c, w.columns[i]) || collation == "" ||
					strings.EqualFold(c, w.columns[i]+" COLLATE RTRIM") {
					continue
				}
				said := fmt.Sprintf("the column %s.%s compared as", w.table, column)
				if !slices.ContainsFunc(unlikes, func(u string) bool { return strings.HasPrefix(u, said) }) {
					unlikes = append(unlikes, fmt.Sprintf("%s %s (as its index %s shows), where the migrations make BINARY", said, collation, name))
				}
				mendable = false
			}
			continue
		}
		made := got.create
		if made == "" {
			made = "an index of a constraint on " + got.table + " (" + strings.Join(got.columns, ", ") + ")"
		}
		unlikes = append(unlikes, fmt.Sprintf("the index %s as %s, where the migrations make %s", name, made, w.create))
		mends = append(mends, "DROP INDEX "+name+"; "+w.create)
	}
	return unlikes, mends, mendable
}

// unlikeError is the error of a file whose schema now is other than want
// (unlike), naming each difference and what mends it; nil if none is.
func unlikeError(path string, want, now schema) error {
	unlikes, mends, mendable := unlike(want, now)
	if len(unlikes) == 0 {
		return nil
	}
	msg := fmt.Sprintf("the database file %s has %s: changed (in an sqlite3 shell, or a file of another schema restored)? "+
		"the store's statements and guards rely on what the migrations make", path, strings.Join(unlikes, "; "))
	mend := fmt.Sprintf("sqlite3 %s %q", FileName, strings.Join(mends, "; "))
	switch {
	case mendable:
		return fmt.Errorf("%s: make it so with the server stopped, then try again: %s", msg, mend)
	case len(mends) > 0:
		return fmt.Errorf("%s: restore the file from a backup (a column's type is not changed in place, nor by a migration); an index alone is made right with %s",
			msg, mend)
	}
	return fmt.Errorf("%s: restore the file from a backup (a column's type is not changed in place, nor by a migration)", msg)
}
