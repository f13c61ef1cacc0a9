package mysqlstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/config"
)

// primaryDSN and replicaDSN name the DSNs in errors, with the variable that
// sets each: with both set, an operator must see which one is wrong.
var (
	primaryDSN = "the MySQL DSN (" + config.Var("MySQLDSN") + ")"
	replicaDSN = "the read replica's MySQL DSN (" + config.Var("MySQLReadDSN") + ")"
)

// parseDSN parses a DSN as the driver does, and refuses a protocol other
// than tcp or unix. Its errors never quote the password: without the @
// after it, the driver takes user:password for the protocol (root:pw/db,
// root:pw(host:3306)/db), which its parse error and, later, every dial
// error would quote. what names the DSN in errors (primaryDSN, replicaDSN).
func parseDSN(dsn, what string) (*mysql.Config, error) {
	// A URL (mysql://user:password@host/db) is read by the driver as user
	// "mysql" with a password beginning "//", or fails on its address. But
	// app://secret@tcp(host)/db is user app with the password //secret, a
	// valid DSN: a scheme is a URL's only without the driver's @tcp( or
	// @unix( after it, or when it names the database (mysql://).
	if scheme := urlScheme.FindString(dsn); scheme != "" && (!driverForm(dsn[len(scheme):]) || databaseScheme(scheme)) {
		return nil, fmt.Errorf("parse %s: it is written as a URL (%s…); write it in the driver's form, as in user:password@tcp(host:3306)/dbname "+
			"(the value is not shown: it may hold the password)", what, scheme)
	}
	// The driver panics on strict, a parameter it has removed.
	for _, kv := range strings.Split(dsnParams(dsn), "&") {
		if name, _, ok := strings.Cut(kv, "="); ok && name == "strict" {
			return nil, fmt.Errorf("parse %s: its strict parameter is no longer read by the driver; remove it "+
				"(the store sets a strict sql_mode itself)", what)
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The driver's message quotes a refused parameter's value, or the
		// database's name, where the password's tail may be (a password
		// holding / and ?timeout=, the /dbname left out): name the
		// parameter and what it takes instead.
		if name, takes := refusedParam(dsn); name != "" {
			return nil, fmt.Errorf("parse %s: its %s parameter must be %s (the value is not shown: it may hold the password)", what, name, takes)
		}
		if dbname := dsnDBName(dsn); strings.ContainsRune(dbname, '%') {
			if _, err := url.PathUnescape(dbname); err != nil {
				return nil, fmt.Errorf("parse %s: the database's name (after the last /) has a %% that does not begin an escape such as %%2F; "+
					"write %%25 for a %% (the name is not shown: it may hold the password)", what)
			}
		}
		if userinfo := dsnUserinfo(dsn); userinfo != "" && strings.Contains(err.Error(), userinfo) {
			return nil, fmt.Errorf("parse %s: it does not have the form user:password@tcp(host:3306)/dbname; is the @ after the password missing? (the driver's message is not shown: it quotes the password)", what)
		}
		// After the @, the driver reads protocol(address): a host without
		// its protocol and parentheses (host:3306, localhost, tcp[host])
		// is taken for the protocol, and refused as one it does not know.
		// The address is quoted only where no password is written: with
		// one holding an @ (app:S3cr@tPass/db, the host left out), what
		// the driver takes for the address is the password's tail.
		if proto := dsnProtocol(dsn); proto != "" && !strings.Contains(proto, "(") {
			if userinfo := dsnUserinfo(dsn); !strings.Contains(userinfo, ":") {
				return nil, fmt.Errorf("parse %s: the address %s is not written protocol(address): write tcp(host:port) or unix(/path/to/socket), "+
					"as in user:password@tcp(host:3306)/dbname", what, proto)
			}
			return nil, fmt.Errorf("parse %s: the address (after the last @) is not written protocol(address): write tcp(host:port) or unix(/path/to/socket), "+
				"as in user:password@tcp(host:3306)/dbname (it is not shown: if the password holds an @, what follows that @ is taken for the address)", what)
		}
		return nil, fmt.Errorf("parse %s: %w", what, err)
	}
	switch cfg.Net {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, errors.New(what + ": the protocol must be tcp or unix, as in user:password@tcp(host:3306)/dbname; is the @ after the password missing? (the protocol given is not shown: it may hold the password)")
	}
	// A port no server can have fails every dial, which start-up would
	// take for a database not up yet and retry until its timeout.
	// (A list of servers is checked server by server in splitAddrs.)
	if strings.HasPrefix(cfg.Net, "tcp") && !strings.Contains(cfg.Addr, ",") {
		if err := checkPort(dsnAddr(dsn), cfg.Addr); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	// The driver sends a parameter it does not know as a SET of that name
	// on every connection: ?password=… would run SET password=… as the
	// service's user (on MySQL, a change of that user's password).
	for name := range cfg.Params {
		switch strings.ToLower(name) {
		case "password", "passwd", "pwd":
			return nil, fmt.Errorf("%s has a %s parameter, which the driver would send to the server as SET %s=… on every connection "+
				"(on MySQL, changing the user's password): put the password before the @, as in user:password@tcp(host:3306)/dbname "+
				"(the value is not shown)", what, name, name)
		}
	}
	// Every commit of the store goes to the binary log, where the server
	// has one: a replica and a restore to a point in time replay it, and
	// the durability check (durability.go) takes a commit to be durable
	// once visible only because it went through it. Outside it, nothing the
	// store writes reaches a replica, and a commit is visible before it is
	// flushed, unfenced.
	// The store forces some session variables, and refuses others, by name
	// (setParam, the checks above and below); the driver writes a name into
	// its SET as it is given, so @@sql_log_bin, @@session.sql_select_limit
	// or @@global.… would be the same variable to the server under another
	// name, or a change to the whole server. A parameter must be a plain
	// variable name.
	// The value too goes into the SET as it is given, unescaped: 10,sql_log_bin=0
	// would set a second variable. It must be one value.
	for name, value := range cfg.Params {
		if !plainName(name) {
			return nil, fmt.Errorf("%s has a parameter %q that is not a plain session variable name (letters, digits and _): the driver would send it as SET %s=… "+
				"beside the store's own session settings, or to the whole server; write the variable's name alone, as in ?innodb_lock_wait_timeout=10", what, name, name)
		}
		if !oneValue(value) {
			return nil, fmt.Errorf("%s has a parameter %s whose value is not one value (a word or number, or one string in single quotes, without backslashes): "+
				"the driver writes it into SET %s=… as it is, where a comma would set another variable (the value is not shown)", what, name, name)
		}
	}
	for name := range cfg.Params {
		if why, ok := weakening[strings.ToLower(name)]; ok {
			return nil, fmt.Errorf("%s has a %s parameter (%s): %s; remove it", what, strings.ToLower(name), name, why)
		}
	}
	// Migrating there would put the event store's tables among the
	// server's grant, time-zone and statistics tables.
	switch strings.ToLower(cfg.DBName) {
	case "mysql", "information_schema", "performance_schema", "sys":
		remedy := "create a database for Tributary (CREATE DATABASE tributary) and name it"
		if what == replicaDSN {
			// A replica holds the primary's database already, and is only read.
			remedy = "name the primary's database, as the replica holds it (the database " + config.Var("MySQLDSN") + " names)"
		}
		return nil, fmt.Errorf("%s names the database %s, one of the server's own schemas: %s", what, cfg.DBName, remedy)
	}
	return cfg, nil
}

// dsnParams returns a DSN's parameters as the driver finds them: after the
// first ? that follows the last slash; "" without them.
func dsnParams(dsn string) string {
	rest := dsn[strings.LastIndex(dsn, "/")+1:]
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		return rest[q+1:]
	}
	return ""
}

// dsnDBName returns a DSN's database name as written: between the last
// slash and the ? after it.
func dsnDBName(dsn string) string {
	rest := dsn[strings.LastIndex(dsn, "/")+1:]
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		return rest[:q]
	}
	return rest
}

// refusedParam returns the name of the first of a DSN's parameters that the
// driver refuses, each parsed alone, and what it takes; "" if it refuses
// none.
func refusedParam(dsn string) (name, takes string) {
	for _, kv := range strings.Split(dsnParams(dsn), "&") {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, err := mysql.ParseDSN("/?" + kv); err == nil {
			continue
		}
		switch name {
		case "timeout", "readTimeout", "writeTimeout", "timeTruncate":
			return name, "a duration such as 5s or 500ms"
		case "maxAllowedPacket":
			return name, "a whole number of bytes (0: the server's max_allowed_packet)"
		case "loc":
			return name, "a time zone name such as UTC (the store reads times as UTC whatever it is)"
		case "tls":
			return name, "true, false, skip-verify or preferred"
		case "serverPubKey":
			return name, "the name of a key the program registered with the driver's RegisterServerPubKey, which this server registers none of; remove it"
		}
		if strings.ContainsRune(kv, '%') {
			return name, "URL-escaped: a % begins an escape such as %27, and %25 is a %"
		}
		return name, "true or false (or 1 or 0)"
	}
	return "", ""
}

// weakening holds the session variables that a DSN must not set, by their
// lower-case name, each with what it would take away: the driver sends a
// parameter as a SET on every connection, the writer's included.
// (foreign_key_checks weakens nothing: the schema has no foreign key.)
var weakening = map[string]string{
	"sql_log_bin": "the store's commits must go to the binary log (a replica, a restore to a point in time " +
		"and the durability check depend on it)",
	// InnoDB may then skip the check of a secondary unique key: two
	// events with one id, or at one version of a stream, where a conflict,
	// a client's retry and a group sent in one round trip are found by it.
	"unique_checks": "the store's unique keys must be checked on every write (an event id, " +
		"a stream's version, taken once, are how conflicts and retries are found)",
	// A Galera node would keep the session's writes to itself.
	"wsrep_on": "the store's commits must be replicated to every node of a Galera cluster",
	// MariaDB marks the session's commits for replicas to skip.
	"skip_replication": "the store's commits must reach every replica (a replica set to skip marked events would lose them)",
}

// dsnUserinfo returns what of dsn may hold a password in the driver's
// grammar, [user[:password]@][net[(addr)]]/dbname[?params]: before the last
// @ of the part before the database, else, without an @, the part the
// driver takes for the protocol (up to a parenthesis), where user:password
// then sits.
func dsnUserinfo(dsn string) string {
	head := dsn
	if slash := strings.LastIndex(dsn, "/"); slash >= 0 {
		head = dsn[:slash]
	}
	if at := strings.LastIndex(head, "@"); at >= 0 {
		return head[:at]
	}
	if open := strings.Index(head, "("); open >= 0 {
		head = head[:open]
	}
	if !strings.Contains(head, ":") {
		return "" // no password in it
	}
	return head
}

// urlScheme matches a URL's scheme at the start of a DSN (mysql://,
// mariadb://), which the driver's form never begins with.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// driverForm reports whether rest, a DSN after a URL's scheme, has the
// driver's @tcp( or @unix( in it: then what precedes is user:password.
func driverForm(rest string) bool {
	return strings.Contains(rest, "@tcp(") || strings.Contains(rest, "@tcp4(") || strings.Contains(rest, "@tcp6(") || strings.Contains(rest, "@unix(")
}

// databaseScheme reports whether scheme (as urlScheme matched it) names a
// database, as a URL meant for MySQL begins: no user is called mysql with
// a password beginning //.
func databaseScheme(scheme string) bool {
	switch strings.ToLower(strings.TrimSuffix(scheme, "://")) {
	case "mysql", "mysqlx", "mariadb", "mysql+tcp", "tcp", "unix", "jdbc":
		return true
	}
	return false
}

// dsnProtocol returns what the driver reads as a DSN's protocol and
// address, between the last @ before the database and the database's
// slash; "" without an @ (then it may hold user:password: dsnUserinfo).
func dsnProtocol(dsn string) string {
	head := dsn
	if slash := strings.LastIndex(dsn, "/"); slash >= 0 {
		head = dsn[:slash]
	}
	at := strings.LastIndex(head, "@")
	if at < 0 {
		return ""
	}
	return head[at+1:]
}

// dsnAddr returns a DSN's address as it is written, between the
// parentheses of net(addr), "" without them: in the driver's grammar,
// [user[:password]@][net[(addr)]]/dbname[?params], the database is after
// the last slash, the user before the last @.
func dsnAddr(dsn string) string {
	slash := strings.LastIndex(dsn, "/")
	if slash < 1 || dsn[slash-1] != ')' {
		return ""
	}
	head := dsn[:slash-1]
	head = head[strings.LastIndex(head, "@")+1:]
	open := strings.Index(head, "(")
	if open < 0 {
		return ""
	}
	return head[open+1:]
}

// checkPort refuses an address every dial to which fails: brackets that
// do not enclose the host alone, an empty port (a dial of port 0), a
// numeric port outside 1–65535, or a name the system does not know as a
// service (/etc/services, looked up as the dialer does). given is the
// address as the DSN writes it, which the errors quote; dialed is what the
// driver dials, with 3306 added where given has no port (which makes
// [::1:3306 [[::1:3306]:3306, and [::1] [[::1]]:3306).
func checkPort(given, dialed string) error {
	if given = strings.TrimSpace(given); given == "" {
		given = dialed
	}
	_, port, err := net.SplitHostPort(strings.TrimSpace(dialed))
	if open := strings.Count(given, "["); err != nil || open != strings.Count(given, "]") || open > 1 || open == 1 && given[0] != '[' {
		return fmt.Errorf("the address %s is not host:port (or a host alone, for port 3306; an IPv6 address in brackets, with its port: [::1]:3306)", given)
	}
	if port == "" {
		return fmt.Errorf("the address %s has an empty port; a port is 1 to 65535 (or leave out the colon too, for 3306)", given)
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 1 || n > 65535 {
			return fmt.Errorf("the address %s has port %d; a port is 1 to 65535", given, n)
		}
		return nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("the address %s has port %s, not a number nor a service name this system knows (/etc/services); a port is 1 to 65535", given, port)
	}
	return nil
}

// plainName reports whether name is a session variable's name alone:
// letters, digits and underscores.
func plainName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r != '_' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// oneValue reports whether v is one SQL value as the server reads it in a
// SET, whatever its sql_mode: a word or number (letters, digits and
// _ . + - @, as in 10, 2.5, TRADITIONAL, @@GLOBAL.sql_mode), or one string
// in single or double quotes, a quote inside it doubled; spaces around it
// are the server's to skip. A backslash is
// refused in a string: whether it escapes the quote after it depends on
// NO_BACKSLASH_ESCAPES, so 'a\',b=' may be one string or two values.
func oneValue(v string) bool {
	v = strings.Trim(v, " \t")
	if v == "" {
		return false
	}
	if q := v[0]; q == '\'' || q == '"' {
		if len(v) < 2 || v[len(v)-1] != q {
			return false
		}
		inner := v[1 : len(v)-1]
		if strings.ContainsRune(inner, '\\') {
			return false
		}
		// Every quote inside is doubled: removing the pairs leaves none.
		return !strings.ContainsRune(strings.ReplaceAll(inner, string([]byte{q, q}), ""), rune(q))
	}
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r == '_', r == '.', r == '+', r == '-', r == '@':
		default:
			return false
		}
	}
	return true
}
