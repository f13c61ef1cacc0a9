package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"
)

// MySQL DDL commits by itself: goose runs a migration's statement, then
// records its version. A start stopped between the two (the start-up
// timeout, a signal, a kill, a lost connection, or a statement the server
// went on with after its client left) left the schema changed and the
// change unrecorded, and every later start ran the statement again and
// failed for good ("Table … already exists", "Duplicate key name …").
// Each MySQL migration therefore says how to see that what it does is in
// the database already (mysqlDone), and a start records such a migration
// rather than running it again. The looks read information_schema, on
// MySQL and MariaDB alike, and hold for the migration's schema and every
// later one's: tables restored from a dump of a later schema into an empty
// database are recorded as they are. A table's look requires its keys as
// well as its columns: tables restored without them (CREATE TABLE …
// SELECT) are Tributary's with the store's guards gone, and are refused.

// mysqlDone says, for each MySQL migration's version, whether what it does
// is in the database already.
var mysqlDone = map[int64]func(context.Context, *sql.DB) (bool, error){
	1:  ourTableLook("streams", mysqlKeys[1]),
	2:  ourTableLook("events", mysqlKeys[2]),
	3:  ourTableLook("log_head", mysqlKeys[3]),
	4:  rowExists("SELECT EXISTS (SELECT 1 FROM log_head WHERE id = 1)"),
	5:  ourTableLook("durability_fence", mysqlKeys[5]),
	6:  rowExists("SELECT EXISTS (SELECT 1 FROM durability_fence WHERE id = 1)"),
	7:  columnsExist("events", "batch_size"),
	8:  columnsExist("log_head", "recorded_at"),
	9:  ourTableLook("writer_lease", mysqlKeys[9]),
	10: anyOf(columnsExist("log_head", "last_event_id"), columnsExist("log_head", "commit_id")), // 11 renames it
	11: func(ctx context.Context, db *sql.DB) (bool, error) {
		renamed, err := columnsExist("log_head", "commit_id")(ctx, db)
		if err != nil || !renamed {
			return false, err
		}
		old, err := columnsExist("log_head", "last_event_id")(ctx, db)
		return !old, err
	},
	12: func(ctx context.Context, db *sql.DB) (bool, error) { // one ALTER drops both, or neither
		left, err := columnsExist("streams", "version")(ctx, db)
		return !left, err
	},
	13: keyMade(13, mysqlKeys[13][0]),
}

// mysqlKeys are the keys each MySQL migration makes, by version. No later
// migration drops or changes one, so each is in every later schema: a
// look (mysqlDone) requires its migration's, and a start requires them all
// (CheckKeysMySQL).
var mysqlKeys = map[int64][]mysqlKey{
	1: {
		{table: "streams", name: "PRIMARY", unique: true, columns: []string{"stream_id"}},
		{table: "streams", name: "streams_type_id", columns: []string{"stream_type", "stream_id"}},
	},
	2: {
		{table: "events", name: "PRIMARY", unique: true, columns: []string{"position"}},
		{table: "events", name: "events_stream_version", unique: true, columns: []string{"stream_id", "stream_version"}},
		{table: "events", name: "events_event_id", unique: true, columns: []string{"event_id"}},
		{table: "events", name: "events_stream_type_position", columns: []string{"stream_type", "position"}},
		{table: "events", name: "events_event_type_position", columns: []string{"event_type", "position"}},
	},
	3:  {{table: "log_head", name: "PRIMARY", unique: true, columns: []string{"id"}}},
	5:  {{table: "durability_fence", name: "PRIMARY", unique: true, columns: []string{"id"}}},
	9:  {{table: "writer_lease", name: "PRIMARY", unique: true, columns: []string{"id"}}},
	13: {{table: "events", name: "events_stream_type_event_type_position", columns: []string{"stream_type", "event_type", "position"}}},
}

// mysqlKey is a key of a table: its name (PRIMARY for the primary key),
// unique or not, and its columns in order ("c(n)" for a prefix of c).
type mysqlKey struct {
	table, name string
	unique      bool
	columns     []string
	// hidden is, for a key the optimizer does not use (and a statement that
	// names it fails on), the information_schema.STATISTICS column that says
	// so: IGNORED (MariaDB 10.6+) or IS_VISIBLE (MySQL 8's INVISIBLE); "" for
	// a key in use.
	hidden string
}

// String is the key as CREATE TABLE writes it.
func (k mysqlKey) String() string {
	columns := "(" + strings.Join(k.columns, ", ") + ")"
	switch {
	case k.name == "PRIMARY":
		return "PRIMARY KEY " + columns
	case k.unique:
		return "UNIQUE KEY " + k.name + " " + columns + k.hiddenWord()
	}
	return "KEY " + k.name + " " + columns + k.hiddenWord()
}

// hiddenWord is how CREATE TABLE writes a key k.hidden says is not used.
func (k mysqlKey) hiddenWord() string {
	switch k.hidden {
	case "IGNORED":
		return " IGNORED"
	case "IS_VISIBLE":
		return " INVISIBLE"
	}
	return ""
}

// keyLack is what one key of want lacks in a table: the key itself, or
// the key as want has it (there under its name, on other columns or unique
// otherwise).
type keyLack struct {
	want mysqlKey
	got  *mysqlKey // nil: no key of that name
}

// String names the lack, for an error.
func (l keyLack) String() string {
	if l.got == nil {
		return "its " + l.want.String()
	}
	return fmt.Sprintf("its %s (it has %s)", l.want, l.got)
}

// mend is the ALTER TABLE clause that makes the key as want has it.
func (l keyLack) mend() string {
	add := "ADD " + l.want.String()
	switch {
	case l.got == nil:
		return add
	case l.got.hidden == "IGNORED" && l.got.sameAs(l.want):
		return "ALTER INDEX " + l.want.name + " NOT IGNORED"
	case l.got.hidden == "IS_VISIBLE" && l.got.sameAs(l.want):
		return "ALTER INDEX " + l.want.name + " VISIBLE"
	case l.want.name == "PRIMARY":
		return "DROP PRIMARY KEY, " + add
	}
	return "DROP KEY " + l.want.name + ", " + add
}

// sameAs says whether k is on want's columns, as unique.
func (k mysqlKey) sameAs(want mysqlKey) bool {
	return k.unique == want.unique && slices.EqualFunc(k.columns, want.columns, strings.EqualFold)
}

// lackingKeys returns what of want (keys of table) has lacks, and the
// ALTER TABLE that mends them ("" if none).
func lackingKeys(table string, want []mysqlKey, has map[string]mysqlKey) (lacks []keyLack, alter string) {
	var clauses []string
	for _, w := range want {
		got, ok := has[strings.ToLower(w.name)]
		switch {
		case !ok:
			lacks = append(lacks, keyLack{want: w})
		case !got.sameAs(w) || got.hidden != "":
			lacks = append(lacks, keyLack{want: w, got: &got})
		default:
			continue
		}
		clauses = append(clauses, lacks[len(lacks)-1].mend())
	}
	if len(clauses) == 0 {
		return nil, ""
	}
	return lacks, "ALTER TABLE " + table + " " + strings.Join(clauses, ", ")
}

// readKeys reads the keys of those of tables that db has, by table and
// lower-cased key name: a table there without a key has an empty map, a
// table not there none. hidden is the column of information_schema.STATISTICS
// that says a key is not used (mysqlKey.hidden), "" to read none.
func readKeys(ctx context.Context, db *sql.DB, hidden string, tables ...string) (map[string]map[string]mysqlKey, error) {
	unused := "FALSE"
	switch hidden {
	case "IGNORED":
		unused = "s.IGNORED = 'YES'"
	case "IS_VISIBLE":
		unused = "s.IS_VISIBLE = 'NO'"
	}
	// A LEFT JOIN: a table without a single key is there all the same.
	q := "SELECT t.table_name, s.index_name, s.non_unique, s.column_name, s.sub_part, IFNULL(" + unused + ", FALSE) FROM information_schema.tables t " +
		"LEFT JOIN information_schema.statistics s ON s.table_schema = t.table_schema AND s.table_name = t.table_name " +
		"WHERE t.table_schema = DATABASE() AND t.table_name IN (?" + strings.Repeat(", ?", len(tables)-1) + ") " +
		"ORDER BY t.table_name, s.index_name, s.seq_in_index"
	args := make([]any, len(tables))
	for i, t := range tables {
		args[i] = t
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read the keys of %s: %w", strings.Join(tables, ", "), err)
	}
	defer rows.Close()
	keys := map[string]map[string]mysqlKey{}
	for rows.Next() {
		var table string
		var name, column sql.NullString
		var nonUnique, prefix sql.NullInt64
		var unusedKey bool
		if err := rows.Scan(&table, &name, &nonUnique, &column, &prefix, &unusedKey); err != nil {
			return nil, fmt.Errorf("read the keys of %s: %w", strings.Join(tables, ", "), err)
		}
		table = strings.ToLower(table)
		if keys[table] == nil {
			keys[table] = map[string]mysqlKey{}
		}
		if !name.Valid {
			continue
		}
		c := column.String
		switch {
		case !column.Valid:
			c = "(an expression)" // MySQL 8's functional key part: none of the store's
		case prefix.Valid:
			c = fmt.Sprintf("%s(%d)", c, prefix.Int64)
		}
		k := keys[table][strings.ToLower(name.String)]
		k.table, k.name, k.unique = table, name.String, nonUnique.Int64 == 0
		k.columns = append(k.columns, c)
		if unusedKey {
			k.hidden = hidden
		}
		keys[table][strings.ToLower(name.String)] = k
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the keys of %s: %w", strings.Join(tables, ", "), err)
	}
	return keys, nil
}

// keylessAdvice says what tables found without their keys may be, and
// why they matter; an error naming the statement that adds them ends with it.
const keylessAdvice = "tables restored without their keys (CREATE TABLE … SELECT, or a loader that adds them after the rows)? " +
	"the store needs them: the unique keys are the last guard against a duplicated position, stream version or event id, " +
	"and without the others its reads and locks scan whole tables"

// ourTableLook is true if table is in the database with each of its columns
// (ourTables: those it has had in every schema) and each of keys, and an
// error if it is there without one of them: another application's table of
// that name (a DSN naming the wrong database; refuseForeign finds it before
// the first migration, this look if it came meanwhile) is not taken for
// Tributary's, and the start fails saying so; nor is Tributary's
// table restored without its keys, and the start fails naming them and the
// ALTER TABLE that adds them (a migration recorded is never looked at again).
func ourTableLook(table string, keys []mysqlKey) func(context.Context, *sql.DB) (bool, error) {
	exists := rowExists(fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '%s')", table))
	return func(ctx context.Context, db *sql.DB) (bool, error) {
		if ok, err := exists(ctx, db); err != nil || !ok {
			return false, err
		}
		for _, c := range columnsOf("mysql", table) {
			ok, err := columnsExist(table, c)(ctx, db)
			if err != nil {
				return false, err
			}
			if !ok {
				return false, foreignTable("mysql", table, c, false)
			}
		}
		has, err := readKeys(ctx, db, "", table)
		if err != nil {
			return false, err
		}
		if lacks, alter := lackingKeys(table, keys, has[table]); len(lacks) > 0 {
			return false, fmt.Errorf("the database has a table named %s with Tributary's columns but without %s: %s; "+
				"restore the table with its keys, or add them, then start again: %s", table, joinLacks(lacks), keylessAdvice, alter)
		}
		return true, nil
	}
}

// CheckKeysMySQL returns an error naming each key the MySQL migrations
// make that db's tables lack (or have otherwise: on other columns, unique
// or not, or there but IGNORED or INVISIBLE), with the ALTER TABLE
// statements that make them, table by table in order of name; failing
// that, one naming each key column (mysqlColumns) of another type and
// each table not in InnoDB, with the ALTER TABLE statements that make them
// so (unlikeTypes); nil if nothing differs. Migrations recorded are not
// looked at again, so a key dropped while the service was stopped, or
// tables restored without theirs along with the version table, is found
// only here: call it after ApplyMySQL. A table not there is not looked at
// (the store's own statements name it). The error of the look at the keys
// (information_schema not read) wraps the driver's; a failure of the look
// at the types, engines and keys in use that says it cannot run on this
// server (cannotRunHere) is logged to log at WARN, and those go
// unchecked; any other is returned.
func CheckKeysMySQL(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	want := map[string][]mysqlKey{}
	for _, version := range slices.Sorted(maps.Keys(mysqlKeys)) {
		for _, k := range mysqlKeys[version] {
			want[k.table] = append(want[k.table], k)
		}
	}
	tables := slices.Sorted(maps.Keys(want))
	shape, err := readColumnTypes(ctx, db)
	if err != nil {
		// The look guards against a schema changed by hand; a server on
		// which its statements cannot run (information_schema otherwise
		// than MariaDB's and MySQL 8's, a proxy's query rule) must not
		// refuse every start for it. Any other failure (a session lost,
		// too many connections, a lock wait) is passing: the start fails
		// with it, and is retried, rather than go on unguarded.
		if ctx.Err() != nil || !cannotRunHere(err) {
			return err
		}
		log.Warn("could not read the types of the store's key columns, the engines of its tables or which of its keys are in use: "+
			"the start goes on without checking them (the keys are still checked, but not whether one is IGNORED or INVISIBLE)", "error", err)
		shape = tableShape{}
	}
	has, err := readKeys(ctx, db, shape.hidden, tables...)
	if err != nil {
		return err
	}
	var lacks, alters []string
	for _, table := range tables {
		keys, ok := has[table]
		if !ok {
			continue
		}
		if l, alter := lackingKeys(table, want[table], keys); alter != "" {
			lacks = append(lacks, table+" lacks "+joinLacks(l))
			alters = append(alters, alter)
		}
	}
	if len(alters) == 0 {
		return unlikeTypes(shape)
	}
	return fmt.Errorf("the database's tables lack keys the migrations make, though %s records every migration as applied: %s; "+
		"dropped (or made IGNORED or INVISIBLE) while the service was stopped, or %s; restore the tables with their keys, or add them, then start again: %s",
		VersionTable, strings.Join(lacks, "; "), keylessAdvice, strings.Join(alters, "; "))
}

// mysqlColumn is a column whose type the store relies on, as the MySQL
// migrations make it: its data type (information_schema's DATA_TYPE), its
// length in bytes where that is compared, its collation where that is,
// and its definition.
type mysqlColumn struct {
	table, name, dataType string
	length                int64
	collation             string
	definition            string
}

// mysqlColumns are the columns whose types the store relies on: the log's
// order and the versions it counts up (BIGINT: an INT ends at 2^31), the
// ids it compares as 16 bytes, the types' names it filters on, and the
// data it keeps byte for byte up to its limit (a BLOB ends at 64 KiB). No
// migration changes one. The types' names are compared byte for byte
// (utf8mb4_bin, or another utf8mb4 _bin collation: sameAs): under a
// collation without regard to case, a read of type "Order" returns
// "order"'s events too.
var mysqlColumns = []mysqlColumn{
	{"events", "position", "bigint", 0, "", "BIGINT NOT NULL"},
	{"events", "event_id", "binary", 16, "", "BINARY(16) NOT NULL"},
	{"events", "stream_id", "binary", 16, "", "BINARY(16) NOT NULL"},
	{"events", "stream_version", "bigint", 0, "", "BIGINT NOT NULL"},
	{"events", "stream_type", "varchar", 0, "utf8mb4_bin", "VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"},
	{"events", "event_type", "varchar", 0, "utf8mb4_bin", "VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"},
	{"events", "data", "longblob", 0, "", "LONGBLOB NOT NULL"},
	{"log_head", "position", "bigint", 0, "", "BIGINT NOT NULL"},
	{"streams", "stream_id", "binary", 16, "", "BINARY(16) NOT NULL"},
	{"streams", "stream_type", "varchar", 0, "utf8mb4_bin", "VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"},
}

// String is the type as information_schema's COLUMN_TYPE writes it, with
// its collation where that is compared.
func (c mysqlColumn) String() string {
	t, _, _ := strings.Cut(strings.ToLower(c.definition), " ")
	if c.collation != "" {
		t += " COLLATE " + c.collation
	}
	return t
}

// sameAs says whether got is of c's type (and collation, where compared).
// Any utf8mb4 collation that compares byte for byte (_bin: MariaDB's
// utf8mb4_nopad_bin, MySQL 8's utf8mb4_0900_bin) serves as c's: the names
// the store writes hold no trailing space, the one thing PAD changes.
// Others, which compare without regard to case or accents (_ci, _ai), or
// by language rules, do not.
func (c mysqlColumn) sameAs(got columnType) bool {
	return got.dataType == c.dataType && (c.length == 0 || got.length == c.length) &&
		(c.collation == "" || strings.EqualFold(got.collation, c.collation) || byteWise(got.collation))
}

// byteWise says whether collation is a utf8mb4 collation that compares
// byte for byte.
func byteWise(collation string) bool {
	collation = strings.ToLower(collation)
	return strings.HasPrefix(collation, "utf8mb4_") && strings.HasSuffix(collation, "_bin")
}

// columnType is a column's type as found: its DATA_TYPE, length in bytes
// (0 where it has none), COLUMN_TYPE and COLLATION_NAME ("" where none).
type columnType struct {
	dataType, columnType, collation string
	length                          int64
}

// mysqlTables are the store's tables, which the migrations make in InnoDB:
// the appends' transactions and row locks, and Galera's replication, need
// it (MyISAM, say, takes them and does nothing).
var mysqlTables = []string{"durability_fence", "events", "log_head", "streams", "writer_lease"}

// tableShape is what readColumnTypes finds of the store's tables.
type tableShape struct {
	types   map[string]columnType // by "table.column", of mysqlColumns
	engines map[string]string     // by table, of mysqlTables
	// hidden is the column of information_schema.STATISTICS that says a
	// key is not used (mysqlKey.hidden); "" on older servers, which use
	// every key.
	hidden string
}

// readColumnTypes reads the types of db's key columns (mysqlColumns), the
// engines of its tables (mysqlTables), and which column of
// information_schema.STATISTICS says a key is not used: "IGNORED"
// (MariaDB 10.6+), "IS_VISIBLE" (MySQL 8), or none. Each is a statement of
// its own over one information_schema table, with no UNION: the collations
// of information_schema's columns differ between MySQL 8 and MariaDB, and
// between its tables, and a UNION of them may fail ("Illegal mix of
// collations for operation 'UNION'"). Each names its schema and tables, so
// that none opens another database's.
// cannotRunHere reports whether err is the server's answer that a look at
// information_schema cannot run on it, whenever tried: a syntax or an
// unknown column or table (another server's information_schema), a mix
// of collations, access to it denied, or a proxy's rule refusing it
// (ProxySQL answers 1148).
func cannotRunHere(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1064, // syntax
		1054, 1146, 1109, // unknown column, table, table in information_schema
		1267, 1270, 1271, // illegal mix of collations
		1044, 1142, 1143, // access denied to the database, a table, a column
		1148: // a command not allowed (a proxy's query rule)
		return true
	}
	return false
}

func readColumnTypes(ctx context.Context, db *sql.DB) (tableShape, error) {
	var columns []string
	for _, c := range mysqlColumns {
		if !slices.Contains(columns, c.name) {
			columns = append(columns, c.name)
		}
	}
	tables := "('" + strings.Join(mysqlTables, "', '") + "')"
	shape := tableShape{types: map[string]columnType{}, engines: map[string]string{}}
	// each runs q and hands scan each row's columns.
	each := func(what, q string, scan func(rows *sql.Rows) error) error {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("read %s: %w", what, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		return nil
	}
	err := each("the types of the key columns", "SELECT table_name, column_name, data_type, column_type, IFNULL(collation_name, ''), IFNULL(character_octet_length, 0) "+
		"FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name IN "+tables+" AND column_name IN ('"+strings.Join(columns, "', '")+"')",
		func(rows *sql.Rows) error {
			var table, column string
			var t columnType
			if err := rows.Scan(&table, &column, &t.dataType, &t.columnType, &t.collation, &t.length); err != nil {
				return err
			}
			t.dataType = strings.ToLower(t.dataType)
			shape.types[strings.ToLower(table)+"."+strings.ToLower(column)] = t
			return nil
		})
	if err != nil {
		return tableShape{}, err
	}
	err = each("the tables' engines", "SELECT table_name, IFNULL(engine, '') FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN "+tables,
		func(rows *sql.Rows) error {
			var table, engine string
			if err := rows.Scan(&table, &engine); err != nil {
				return err
			}
			shape.engines[strings.ToLower(table)] = engine
			return nil
		})
	if err != nil {
		return tableShape{}, err
	}
	err = each("which keys are in use", "SELECT UPPER(column_name) FROM information_schema.columns "+
		"WHERE table_schema = 'information_schema' AND table_name = 'STATISTICS' AND column_name IN ('IGNORED', 'IS_VISIBLE')",
		func(rows *sql.Rows) error { return rows.Scan(&shape.hidden) })
	if err != nil {
		return tableShape{}, err
	}
	return shape, nil
}

// unlikeTypes returns an error naming each of mysqlColumns of another
// type, and each of mysqlTables in another engine, than the migrations
// make, with the ALTER TABLE statements that make them so, table by table
// in order of name; nil if none is. A table or column not there is left to
// the store's statements, which name it.
func unlikeTypes(shape tableShape) error {
	var unlikes, alters []string
	changes := map[string][]string{}
	for _, table := range mysqlTables {
		if engine, ok := shape.engines[table]; ok && !strings.EqualFold(engine, "InnoDB") {
			unlikes = append(unlikes, fmt.Sprintf("the table %s in %s, where the migrations make InnoDB", table, engine))
			changes[table] = append(changes[table], "ENGINE = InnoDB")
		}
	}
	for _, c := range mysqlColumns {
		got, ok := shape.types[c.table+"."+c.name]
		if !ok || c.sameAs(got) {
			continue
		}
		found := got.columnType
		if c.collation != "" && got.collation != "" {
			found += " COLLATE " + got.collation
		}
		unlikes = append(unlikes, fmt.Sprintf("%s.%s as %s, where the migrations make %s", c.table, c.name, found, c))
		changes[c.table] = append(changes[c.table], "MODIFY "+c.name+" "+c.definition)
	}
	if len(unlikes) == 0 {
		return nil
	}
	for _, table := range slices.Sorted(maps.Keys(changes)) {
		alters = append(alters, "ALTER TABLE "+table+" "+strings.Join(changes[table], ", "))
	}
	return fmt.Errorf("the database's tables are of other types or engines than the migrations make: %s; "+
		"changed while the service was stopped, or tables restored from another schema? the store's order, guards, limits and transactions rely on them "+
		"(an INT position ends the log at 2^31, a BLOB's data at 64 KiB, a table not in InnoDB takes no transaction nor row lock); "+
		"make them so, then start again: %s",
		strings.Join(unlikes, "; "), strings.Join(alters, "; "))
}

// AddKeyMySQL returns the ALTER TABLE statement that makes the key called
// name as the MySQL migrations make it, for a key dropped while the
// service runs; "" if they make no key of that name but PRIMARY, or none.
// (A statement may name the table by an alias: the name alone says which;
// no two tables' keys share one.)
func AddKeyMySQL(name string) string {
	for _, version := range slices.Sorted(maps.Keys(mysqlKeys)) {
		for _, k := range mysqlKeys[version] {
			if k.name != "PRIMARY" && strings.EqualFold(k.name, name) {
				return "ALTER TABLE " + k.table + " " + keyLack{want: k}.mend()
			}
		}
	}
	return ""
}

// UseKeyAgainMySQL returns the ALTER TABLE statements that have the key
// called name used again where it is there but IGNORED (MariaDB) or
// INVISIBLE (MySQL 8), which fails a statement that names it as a key
// dropped does; "" if the MySQL migrations make no key of that name but
// PRIMARY (which is never hidden), or none.
func UseKeyAgainMySQL(name string) string {
	for _, version := range slices.Sorted(maps.Keys(mysqlKeys)) {
		for _, k := range mysqlKeys[version] {
			if k.name != "PRIMARY" && strings.EqualFold(k.name, name) {
				ignored, invisible := k, k
				ignored.hidden, invisible.hidden = "IGNORED", "IS_VISIBLE"
				return "ALTER TABLE " + k.table + " " + keyLack{want: k, got: &ignored}.mend() +
					" (MariaDB), or ALTER TABLE " + k.table + " " + keyLack{want: k, got: &invisible}.mend() + " (MySQL 8)"
			}
		}
	}
	return ""
}

// keyMade is true if key, which migration version makes, is there; false
// if no key of its name is; and an error if one is that is not it.
func keyMade(version int64, key mysqlKey) func(context.Context, *sql.DB) (bool, error) {
	return func(ctx context.Context, db *sql.DB) (bool, error) {
		has, err := readKeys(ctx, db, "", key.table)
		if err != nil {
			return false, err
		}
		got, ok := has[key.table][strings.ToLower(key.name)]
		if !ok {
			return false, nil
		}
		if _, alter := lackingKeys(key.table, []mysqlKey{key}, has[key.table]); alter != "" {
			return false, fmt.Errorf("the table %s has %s, where migration %d makes %s: make it so, then start again: %s",
				key.table, got, version, key, alter)
		}
		return true, nil
	}
}

// joinLacks names lacks in a sentence.
func joinLacks(lacks []keyLack) string {
	s := make([]string, len(lacks))
	for i, l := range lacks {
		s[i] = l.String()
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// columnsExist is true if table has column.
func columnsExist(table, column string) func(context.Context, *sql.DB) (bool, error) {
	return rowExists(fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '%s' AND column_name = '%s')", table, column))
}

func anyOf(looks ...func(context.Context, *sql.DB) (bool, error)) func(context.Context, *sql.DB) (bool, error) {
	return func(ctx context.Context, db *sql.DB) (bool, error) {
		for _, look := range looks {
			if ok, err := look(ctx, db); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
}

// rowExists is the answer of query, a SELECT EXISTS. A table it reads that
// does not exist is a no.
func rowExists(query string) func(context.Context, *sql.DB) (bool, error) {
	return func(ctx context.Context, db *sql.DB) (bool, error) {
		var ok bool
		if err := db.QueryRowContext(ctx, query).Scan(&ok); err != nil {
			if isNoSuchTable(err) {
				return false, nil
			}
			return false, err
		}
		return ok, nil
	}
}

// completeCutMySQL records, in order, each pending MySQL migration whose
// work is found done (mysqlDone), logging each at WARN; it stops at the
// first that is not. found says whether it recorded any.
func completeCutMySQL(ctx context.Context, db *sql.DB, p *goose.Provider, log *slog.Logger) (found bool, err error) {
	recorded, err := p.GetDBVersion(ctx)
	if err != nil {
		return false, fmt.Errorf("read the schema version: %w", err)
	}
	for _, src := range p.ListSources() {
		if src.Version <= recorded {
			continue
		}
		done, ok := mysqlDone[src.Version]
		if !ok {
			return found, nil
		}
		applied, err := done(ctx, db)
		if err != nil {
			return found, fmt.Errorf("look whether migration %d (%s) is in the database already: %w", src.Version, src.Path, err)
		}
		if !applied {
			return found, nil
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+VersionTable+" (version_id, is_applied) VALUES (?, TRUE)", src.Version); err != nil {
			return found, fmt.Errorf("record migration %d (%s), found in the database already: %w", src.Version, src.Path, err)
		}
		found = true
		log.Warn("migration had run but was not recorded (a start stopped during it, or tables restored without "+VersionTable+"); recorded it now",
			"version", src.Version, "file", src.Path)
	}
	return found, nil
}

// mendVersionTable writes the version table's first row (version 0) if the
// table is there without it: goose creates the table, then writes the row,
// and on MySQL the CREATE commits by itself, so a start stopped between the
// two failed every later one with "missing zero version migration".
func mendVersionTable(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	var rows int64
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+VersionTable).Scan(&rows)
	if err != nil {
		if isNoSuchTable(err) {
			return nil // a new database: goose makes it
		}
		return fmt.Errorf("read the version table %s: %w", VersionTable, err)
	}
	if rows > 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO "+VersionTable+" (version_id, is_applied) VALUES (0, TRUE)"); err != nil {
		return fmt.Errorf("write the version table's first row: %w", err)
	}
	log.Warn("the version table " + VersionTable + " had no first row (a start stopped as it made it); wrote it")
	return nil
}

// isNoSuchTable says whether err is MySQL's "table doesn't exist" (1146).
func isNoSuchTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}

// cutStatementWait is how long a start whose migration was cut waits for
// the server to end the migration's statement: a server that answers ends
// one in milliseconds; one that does not must not hold a stopping process
// much past its signal (docker stop kills after 10 s).
const cutStatementWait = 5 * time.Second

// migrationSession is handed to goose as its session locker, not to lock
// (ApplyMySQL holds the migration lock) but to learn the connection goose
// runs each migration on: goose takes one connection per run and runs the
// migration's statements on it, and calls SessionLock on it first.
type migrationSession struct {
	latest atomic.Pointer[serverSession] // the session of goose's latest run; nil: not known
	log    *slog.Logger
	warned atomic.Bool // the session could not be read, and the log said so
}

// serverSession is a session as the server that has it says: a connection
// id is a counter of one server's, so it names the migration's session only
// on that server (not on another Galera node, nor on the other backend a
// proxy or a DSN of several hosts reaches), and only while that session
// runs the migration's statement.
type serverSession struct {
	id       int64
	user, db string // PROCESSLIST's USER and DB
	server   string // the server's identity (serverIdentity)
}

// SessionLock reads conn's session for endStatement. What it reads serves
// only to end a cut migration's statement, so it is best-effort: a server
// or proxy that refuses the reads (a query rule, a MySQL-compatible server
// that filters PROCESSLIST or SHOW GLOBAL VARIABLES) fails no start; the
// session is then not known, and the log says once what that costs. It
// fails only when ctx has ended, as goose's next statement would.
func (s *migrationSession) SessionLock(ctx context.Context, conn *sql.Conn) error {
	m, err := readSession(ctx, conn)
	if err != nil {
		s.latest.Store(nil) // not an earlier run's: its id is not this one's
		if ctx.Err() != nil {
			return err
		}
		if !s.warned.Swap(true) {
			s.log.Warn("could not read which session runs the migrations; a migration cut by the start-up timeout or a signal will not have its statement ended on the server: "+
				"if a start is cut, KILL QUERY its statement by hand", "error", err)
		}
		return nil
	}
	s.latest.Store(m)
	return nil
}

// readSession reads conn's session: its id, user and database, and its
// server's identity.
func readSession(ctx context.Context, conn *sql.Conn) (*serverSession, error) {
	var m serverSession
	err := conn.QueryRowContext(ctx, "SELECT ID, IFNULL(USER, ''), IFNULL(DB, '') FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()").Scan(&m.id, &m.user, &m.db)
	if err != nil {
		return nil, fmt.Errorf("read the migration session's connection id: %w", err)
	}
	if m.server, err = serverIdentity(ctx, conn); err != nil {
		return nil, fmt.Errorf("read the migration session's server: %w", err)
	}
	return &m, nil
}

func (s *migrationSession) SessionUnlock(context.Context, *sql.Conn) error { return nil }

// serverIdentity names the server conn is on by what tells servers apart:
// its host name and port, its server_id, and where the server has them
// MySQL's server_uuid and a Galera node's name. SHOW reads, on MySQL and
// MariaDB alike, those of them the server has, and no privilege is needed.
func serverIdentity(ctx context.Context, conn *sql.Conn) (string, error) {
	rows, err := conn.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('hostname', 'port', 'server_id', 'server_uuid', 'wsrep_node_name')")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return "", err
		}
		names = append(names, strings.ToLower(name)+"="+value)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	slices.Sort(names)
	return strings.Join(names, " "), nil
}

// statementStarts returns how each statement of the Up of the MySQL
// migration file begins: its first line (goose leaves out the comments
// before a statement).
func statementStarts(file string) ([]string, error) {
	b, err := fs.ReadFile(files, path.Join("mysql", file))
	if err != nil {
		return nil, err
	}
	var starts []string
	next := true
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "--") && strings.Contains(line, "+goose Down") {
			break
		}
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		if next {
			starts = append(starts, strings.TrimSuffix(line, ";")) // goose may send it without
		}
		next = strings.HasSuffix(line, ";")
	}
	return starts, nil
}

// endStatement ends on the server the statement of migration file, cut by
// ctx's end, and waits (up to cutStatementWait) until the server has ended
// it. The driver does not cancel a statement on the server: it drops the
// connection, and the server went on with the statement (a CREATE INDEX on
// a large table, or one waiting for a metadata lock) after the start had
// returned, beside the next start's work. It kills only on the server that
// gave the migration's session its id, and only a session of that id, user
// and database running one of file's statements: any other is another's
// (on another Galera node, or another backend of a proxy, ids are counted
// apart), and is left alone with a warning that says what to KILL QUERY if
// the migration's statement goes on. It logs what it found.
func (s *migrationSession) endStatement(ctx context.Context, db *sql.DB, file string, log *slog.Logger) {
	m := s.latest.Load()
	if m == nil {
		return
	}
	advice := func(msg string, args ...any) {
		log.Warn(msg+"; the server may go on with the migration's statement: if it does, KILL QUERY that connection on that server",
			append([]any{"connection_id", m.id, "server", m.server, "file", file}, args...)...)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cutStatementWait)
	defer cancel()
	starts, err := statementStarts(file)
	if err != nil {
		advice("could not end the cut migration's statement: its file was not read", "error", err)
		return
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		advice("could not end the cut migration's statement", "error", err)
		return
	}
	defer conn.Close()
	if server, err := serverIdentity(ctx, conn); err != nil || server != m.server {
		advice("did not end the cut migration's statement: a new connection reached another server than the migration's, whose connection ids are its own",
			"reached", server, "error", err)
		return
	}
	// What the session of the migration's id runs, if it is the
	// migration's: its user and database, a statement of the migration's
	// (not this connection: a migration cut after its statement ended may
	// have left its connection to the pool, idle).
	running := func() (info string, found bool, err error) {
		var user, database string
		var stmt sql.NullString
		err = conn.QueryRowContext(ctx, "SELECT IFNULL(USER, ''), IFNULL(DB, ''), INFO FROM information_schema.PROCESSLIST WHERE ID = ? AND ID <> CONNECTION_ID()", m.id).Scan(&user, &database, &stmt)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !stmt.Valid) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		trimmed := strings.TrimSpace(stmt.String)
		if user != m.user || database != m.db || !slices.ContainsFunc(starts, func(start string) bool { return strings.HasPrefix(trimmed, start) }) {
			// Another's session: its statement's text may hold a secret
			// (its data, a token), so only its first word is said.
			return fmt.Sprintf("user %s, database %s, statement %s", user, database, firstWord(trimmed)), false, nil
		}
		return "", true, nil
	}
	other, found, err := running()
	switch {
	case err != nil:
		advice("did not end the cut migration's statement: what its connection runs was not read", "error", err)
		return
	case other != "":
		advice("did not end the statement of the cut migration's connection id: it is another user's, database's or statement's, not the migration's",
			"runs", other)
		return
	case !found:
		return
	}
	// The id is an integer the server gave: no quoting to get wrong.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", m.id)); err != nil {
		if me := (*mysql.MySQLError)(nil); errors.As(err, &me) && me.Number == 1094 { // unknown thread id: it ended
			return
		}
		advice("could not end the cut migration's statement", "error", err)
		return
	}
	for {
		_, found, err := running()
		if err == nil && !found {
			log.Info("ended the cut migration's statement on the server", "connection_id", m.id, "server", m.server)
			return
		}
		select {
		case <-ctx.Done():
			log.Warn("the server had not ended the cut migration's statement when the wait for it ended; it may go on with it",
				"connection_id", m.id, "server", m.server, "waited", cutStatementWait, "error", err)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
