// Package config reads Tributary's settings from TRIBUTARY_* environment
// variables.
//
// Errors about a setting name its variable and say what it expects; they
// never show the value as written, since it may be a DSN or a token set in
// the wrong variable, on its way into logs many people read. A value is
// shown only where its shape, once checked, holds no secret: a number,
// duration or log level as parsed, a host:port address that passed its
// check (a port of digits, a host that is an IP address or a name), and
// the embedded store's directory, which the service creates and logs as
// its store's path anyway (one shaped like a DSN is refused unshown). A tokens file's name is not shown: a token given
// in TRIBUTARY_API_TOKENS_FILE for TRIBUTARY_API_TOKENS is a likely slip.
package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Prefix is the environment variables' common prefix. Each setting's tag
// names its whole variable, prefix included, and Load reads nothing else:
// envconfig, given a prefix, also reads a setting from the variable without
// it (ADDR for TRIBUTARY_ADDR), where another program's settings live.
const Prefix = "tributary"

// Config is every setting of the service, with its default.
type Config struct {
	Addr                    string        `envconfig:"TRIBUTARY_ADDR" default:":8080" desc:"address to listen on"`
	MySQLDSN                string        `envconfig:"TRIBUTARY_MYSQL_DSN" desc:"MySQL/MariaDB DSN in go-sql-driver format, e.g. user:pass@tcp(127.0.0.1:3306)/tributary; unset: the embedded store (set but empty is refused)"`
	MySQLReadDSN            string        `envconfig:"TRIBUTARY_MYSQL_READ_DSN" desc:"DSN of a read replica of TRIBUTARY_MYSQL_DSN's server: clients' reads and the live feed read there, appends stay on the primary; empty: the primary serves reads"`
	MySQLDSNFile            string        `envconfig:"TRIBUTARY_MYSQL_DSN_FILE" desc:"a file holding TRIBUTARY_MYSQL_DSN on one line, in its place (for secret mounts: Docker and Kubernetes secrets); not both"`
	MySQLReadDSNFile        string        `envconfig:"TRIBUTARY_MYSQL_READ_DSN_FILE" desc:"a file holding TRIBUTARY_MYSQL_READ_DSN on one line, in its place; not both"`
	DataDir                 string        `envconfig:"TRIBUTARY_DATA_DIR" default:"./data" desc:"where the embedded store keeps its data (when TRIBUTARY_MYSQL_DSN is unset)"`
	MaxBodyBytes            int64         `envconfig:"TRIBUTARY_MAX_BODY_BYTES" default:"4194304" desc:"largest request body accepted, in bytes (413 past it)"`
	MaxBodyBytesInFlight    int64         `envconfig:"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT" default:"268435456" desc:"most bytes of request bodies being received at once, all clients together (503 past it; at least TRIBUTARY_MAX_BODY_BYTES): what clients that send slowly, or stop halfway, can hold of the server's memory"`
	MaxClientBytesInFlight  int64         `envconfig:"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT" default:"0" desc:"most bytes of request bodies one client sends at once: one token, or one address without tokens (an IPv6 one by its /64) (503 past it; at least TRIBUTARY_MAX_BODY_BYTES, at most TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT); 0: half of TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT"`
	MaxBatch                int           `envconfig:"TRIBUTARY_MAX_BATCH" default:"1000" desc:"most events in one append (413 past it, as soon as the event past it arrives)"`
	MaxEventBytes           int           `envconfig:"TRIBUTARY_MAX_EVENT_BYTES" default:"1048576" desc:"largest data plus metadata of one event, in bytes (413 past it)"`
	MaxSubscribers          int           `envconfig:"TRIBUTARY_MAX_SUBSCRIBERS" default:"5000" desc:"most subscriptions open at once (503 past it)"`
	MaxSubscribersPerClient int           `envconfig:"TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT" default:"0" desc:"most subscriptions one client holds at once: one token, or one address without tokens (an IPv6 one by its /64) (503 past it); 0: half of TRIBUTARY_MAX_SUBSCRIBERS"`
	MaxConnections          int           `envconfig:"TRIBUTARY_MAX_CONNECTIONS" default:"0" desc:"most connections held open at once, subscriptions included: at it, a new connection takes the place of one silent for 2 s, or else 2 s in its request's headers, or else receiving an append's body behind 64 KiB/s (answered 408), or else idle longest (kept alive between requests), or else slow to read its answer; else it is answered 503; 0: 10000, or fewer where the open-file limit leaves room for fewer (the limit less 128 and twice TRIBUTARY_MYSQL_MAX_CONNS)"`
	MaxConnectionsPerClient int           `envconfig:"TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT" default:"0" desc:"most connections one address (an IPv6 one by its /64) holds at once: at it, its new connection takes the place of its own silent, slow in its headers or body, idle longest, or slow to read its answer, as TRIBUTARY_MAX_CONNECTIONS does, or is answered 503; 0: half of TRIBUTARY_MAX_CONNECTIONS"`
	RequestTimeout          time.Duration `envconfig:"TRIBUTARY_REQUEST_TIMEOUT" default:"30s" desc:"bound on a request other than a subscription (a GET of /events or /streams/{id}/events as text/event-stream), its response included"`
	ReadHeaderTimeout       time.Duration `envconfig:"TRIBUTARY_READ_HEADER_TIMEOUT" default:"10s" desc:"how long a client may take to send its request headers"`
	ReadTimeout             time.Duration `envconfig:"TRIBUTARY_READ_TIMEOUT" default:"60s" desc:"how long a client may take to send a whole request, body included (an append's body no longer than TRIBUTARY_REQUEST_TIMEOUT either: 408 past it)"`
	Heartbeat               time.Duration `envconfig:"TRIBUTARY_HEARTBEAT" default:"15s" desc:"how often an idle subscription gets a keep-alive comment"`
	SubscriberStallTimeout  time.Duration `envconfig:"TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT" default:"30s" desc:"how long a subscriber's connection may take no bytes before it is cut (it resumes with Last-Event-ID)"`
	PollInterval            time.Duration `envconfig:"TRIBUTARY_POLL_INTERVAL" default:"100ms" desc:"how often the live feed reads new events (writes through this process are seen at once)"`
	MySQLMaxConns           int           `envconfig:"TRIBUTARY_MYSQL_MAX_CONNS" default:"16" desc:"size of the MySQL read connection pool"`
	AllowUnsafeDurability   bool          `envconfig:"TRIBUTARY_ALLOW_UNSAFE_DURABILITY" default:"false" desc:"start, and take appends, even when the MySQL server's settings can lose acknowledged appends in a crash, at start-up or after a restart of the server under the service (MySQL only: the embedded store syncs every commit; set there, it is warned of)"`
	StartupTimeout          time.Duration `envconfig:"TRIBUTARY_STARTUP_TIMEOUT" default:"30s" desc:"how long start-up waits (at least 1s) for the database to answer (a MySQL user it refuses, 1045/1044, is tried again meanwhile), for the migration lock, and for a primary behind its read replica (the replica's head past the primary's: a failover under way) to catch up; a DSN file or tokens file that is a FIFO gets it too, to be written and closed"`
	ShutdownTimeout         time.Duration `envconfig:"TRIBUTARY_SHUTDOWN_TIMEOUT" default:"30s" desc:"how long a stop (SIGTERM, SIGINT or SIGHUP) takes at most: requests in flight get all but its last second, then are cut (exit status 1), and the store's close ends within it too (within 1s where it is shorter)"`
	ShutdownDelay           time.Duration `envconfig:"TRIBUTARY_SHUTDOWN_DELAY" default:"0s" desc:"how long, at the start of a stop, /readyz answers 503 while everything else is served and new connections are taken, for a load balancer to stop sending new ones before the drain (every answer meanwhile says Connection: close); counts inside TRIBUTARY_SHUTDOWN_TIMEOUT and must end before its last second (a fifth of a shorter one); 0s: drain at once"`
	LogLevel                slog.Level    `envconfig:"TRIBUTARY_LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	APITokens               string        `envconfig:"TRIBUTARY_API_TOKENS" desc:"access tokens: comma-separated name:role:token, role read or write, each token at least 16 characters; unset or empty: no access control (set but empty is warned of)"`
	APITokensFile           string        `envconfig:"TRIBUTARY_API_TOKENS_FILE" desc:"a file of access tokens, one name:role:token a line (for secret mounts), each token at least 16 characters; read again when it changes; not both"`
	CORSOrigins             []string      `envconfig:"TRIBUTARY_CORS_ORIGINS" desc:"origins whose pages may call the API from a browser, comma-separated (https://app.example, https://*.example.com for its subdomains, or * alone); empty: no CORS headers"`
	DebugAddr               string        `envconfig:"TRIBUTARY_DEBUG_ADDR" desc:"address of a second listener serving net/http/pprof, never the public address; keep it private; empty: off"`

	// warnings says which settings the operator gave are not in force as
	// given (Warnings).
	warnings []string
	// links are the variables of Docker links left alone (DockerLinks).
	links []string
	// tokensSetEmpty: TRIBUTARY_API_TOKENS is set, to nothing
	// (TokensSetEmpty).
	tokensSetEmpty bool
}

// TokensSetEmpty reports whether TRIBUTARY_API_TOKENS is set but empty,
// which leaves access control off as unset does (compose.yaml passes it so
// by default), and which an empty secret meant to hold tokens leaves too:
// the server's warning that access control is off says so.
func (c Config) TokensSetEmpty() bool { return c.tokensSetEmpty }

// DockerLinks returns the names of the variables in the service's
// namespace that a legacy Docker link gave the process (TRIBUTARY_DB_NAME,
// TRIBUTARY_DB_ENV_… for a link aliased tributary_db), which are no
// settings and were left alone: start-up logs them.
func (c Config) DockerLinks() []string { return c.links }

// Warnings returns a line for each setting given in the environment that
// is not in force as given, changed to agree with another (an event limit
// above the body limit, by Load; a stall timeout below two heartbeats, by
// the HTTP server), and for each bound raised from its default so (the
// bodies in flight, the stall timeout), saying what is: start-up logs them.
func (c Config) Warnings() []string { return c.warnings }

// Addr returns TRIBUTARY_ADDR, or its default where it is unset,
// unchecked: `api healthcheck` reads it alone, and a probe of a ready
// server must not fail on, nor wait for, the rest (a DSN file gone, a FIFO
// awaited).
func Addr() string {
	if addr, ok := os.LookupEnv(Var("Addr")); ok {
		return addr
	}
	return ":8080"
}

// Load reads the configuration from the environment and checks it.
func Load() (Config, error) { return LoadContext(context.Background(), nil) }

// LoadContext is Load giving up when ctx ends (a SIGTERM) while a DSN
// file that is no regular one (a FIFO) is awaited: its error then wraps
// ctx's cause. awaiting, where not nil, is told as such a wait begins,
// the setting naming the file and how long it waits at most: the caller
// says so, as a start silent for that long looks hung.
func LoadContext(ctx context.Context, awaiting func(setting string, timeout time.Duration)) (Config, error) {
	var c Config
	// Windows reads environment names in any letter case.
	caseInsensitive := runtime.GOOS == "windows"
	if err := nearMisses(os.Environ(), caseInsensitive); err != nil {
		return Config{}, err
	}
	if err := surroundingSpace(os.Environ(), caseInsensitive); err != nil {
		return Config{}, err
	}
	if err := envconfig.Process("", &c); err != nil {
		// envconfig's message quotes the value, and so does the parser's
		// it wraps: say what is expected instead.
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			if err := outOfRange(pe.KeyName, pe.FieldName, pe.Value); err != nil {
				return Config{}, err
			}
			return Config{}, fmt.Errorf("%s must be %s (the value is not shown)", pe.KeyName, expected(pe.FieldName))
		}
		return Config{}, fmt.Errorf("read configuration: %w", err)
	}
	if err := decimalInts(&c); err != nil {
		return Config{}, err
	}
	if err := c.readDSNFiles(ctx, awaiting); err != nil {
		return Config{}, err
	}
	c.links = dockerLinks(os.Environ())
	// Each setting is checked as given, before one is changed to agree
	// with another: a body limit of 10 lowered the event limit to 10, and
	// the error blamed TRIBUTARY_MAX_EVENT_BYTES too, which nobody had set.
	given := func(field string) bool { _, ok := os.LookupEnv(Var(field)); return ok }
	err := c.validate()
	// Set but empty (an empty Kubernetes Secret, ${DB_DSN} with DB_DSN
	// unset, a template left blank), the DSN ran every instance on a log of
	// its own, each answering 201 from position 1: the embedded store is
	// had by leaving the variable unset.
	if dsn, ok := os.LookupEnv(Var("MySQLDSN")); ok && dsn == "" && c.MySQLDSNFile == "" {
		err = errors.Join(err, fmt.Errorf("%s is set but empty (an empty secret, a template left blank?): give the MySQL DSN, "+
			"or unset it for the embedded store in %s, a log of this instance's own", Var("MySQLDSN"), Var("DataDir")))
	}
	c.tokensSetEmpty = os.Getenv(Var("APITokens")) == "" && given("APITokens")
	// Combined, a token removed from the file (a Secret rotated) stayed
	// in force through the variable: one way, as for the DSN.
	if c.APITokens != "" && c.APITokensFile != "" {
		err = errors.Join(err, fmt.Errorf("%s and %s are both set: give the tokens one way, the file or the variable "+
			"(set but empty, the variable gives none)", Var("APITokens"), Var("APITokensFile")))
	}
	if c.MaxBodyBytesInFlight < 1 {
		err = errors.Join(fmt.Errorf("TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT must be at least 1 (it is raised to TRIBUTARY_MAX_BODY_BYTES if below), got %d", c.MaxBodyBytesInFlight), err)
	}
	if err != nil {
		return c, err
	}
	// No event can be larger than the body that carries it, and the bodies
	// in flight, all clients' or one's, take at least the largest one (the
	// HTTP server bounds one client's by all clients'). A value so changed
	// that the operator gave is not in force: say so.
	if int64(c.MaxEventBytes) > c.MaxBodyBytes && given("MaxEventBytes") {
		c.warnings = append(c.warnings, fmt.Sprintf("%s (%d) is above %s: it is lowered to %d, as no event is larger than the body that carries it",
			Var("MaxEventBytes"), c.MaxEventBytes, Var("MaxBodyBytes"), c.MaxBodyBytes))
	}
	c.MaxEventBytes = int(min(int64(c.MaxEventBytes), c.MaxBodyBytes))
	// A bound raised is said whether it was given or left at its
	// default: a large body limit raised the memory bound on the bodies
	// in flight without a word. (A default lowered only tightens.)
	if c.MaxBodyBytesInFlight < c.MaxBodyBytes {
		c.warnings = append(c.warnings, fmt.Sprintf("%s (%s) is below %s: it is raised to %d, to take at least one body",
			Var("MaxBodyBytesInFlight"), asGiven(given("MaxBodyBytesInFlight"), c.MaxBodyBytesInFlight), Var("MaxBodyBytes"), c.MaxBodyBytes))
	}
	raisedInFlight := c.MaxBodyBytesInFlight < c.MaxBodyBytes
	c.MaxBodyBytesInFlight = max(c.MaxBodyBytesInFlight, c.MaxBodyBytes)
	switch perClient := c.MaxClientBytesInFlight; {
	case perClient == 0 && c.MaxBodyBytesInFlight/2 < c.MaxBodyBytes && !raisedInFlight:
		// Half of the whole, which the HTTP server takes, is raised to
		// one body as one given is: a body limit raised above it left a
		// client one largest body at a time without a word. (Where the
		// whole was raised to one body, its warning says as much.)
		c.warnings = append(c.warnings, fmt.Sprintf("%s (its default, half of %s: %d) is below %s: it is raised to %d, to take at least one body; one client may send one body of the largest size at a time",
			Var("MaxClientBytesInFlight"), Var("MaxBodyBytesInFlight"), c.MaxBodyBytesInFlight/2, Var("MaxBodyBytes"), c.MaxBodyBytes))
	case perClient == 0: // half of the whole, taken by the HTTP server
	case perClient < c.MaxBodyBytes:
		c.warnings = append(c.warnings, fmt.Sprintf("%s (%d) is below %s: it is raised to %d, to take at least one body",
			Var("MaxClientBytesInFlight"), perClient, Var("MaxBodyBytes"), c.MaxBodyBytes))
	case perClient > c.MaxBodyBytesInFlight:
		c.warnings = append(c.warnings, fmt.Sprintf("%s (%d) is above %s: it is lowered to %d, what all clients together may send",
			Var("MaxClientBytesInFlight"), perClient, Var("MaxBodyBytesInFlight"), c.MaxBodyBytesInFlight))
	}
	// A client's share of the subscribers above all of them is no bound:
	// one client may hold every place.
	if c.MaxSubscribersPerClient > c.MaxSubscribers && given("MaxSubscribersPerClient") {
		c.warnings = append(c.warnings, fmt.Sprintf("%s (%d) is above %s (%d): it bounds nothing, and one client may hold every subscription",
			Var("MaxSubscribersPerClient"), c.MaxSubscribersPerClient, Var("MaxSubscribers"), c.MaxSubscribers))
	}
	// Past these, a value is likelier a unit mistyped (100s for 100ms)
	// than meant, and costs what the operator may not see: said, not
	// refused, as a deployment may mean it.
	if c.PollInterval > maxQuietPoll {
		c.warnings = append(c.warnings, fmt.Sprintf("%s (%s) is above %s: a subscriber of this instance sees the events other instances "+
			"append (and a restore of the log) up to that late; writes through this instance are seen at once; its default is 100ms",
			Var("PollInterval"), c.PollInterval, maxQuietPoll))
	}
	if c.Heartbeat > maxQuietHeartbeat {
		c.warnings = append(c.warnings, fmt.Sprintf("%s (%s) is above %s, the idle timeout of common proxies and load balancers "+
			"(nginx's proxy_read_timeout, AWS ALB's): behind one, a quiet subscription is cut before its keep-alive; its default is 15s",
			Var("Heartbeat"), c.Heartbeat, maxQuietHeartbeat))
	}
	// It allows a MySQL server's settings that may lose appends: on the
	// embedded store, which always syncs each commit, it does nothing,
	// and was taken without a word.
	if c.AllowUnsafeDurability && c.MySQLDSN == "" {
		c.warnings = append(c.warnings, fmt.Sprintf("%s is set but does nothing on the embedded store (%s unset), which syncs every commit to disk "+
			"(SQLite's synchronous=FULL) whatever it says: it allows only a MySQL server's settings that may lose appends",
			Var("AllowUnsafeDurability"), Var("MySQLDSN")))
	}
	// The HTTP server raises the stall timeout to two heartbeats: a
	// subscriber that takes every keep-alive is not cut between two.
	if c.SubscriberStallTimeout < 2*c.Heartbeat {
		c.warnings = append(c.warnings, fmt.Sprintf("%s (%s) is below two of %s: it is raised to %s, as a subscriber that takes every keep-alive is never cut between two",
			Var("SubscriberStallTimeout"), asGiven(given("SubscriberStallTimeout"), c.SubscriberStallTimeout), Var("Heartbeat"), 2*c.Heartbeat))
	}
	// The read timeout bounds the whole request, headers included, but Go's
	// server bounds the headers by the header timeout alone: one above it
	// let a client take that long over its headers. A default lowered so
	// only tightens; one given is said.
	if c.ReadHeaderTimeout > c.ReadTimeout {
		if given("ReadHeaderTimeout") {
			c.warnings = append(c.warnings, fmt.Sprintf("%s (%s) is above %s (%s): it is lowered to %s, as the read timeout bounds the whole request, headers included",
				Var("ReadHeaderTimeout"), c.ReadHeaderTimeout, Var("ReadTimeout"), c.ReadTimeout, c.ReadTimeout))
		}
		c.ReadHeaderTimeout = c.ReadTimeout
	}
	return c, nil
}

// asGiven writes a setting's value for a warning: as it is, or, where the
// operator left it unset, as its default.
func asGiven(given bool, v any) string {
	if given {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("its default, %v", v)
}

// maxQuietPoll and maxQuietHeartbeat are the longest poll interval and
// heartbeat taken without a warning.
const (
	maxQuietPoll      = 5 * time.Second
	maxQuietHeartbeat = time.Minute
)

// maxDuration bounds every duration setting.
const maxDuration = 8760 * time.Hour

func (c Config) validate() error {
	var errs []error
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MAX_BODY_BYTES must be at least 1024, got %d", c.MaxBodyBytes))
	}
	if c.MaxEventBytes < 16 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MAX_EVENT_BYTES must be at least 16, got %d", c.MaxEventBytes))
	}
	if c.MaxSubscribers < 1 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MAX_SUBSCRIBERS must be at least 1, got %d", c.MaxSubscribers))
	}
	if c.MaxClientBytesInFlight < 0 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT must be 0 (half of TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT) or more, got %d", c.MaxClientBytesInFlight))
	}
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MAX_CONNECTIONS must be 0 (10000, or what the open-file limit leaves room for) or more, got %d", c.MaxConnections))
	}
	if c.MaxConnectionsPerClient < 0 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT must be 0 (half of TRIBUTARY_MAX_CONNECTIONS) or more, got %d", c.MaxConnectionsPerClient))
	}
	if c.MaxSubscribersPerClient < 0 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT must be 0 (half of TRIBUTARY_MAX_SUBSCRIBERS) or more, got %d", c.MaxSubscribersPerClient))
	}
	for name, d := range map[string]time.Duration{"REQUEST_TIMEOUT": c.RequestTimeout, "READ_HEADER_TIMEOUT": c.ReadHeaderTimeout, "READ_TIMEOUT": c.ReadTimeout} {
		if d < 100*time.Millisecond {
			errs = append(errs, fmt.Errorf("TRIBUTARY_%s must be at least 100ms, got %s", name, d))
		}
	}
	// Past a year nothing is meant but "never", and near Go's largest
	// duration the service's sums (a write deadline: timeout plus grace)
	// and doubles (two heartbeats) wrap into the past.
	for name, d := range map[string]time.Duration{"REQUEST_TIMEOUT": c.RequestTimeout, "READ_HEADER_TIMEOUT": c.ReadHeaderTimeout,
		"READ_TIMEOUT": c.ReadTimeout, "HEARTBEAT": c.Heartbeat, "SUBSCRIBER_STALL_TIMEOUT": c.SubscriberStallTimeout,
		"POLL_INTERVAL": c.PollInterval, "STARTUP_TIMEOUT": c.StartupTimeout, "SHUTDOWN_TIMEOUT": c.ShutdownTimeout,
		"SHUTDOWN_DELAY": c.ShutdownDelay} {
		if d > maxDuration {
			errs = append(errs, fmt.Errorf("TRIBUTARY_%s must be at most %s, got %s", name, maxDuration, d))
		}
	}
	switch c.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default: // slog's offsets (debug+1000) could silence every line
		errs = append(errs, fmt.Errorf("TRIBUTARY_LOG_LEVEL must be debug, info, warn or error, got %s", c.LogLevel))
	}
	// Below a second (1ns taken), a database on this very host had no
	// time to answer, and the start blamed the server.
	if c.StartupTimeout < time.Second {
		errs = append(errs, fmt.Errorf("TRIBUTARY_STARTUP_TIMEOUT must be at least 1s (how long the start waits for the database; its default is 30s), got %s", c.StartupTimeout))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_SHUTDOWN_TIMEOUT must not be negative, got %s", c.ShutdownTimeout))
	}
	// The delay counts inside the timeout, which bounds the whole stop: a
	// delay as long leaves the drain nothing.
	switch {
	case c.ShutdownDelay < 0:
		errs = append(errs, fmt.Errorf("TRIBUTARY_SHUTDOWN_DELAY must not be negative, got %s", c.ShutdownDelay))
	case c.ShutdownDelay > 0 && c.ShutdownDelay >= c.ShutdownTimeout:
		errs = append(errs, fmt.Errorf("TRIBUTARY_SHUTDOWN_DELAY (%s) must be less than TRIBUTARY_SHUTDOWN_TIMEOUT (%s): the delay counts inside the timeout, "+
			"which bounds the whole stop; leave the drain time after it, or 0s for no delay", c.ShutdownDelay, c.ShutdownTimeout))
	case c.ShutdownDelay > 0 && c.ShutdownDelay+c.ShutdownReserve() >= c.ShutdownTimeout:
		errs = append(errs, fmt.Errorf("TRIBUTARY_SHUTDOWN_DELAY (%s) must leave time to drain within TRIBUTARY_SHUTDOWN_TIMEOUT (%s), whose last %s cuts what still runs: at most %s",
			c.ShutdownDelay, c.ShutdownTimeout, c.ShutdownReserve(), c.ShutdownTimeout-c.ShutdownReserve()-time.Millisecond))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MAX_BATCH must be at least 1, got %d", c.MaxBatch))
	}
	if c.SubscriberStallTimeout < time.Second {
		errs = append(errs, fmt.Errorf("TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT must be at least 1s, got %s", c.SubscriberStallTimeout))
	}
	if c.Heartbeat < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("TRIBUTARY_HEARTBEAT must be at least 100ms, got %s", c.Heartbeat))
	}
	if c.PollInterval < time.Millisecond {
		errs = append(errs, fmt.Errorf("TRIBUTARY_POLL_INTERVAL must be at least 1ms, got %s", c.PollInterval))
	}
	for i, o := range c.CORSOrigins {
		c.CORSOrigins[i] = strings.TrimSpace(o)
		if err := validOrigin(c.CORSOrigins[i], len(c.CORSOrigins)); err != nil {
			// A * holds no secret: saying it is not shown, then showing
			// it, contradicted itself.
			shown := "(not shown)"
			if c.CORSOrigins[i] == "*" {
				shown = "is *,"
			}
			errs = append(errs, fmt.Errorf("TRIBUTARY_CORS_ORIGINS entry %d of %d %s %w", i+1, len(c.CORSOrigins), shown, err))
			continue
		}
		c.CORSOrigins[i] = withoutDefaultPort(c.CORSOrigins[i])
	}
	if c.MySQLReadDSN != "" && c.MySQLDSN == "" {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MYSQL_READ_DSN names a read replica, but TRIBUTARY_MYSQL_DSN names no primary"))
	}
	if c.MySQLMaxConns < 1 {
		errs = append(errs, fmt.Errorf("TRIBUTARY_MYSQL_MAX_CONNS must be at least 1, got %d", c.MySQLMaxConns))
	}
	// Set but empty (as ${TRIBUTARY_ADDR:-} in a Compose file sets it),
	// envconfig takes "", and net.Listen takes that for ":0": a random port
	// on every interface.
	if c.Addr == "" {
		errs = append(errs, fmt.Errorf("TRIBUTARY_ADDR is empty: give host:port (:8080 listens on every interface), or unset it for :8080"))
	} else if err := checkAddr(c.Addr, "8080"); err != nil {
		errs = append(errs, fmt.Errorf("TRIBUTARY_ADDR%w (:8080, 127.0.0.1:8080, :http)", err))
	}
	if c.DataDir == "" && c.MySQLDSN == "" {
		errs = append(errs, fmt.Errorf("TRIBUTARY_DATA_DIR is empty: give the embedded store's directory, or unset it for ./data"))
	}
	// A DSN put here by mistake made a directory named after it, its
	// password too, and the start-up logged that path: the operator meant
	// MySQL and got a store of its own. Never shown.
	if dsnShaped.MatchString(c.DataDir) {
		errs = append(errs, fmt.Errorf("TRIBUTARY_DATA_DIR looks like a MySQL DSN (the value is not shown): a DSN goes in TRIBUTARY_MYSQL_DSN; TRIBUTARY_DATA_DIR is the embedded store's directory"))
	}
	if c.DebugAddr != "" {
		if err := checkAddr(c.DebugAddr, "6060"); err != nil {
			errs = append(errs, fmt.Errorf("TRIBUTARY_DEBUG_ADDR%w (127.0.0.1:6060)", err))
		} else if sameSocket(c.Addr, c.DebugAddr) {
			errs = append(errs, fmt.Errorf("TRIBUTARY_DEBUG_ADDR takes the public address, TRIBUTARY_ADDR's: profiles are never served there; give the debug listener a port of its own"))
		}
	}
	return errors.Join(errs...)
}

// dsnShaped matches what a MySQL DSN has and a directory's name hardly
// does: the go-sql-driver protocol and address, tcp(…) or unix(…), at the
// start or after the user; user:password@ at the start, whatever follows
// (go-sql-driver's user:password@/dbname, or the address outside tcp(…),
// user:password@host:3306/dbname, as MySQL clients write it): a first
// path segment holding a ':' and then an '@' (the password may hold '/'
// and '@'); or a URL of a MySQL scheme.
var dsnShaped = regexp.MustCompile(`(?i)(^|@)(tcp|unix)\(|^[^/:@]*:.*@|^[a-z0-9+.-]*(mysql|mariadb)[a-z0-9+.-]*://`)

// validOrigin checks one entry of CORS_ORIGINS, of n in all: * alone,
// scheme://host[:port] with scheme http or https and nothing after, or
// scheme://*.domain[:port] for every subdomain of a domain of two labels or
// more. go-chi/cors matches an entry holding a * by the text before and
// after it, so any other place for one lets in origins nobody meant:
// https://* every https page, https://example.com* example.com.evil.example,
// https://*example.com evilexample.com. Errors never quote the entry: it
// may be a secret set in the wrong variable; the one for a * beside others
// follows "is *," in its caller's words.
func validOrigin(o string, n int) error {
	if o == "*" {
		if n > 1 {
			return errors.New("which allows every origin: give it alone")
		}
		return nil
	}
	scheme, hostPort, ok := strings.Cut(o, "://")
	if !ok || !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return errors.New("is not an origin: expected http:// or https:// and a host, such as https://app.example or http://localhost:3000")
	}
	host := hostPort
	if i := strings.LastIndexByte(hostPort, ':'); i >= 0 && !strings.HasSuffix(hostPort, "]") {
		host = hostPort[:i]
		port := hostPort[i+1:]
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
			return errors.New("is not an origin: its port must be a number from 1 to 65535 (an origin is scheme://host[:port], without a path, query or user)")
		}
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		if ip := net.ParseIP(host[1 : len(host)-1]); ip == nil || ip.To4() != nil {
			return errors.New("is not an origin: expected an IPv6 address between [ and ]")
		}
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
		return nil
	}
	labels := strings.Split(host, ".")
	if labels[0] == "*" {
		labels = labels[1:]
		if len(labels) < 2 {
			return errors.New("is not an origin: a * stands for the subdomains of a domain of two labels or more (https://*.example.com)")
		}
	}
	for _, l := range labels {
		if !dnsLabel(l) {
			return errors.New("is not an origin: expected scheme://host[:port] with a host name of letters, digits, - and dots " +
				"(no path, query or user), or * as the whole first label for every subdomain (https://*.example.com)")
		}
	}
	return nil
}

// withoutDefaultPort returns the origin o without its scheme's default port
// (https's 443, http's 80): a browser's Origin header leaves it out (RFC
// 6454 §6.2), so an entry with it would never match.
func withoutDefaultPort(o string) string {
	scheme, _, _ := strings.Cut(o, "://")
	for _, d := range []struct{ scheme, port string }{{"https", ":443"}, {"http", ":80"}} {
		if strings.EqualFold(scheme, d.scheme) && strings.HasSuffix(o, d.port) {
			return strings.TrimSuffix(o, d.port)
		}
	}
	return o
}

// dnsLabel reports whether l is one label of a host name: 1 to 63 letters,
// digits and dashes, neither first nor last a dash.
func dnsLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, r := range l {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// Why checkAddr refuses an address, to follow the variable's name.
var (
	errNotHostPort = errors.New(" is not host:port, host an IP address, a host name or empty, port a number or a service name")
	errPortUnknown = errors.New("'s port is neither a number from 0 to 65535 nor the name of a service this system knows " +
		"(Go's own, such as http and https, or one in /etc/services)")
	errPortRange = errors.New("'s port must be a number from 0 to 65535, written without leading zeros")
)

// checkAddr checks that addr is host:port to listen on: the host empty, an
// IP address (with a zone) or a host name, the port a number from 0 to
// 65535 or the name of a service the system knows, which net.Listen takes
// for its number (port). Such an address may be shown (see the package
// comment). An address that is not host:port but an IP address without a
// port, or an IPv6 address and a port without brackets, is refused saying
// how to write it, with examplePort for a port.
func checkAddr(addr, examplePort string) error {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		if err := howToWrite(addr, examplePort); err != nil {
			return err
		}
		return errNotHostPort
	}
	if _, ok := port(p); !ok {
		if serviceName(p) || p == "" {
			return errPortUnknown
		}
		// Digits only: a port as the operator meant it, out of range
		// (:99999) or written 08080, not something other than host:port.
		if strings.Trim(p, "0123456789") == "" {
			return errPortRange
		}
		return errNotHostPort
	}
	if host == "" || net.ParseIP(strings.SplitN(host, "%", 2)[0]) != nil {
		return nil
	}
	// A name's labels as dnsLabel takes them, and _ too (Compose's
	// service names).
	for _, l := range strings.Split(host, ".") {
		if !dnsLabel(strings.ReplaceAll(l, "_", "a")) {
			return errNotHostPort
		}
	}
	return nil
}

// howToWrite returns an error saying how to write addr, which is not
// host:port, where it is an IP address without a port (::1, [::1],
// 0.0.0.0), an IPv6 address and a port without brackets (::1:8080), or a
// host name without a port; else nil. Net.SplitHostPort refuses each, and
// "not host:port, host an IP address" sent an operator who had given one
// looking for another mistake. An IP address is shown (it holds no
// secret); a name is not, as a token set here by mistake may look like one.
func howToWrite(addr, examplePort string) error {
	ipv6 := func(s string) bool {
		ip, _, _ := strings.Cut(s, "%")
		return strings.Contains(s, ":") && net.ParseIP(ip) != nil
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	i := strings.LastIndexByte(addr, ':')
	// ::1:8080 is an IPv6 address, and ::1 with port 8080 too: say both.
	if i > 0 && ipv6(addr[:i]) && strings.Trim(addr[i+1:], "0123456789") == "" && addr[i+1:] != "" {
		host, p := addr[:i], addr[i+1:]
		err := fmt.Errorf(" is an IPv6 address and a port without brackets: write [%s]:%s; an IPv6 host goes between [ and ]", host, p)
		if ipv6(addr) {
			err = fmt.Errorf("%w (or, for the address %s itself, [%s]:%s)", err, addr, addr, examplePort)
		}
		return err
	}
	switch {
	case !strings.Contains(addr, ":") && checkAddr(":"+addr, examplePort) == nil && strings.Trim(addr, "0123456789") == "":
		return fmt.Errorf(" is not host:port but a port alone: write :%s (every interface) or 127.0.0.1:%s (this host only)", addr, addr)
	case ipv6(bare) && (bare == addr || "["+bare+"]" == addr):
		return fmt.Errorf(" has no port: write [%s]:%s (an IPv6 address between [ and ], then its port)", bare, examplePort)
	case net.ParseIP(addr) != nil:
		return fmt.Errorf(" has no port: write %s:%s", addr, examplePort)
	case !strings.Contains(addr, ":") && checkAddr(addr+":"+examplePort, examplePort) == nil:
		return fmt.Errorf(" has no port (the host is not shown): write host:%s", examplePort)
	}
	return nil
}

// port returns the number of a listen address's port: digits from 0 to
// 65535, written without a leading zero, or a service name (serviceName)
// the system knows, looked up as net.Listen looks it up.
func port(p string) (int, bool) {
	if n, err := strconv.Atoi(p); err == nil && strconv.Itoa(n) == p {
		return n, n >= 0 && n <= 65535
	}
	if !serviceName(p) {
		return 0, false
	}
	n, err := net.LookupPort("tcp", p)
	return n, err == nil
}

// serviceName reports whether s has the shape of a service name (RFC 6335
// §5.1): 1 to 15 letters, digits and dashes, a letter among them, neither
// first nor last a dash, no two dashes in a row.
func serviceName(s string) bool {
	if s == "" || len(s) > 15 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9' || r == '-':
		default:
			return false
		}
	}
	return letter
}

// sameSocket reports whether listening on a and on b would take the same
// socket: the same fixed port (a service name counts as its number), on
// the same host or with either on all interfaces. Port 0 picks a free port
// each time, so it never clashes.
func sameSocket(a, b string) bool {
	ha, sa, errA := net.SplitHostPort(a)
	hb, sb, errB := net.SplitHostPort(b)
	pa, okA := port(sa)
	pb, okB := port(sb)
	if errA != nil || errB != nil || !okA || !okB || pa != pb || pa == 0 {
		return false
	}
	ipA, ipB := net.ParseIP(ha), net.ParseIP(hb)
	anyHost := func(h string, ip net.IP) bool { return h == "" || ip != nil && ip.IsUnspecified() }
	return ha == hb || anyHost(ha, ipA) || anyHost(hb, ipB) || ipA != nil && ipA.Equal(ipB)
}

// Usage writes the table of variables, their defaults and meanings.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 1, 0, 2, ' ', 0)
	if err := envconfig.Usagef("", &Config{}, tw, envconfig.DefaultTableFormat); err != nil {
		return err
	}
	return tw.Flush()
}

// ShutdownReserve is the end of the shutdown timeout in which a stop cuts
// what still runs and closes the store: a second, or a fifth of a shorter
// timeout. Requests drain before it; the shutdown delay must end before it.
func (c Config) ShutdownReserve() time.Duration { return min(time.Second, c.ShutdownTimeout/5) }
