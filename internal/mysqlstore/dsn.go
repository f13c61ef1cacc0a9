package mysqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// parseDSN parses a DSN as the driver does, and refuses a protocol other
// than tcp or unix. Its errors never quote the password: without the @
// after it, the driver takes user:password for the protocol (root:pw/db,
// root:pw(host:3306)/db), which its parse error and, later, every dial
// error would quote. what names the DSN in errors ("MySQL DSN").
func parseDSN(dsn, what string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		if userinfo := dsnUserinfo(dsn); userinfo != "" && strings.Contains(err.Error(), userinfo) {
			return nil, fmt.Errorf("parse %s: it does not have the form user:password@tcp(host:3306)/dbname; is the @ after the password missing? (the driver's message is not shown: it quotes the password)", what)
		}
		return nil, fmt.Errorf("parse %s: %w", what, err)
	}
	switch cfg.Net {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, errors.New(what + ": the protocol must be tcp or unix, as in user:password@tcp(host:3306)/dbname; is the @ after the password missing? (the protocol given is not shown: it may hold the password)")
	}
	// Migrating there would put the event store's tables among the
	// server's grant, time-zone and statistics tables.
	switch strings.ToLower(cfg.DBName) {
	case "mysql", "information_schema", "performance_schema", "sys":
		return nil, fmt.Errorf("%s names the database %s, one of the server's own schemas: create a database for Tributary (CREATE DATABASE tributary) and name it", what, cfg.DBName)
	}
	return cfg, nil
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
