package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDebugAddrMustNotTakeThePublicAddress(t *testing.T) {
	tests := []struct {
		addr, debug string
		wantErr     string // "" when the pair is accepted
	}{
		{":8080", "", ""},
		{":8080", "127.0.0.1:6060", ""},
		{":8080", ":6060", ""},
		{"127.0.0.1:0", "127.0.0.1:0", ""}, // each gets a free port of its own
		{"127.0.0.1:8080", "10.0.0.1:8080", ""},
		{":8080", ":8080", "takes the public address"},
		{":8080", "127.0.0.1:8080", "takes the public address"},
		{"0.0.0.0:8080", "localhost:8080", "takes the public address"},
		{"127.0.0.1:8080", "[::]:8080", "takes the public address"},
		{"[::1]:8080", "[0:0:0:0:0:0:0:1]:8080", "takes the public address"},
		{"localhost:8080", "localhost:8080", "takes the public address"},
		{":8080", "6060", "is not host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.addr+" "+tt.debug, func(t *testing.T) {
			t.Setenv("TRIBUTARY_ADDR", tt.addr)
			t.Setenv("TRIBUTARY_DEBUG_ADDR", tt.debug)
			_, err := Load()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("TRIBUTARY_ADDR=%q TRIBUTARY_DEBUG_ADDR=%q: expected no error, got %v", tt.addr, tt.debug, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("TRIBUTARY_ADDR=%q TRIBUTARY_DEBUG_ADDR=%q: expected an error containing %q, got %v", tt.addr, tt.debug, tt.wantErr, err)
			}
		})
	}
}

// TestDefaultsAreWhatLoadReadsFromAnEmptyEnvironment: Defaults parses the
// same tags as envconfig does, to the same values.
func TestDefaultsAreWhatLoadReadsFromAnEmptyEnvironment(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TRIBUTARY_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	loaded, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := Defaults(); !reflect.DeepEqual(got, loaded) {
		t.Errorf("Defaults() = %+v\nLoad() with no variables set = %+v", got, loaded)
	}
}

func TestVarNamesTheEnvironmentVariable(t *testing.T) {
	t.Parallel()
	if got := Var("MaxBodyBytes"); got != "TRIBUTARY_MAX_BODY_BYTES" {
		t.Errorf("Var(MaxBodyBytes) = %q, want TRIBUTARY_MAX_BODY_BYTES", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Var of a name Config does not have did not panic")
		}
	}()
	Var("NoSuchSetting")
}

// TestBodyBytesInFlightRefusesNonsenseAndTakesAtLeastOneBody: 0 or a
// negative budget was taken silently as MAX_BODY_BYTES, where the other
// limits refuse such values at start-up; a positive one below
// MAX_BODY_BYTES is raised to it, as documented.
func TestBodyBytesInFlightRefusesNonsenseAndTakesAtLeastOneBody(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    int64
		wantErr string
	}{
		{"0", 0, "TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT must be at least 1"},
		{"-5", 0, "TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT must be at least 1"},
		{"1", 4194304, ""},
		{"536870912", 536870912, ""},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv("TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT", tc.value)
			c, err := Load()
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("%s: expected an error containing %q, got %v", tc.value, tc.wantErr, err)
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s: %v", tc.value, err)
			case tc.wantErr == "" && c.MaxBodyBytesInFlight != tc.want:
				t.Fatalf("%s: %d; expected %d", tc.value, c.MaxBodyBytesInFlight, tc.want)
			}
		})
	}
}

// TestOnlyTributaryVariablesAreRead: envconfig falls back, for a setting
// whose TRIBUTARY_ variable is unset, to the variable without the prefix,
// so that ADDR, MYSQL_DSN, API_TOKENS or DEBUG_ADDR, set in a shell or a
// container for something else, silently became the service's settings
// (a pprof listener where none was asked for, another database, tokens).
func TestOnlyTributaryVariablesAreRead(t *testing.T) {
	clearTributaryEnv(t)
	unprefixed := map[string]string{
		"ADDR":            "127.0.0.1:9999",
		"MYSQL_DSN":       "other:secret@tcp(db:3306)/other",
		"DATA_DIR":        "/elsewhere",
		"API_TOKENS":      "someone:write:abcdef0123456789",
		"DEBUG_ADDR":      "0.0.0.0:6060",
		"LOG_LEVEL":       "debug",
		"HEARTBEAT":       "1s",
		"MAX_BATCH":       "7",
		"REQUEST_TIMEOUT": "not-a-duration", // another program's, not ours to refuse
	}
	for k, v := range unprefixed {
		t.Setenv(k, v)
	}
	c, err := Load()
	if err != nil {
		t.Fatalf("Load with only unprefixed variables set: expected no error, got %v", err)
	}
	if want := Defaults(); !reflect.DeepEqual(c, want) {
		t.Errorf("Load read unprefixed variables %v:\ngot  %+v\nwant %+v", unprefixed, c, want)
	}
}

// clearTributaryEnv unsets every TRIBUTARY_ variable for the test.
func clearTributaryEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(strings.ToUpper(k), "TRIBUTARY_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// setTributaryEnv clears the TRIBUTARY_ variables, as clearTributaryEnv,
// and sets env's ("NAME=value" each) for the test.
func setTributaryEnv(t *testing.T, env []string) {
	t.Helper()
	clearTributaryEnv(t)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// TestANearMissOfASettingsNameIsRefused: a variable whose name is a setting's
// misspelt (TRIBUTARY_MYSQL_DNS), in another letter case, without its
// underscores, or with a suffix the service does not read
// (TRIBUTARY_MYSQL_DSN_FILE) was ignored, and the service started on the
// default: on the embedded store instead of MySQL, with no access control.
// Variables of other purposes that share the prefix (the tests', the
// example client's, Kubernetes' service links) are no near misses.
func TestANearMissOfASettingsNameIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"TRIBUTARY_MYSQL_DNS", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_API_TOKEN", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_API_TOKEN_FILE", "TRIBUTARY_API_TOKENS_FILE"},
		{"TRIBUTARY_SHUTDOWN_TIMOUT", "TRIBUTARY_SHUTDOWN_TIMEOUT"},
		{"TRIBUTARY_DATADIR", "TRIBUTARY_DATA_DIR"},
		{"tributary_mysql_dsn", "TRIBUTARY_MYSQL_DSN"},
		{"Tributary_Addr", "TRIBUTARY_ADDR"},
		{"TRIBUTRAY_MYSQL_DSN", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_MYSQL_DSN_FILE", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_HEARTBEAT_INTERVAL", "TRIBUTARY_HEARTBEAT"},
		{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGH", "TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv(tc.name, "user:s3cret@tcp(db:3306)/x")
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s set: expected an error naming it and %s, got %v", tc.name, tc.want, err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s set: the error quotes its value: %v", tc.name, err)
			}
		})
	}
	for _, name := range []string{"TRIBUTARY_TEST_MYSQL_DSN", "TRIBUTARY_DB_PASSWORD",
		"TRIBUTARY_UPDATE_SCREENSHOT", "TRIBUTARY_VERSION", "TRIBUTARY_PORT", "TRIBUTARY_SERVICE_HOST",
		"TRIBUTARY_SERVICE_PORT", "TRIBUTARY_PORT_8080_TCP", "TRIBUTARY_PORT_8080_TCP_ADDR", "TRIBUTARY_PORT_8080_TCP_PROTO",
		"TRIBUTARY_REPLICATION_PASSWORD", "MYSQL_DSN"} {
		t.Run(name, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv(name, "x")
			if _, err := Load(); err != nil {
				t.Fatalf("%s set: expected no error (it is no setting's near miss), got %v", name, err)
			}
		})
	}
}

// TestAnEmptyAddressOrDataDirectoryIsRefused: TRIBUTARY_ADDR set but empty
// (as `${TRIBUTARY_ADDR:-}` in a Compose file makes it) made the server
// listen on a random port on every interface; an empty TRIBUTARY_DATA_DIR
// on the embedded store failed with "mkdir : no such file or directory".
func TestAnEmptyAddressOrDataDirectoryIsRefused(t *testing.T) {
	for _, tc := range []struct {
		env     []string
		wantErr string
	}{
		{[]string{"TRIBUTARY_ADDR="}, "TRIBUTARY_ADDR is empty"},
		{[]string{"TRIBUTARY_ADDR=8080"}, "TRIBUTARY_ADDR is not host:port"},
		{[]string{"TRIBUTARY_ADDR=:65536"}, "TRIBUTARY_ADDR's port must be a number from 0 to 65535, written without leading zeros"},
		{[]string{"TRIBUTARY_ADDR=api_1.internal:8080"}, ""},
		{[]string{"TRIBUTARY_ADDR=[fe80::1%eth0]:8080"}, ""},
		{[]string{"TRIBUTARY_DATA_DIR="}, "TRIBUTARY_DATA_DIR is empty"},
		{[]string{"TRIBUTARY_DATA_DIR=", "TRIBUTARY_MYSQL_DSN=root@tcp(db:3306)/t"}, ""}, // not used with MySQL
		{[]string{"TRIBUTARY_ADDR=127.0.0.1:0"}, ""},
		// Set but empty (an empty Kubernetes Secret, a template left
		// blank), TRIBUTARY_MYSQL_DSN ran each instance on a log of its
		// own; unset, it is the embedded store, as README's first command.
		{[]string{"TRIBUTARY_MYSQL_DSN="}, "TRIBUTARY_MYSQL_DSN is set but empty"},
		{[]string{"TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_MYSQL_READ_DSN=root@tcp(db:3306)/t"}, "TRIBUTARY_MYSQL_DSN is set but empty"},
		{nil, ""},
		{[]string{"TRIBUTARY_MYSQL_READ_DSN="}, ""},  // compose.yaml's default: no replica
		{[]string{"TRIBUTARY_API_TOKENS_FILE="}, ""}, // compose.yaml's default: no file
	} {
		t.Run(strings.Join(tc.env, " "), func(t *testing.T) {
			setTributaryEnv(t, tc.env)
			_, err := Load()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%v: expected no error, got %v", tc.env, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("%v: expected an error containing %q, got %v", tc.env, tc.wantErr, err)
			}
		})
	}
}

// TestNegativeStartUpAndShutdownTimeoutsAreRefused: the other durations
// are checked, but TRIBUTARY_SHUTDOWN_TIMEOUT=-5s was taken and made SIGTERM
// wait for nothing, and TRIBUTARY_STARTUP_TIMEOUT=0 or below gave a database
// no time at all to answer.
func TestNegativeStartUpAndShutdownTimeoutsAreRefused(t *testing.T) {
	for _, tc := range []struct{ name, value, wantErr string }{
		{"TRIBUTARY_SHUTDOWN_TIMEOUT", "-5s", "TRIBUTARY_SHUTDOWN_TIMEOUT must not be negative, got -5s"},
		{"TRIBUTARY_SHUTDOWN_TIMEOUT", "0s", ""},
		{"TRIBUTARY_SHUTDOWN_TIMEOUT", "300ms", ""},
		{"TRIBUTARY_STARTUP_TIMEOUT", "-1s", "TRIBUTARY_STARTUP_TIMEOUT must be at least 1s (how long the start waits for the database; its default is 30s), got -1s"},
		{"TRIBUTARY_STARTUP_TIMEOUT", "0s", "TRIBUTARY_STARTUP_TIMEOUT must be at least 1s (how long the start waits for the database; its default is 30s), got 0s"},
		// Taken, 1ns gave no database time to answer, and the start
		// blamed the server.
		{"TRIBUTARY_STARTUP_TIMEOUT", "1ns", "TRIBUTARY_STARTUP_TIMEOUT must be at least 1s (how long the start waits for the database; its default is 30s), got 1ns"},
		{"TRIBUTARY_STARTUP_TIMEOUT", "999ms", "TRIBUTARY_STARTUP_TIMEOUT must be at least 1s (how long the start waits for the database; its default is 30s), got 999ms"},
		{"TRIBUTARY_STARTUP_TIMEOUT", "1s", ""},
		{"TRIBUTARY_STARTUP_TIMEOUT", "2s", ""},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv(tc.name, tc.value)
			_, err := Load()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s=%s: expected no error, got %v", tc.name, tc.value, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("%s=%s: expected an error containing %q, got %v", tc.name, tc.value, tc.wantErr, err)
			}
		})
	}
}

// TestNumbersAreDecimal: envconfig parses integers with base 0, so a
// zero-padded TRIBUTARY_MAX_SUBSCRIBERS=05000 was octal, 2560, and
// TRIBUTARY_MAX_BATCH=0100 was 64, without a word; 0x and 0b prefixes
// were taken too. A number is read in decimal, or refused.
func TestNumbersAreDecimal(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        func(Config) int64
		wantN       int64
		wantErr     string
	}{
		{"TRIBUTARY_MAX_SUBSCRIBERS", "05000", func(c Config) int64 { return int64(c.MaxSubscribers) }, 5000, ""},
		{"TRIBUTARY_MAX_BATCH", "0100", func(c Config) int64 { return int64(c.MaxBatch) }, 100, ""},
		{"TRIBUTARY_MYSQL_MAX_CONNS", "016", func(c Config) int64 { return int64(c.MySQLMaxConns) }, 16, ""},
		{"TRIBUTARY_MAX_BODY_BYTES", "4194304", func(c Config) int64 { return c.MaxBodyBytes }, 4194304, ""},
		{"TRIBUTARY_MAX_BATCH", "0x100", nil, 0, "TRIBUTARY_MAX_BATCH must be a whole number in decimal"},
		{"TRIBUTARY_MAX_EVENT_BYTES", "0b10000000000", nil, 0, "TRIBUTARY_MAX_EVENT_BYTES must be a whole number in decimal"},
		{"TRIBUTARY_MAX_BODY_BYTES", "4_194_304", nil, 0, "TRIBUTARY_MAX_BODY_BYTES must be a whole number in decimal"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv(tc.name, tc.value)
			c, err := Load()
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("%s=%s: expected an error containing %q, got %v", tc.name, tc.value, tc.wantErr, err)
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s=%s: expected no error, got %v", tc.name, tc.value, err)
			case tc.wantErr == "" && tc.want(c) != tc.wantN:
				t.Fatalf("%s=%s: read as %d, expected %d", tc.name, tc.value, tc.want(c), tc.wantN)
			}
		})
	}
}

// TestDurationsPastAYearAreRefused: a duration near the largest Go has
// overflowed where the service adds to it or doubles it:
// TRIBUTARY_REQUEST_TIMEOUT=2562047h47m16s started a server that answered
// every request by closing the connection (its write deadline, the timeout
// plus a grace, wrapped into the past), and a heartbeat past half of it
// made the stall timeout, two heartbeats, negative.
func TestDurationsPastAYearAreRefused(t *testing.T) {
	names := []string{"TRIBUTARY_REQUEST_TIMEOUT", "TRIBUTARY_READ_HEADER_TIMEOUT", "TRIBUTARY_READ_TIMEOUT", "TRIBUTARY_HEARTBEAT",
		"TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT", "TRIBUTARY_POLL_INTERVAL", "TRIBUTARY_STARTUP_TIMEOUT", "TRIBUTARY_SHUTDOWN_TIMEOUT"}
	for _, name := range names {
		for value, wantErr := range map[string]bool{"2562047h47m16s": true, "1500000h": true, "8761h": true, "8760h": false} {
			t.Run(name+"="+value, func(t *testing.T) {
				clearTributaryEnv(t)
				t.Setenv(name, value)
				_, err := Load()
				if wantErr && (err == nil || !strings.Contains(err.Error(), name+" must be at most 8760h")) {
					t.Fatalf("%s=%s: expected an error saying it must be at most 8760h, got %v", name, value, err)
				}
				if !wantErr && err != nil {
					t.Fatalf("%s=%s: expected no error, got %v", name, value, err)
				}
			})
		}
	}
}

// TestADataDirectoryWithSurroundingWhiteSpaceIsRefused: a value read from a
// file or a YAML block keeps its newline, and TRIBUTARY_DATA_DIR="/data\n"
// made a directory named "data\n" beside /data and started on an empty
// store there: the data seemed lost. Every other setting such a value
// reaches is refused by its parser; this one must be too.
func TestADataDirectoryWithSurroundingWhiteSpaceIsRefused(t *testing.T) {
	for _, v := range []string{"/data\n", " /data", "/data\t", "/data\r\n"} {
		clearTributaryEnv(t)
		t.Setenv("TRIBUTARY_DATA_DIR", v)
		if _, err := Load(); err == nil || !strings.Contains(err.Error(), "TRIBUTARY_DATA_DIR") {
			t.Errorf("TRIBUTARY_DATA_DIR=%q: expected an error naming it, got %v", v, err)
		}
	}
	clearTributaryEnv(t)
	t.Setenv("TRIBUTARY_DATA_DIR", "/srv/my data")
	if _, err := Load(); err != nil {
		t.Errorf("TRIBUTARY_DATA_DIR=%q: expected no error (white space inside is a name), got %v", "/srv/my data", err)
	}
}

// TestALogLevelIsOneOfFour: slog's level syntax takes offsets, so
// TRIBUTARY_LOG_LEVEL=debug+1000 (or error+1) was taken and silenced every
// line, errors included, where the README names four levels.
func TestALogLevelIsOneOfFour(t *testing.T) {
	for value, ok := range map[string]bool{"debug": true, "INFO": true, "warn": true, "error": true, "debug+1000": false, "error+1": false, "info-8": false} {
		t.Run(value, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv("TRIBUTARY_LOG_LEVEL", value)
			_, err := Load()
			switch {
			case ok && err != nil:
				t.Fatalf("TRIBUTARY_LOG_LEVEL=%s: expected no error, got %v", value, err)
			case !ok && (err == nil || !strings.Contains(err.Error(), "TRIBUTARY_LOG_LEVEL")):
				t.Fatalf("TRIBUTARY_LOG_LEVEL=%s: expected an error naming the variable, got %v", value, err)
			}
		})
	}
}

// TestAShutdownDelayIsRefusedWhenNegativeOrNotShorterThanTheTimeout: the
// delay during which a stopping server stays up but not ready counts
// inside the shutdown timeout, so one as long as the timeout would leave
// the drain nothing, and a negative one means nothing.
func TestAShutdownDelayIsRefusedWhenNegativeOrNotShorterThanTheTimeout(t *testing.T) {
	for _, tc := range []struct{ delay, timeout, wantErr string }{
		{"-1s", "30s", "TRIBUTARY_SHUTDOWN_DELAY must not be negative, got -1s"},
		{"30s", "30s", "TRIBUTARY_SHUTDOWN_DELAY (30s) must be less than TRIBUTARY_SHUTDOWN_TIMEOUT (30s)"},
		{"45s", "30s", "TRIBUTARY_SHUTDOWN_DELAY (45s) must be less than TRIBUTARY_SHUTDOWN_TIMEOUT (30s)"},
		{"1s", "0s", "TRIBUTARY_SHUTDOWN_DELAY (1s) must be less than TRIBUTARY_SHUTDOWN_TIMEOUT (0s)"},
		{"8761h", "8762h", "TRIBUTARY_SHUTDOWN_DELAY must be at most 8760h"},
		{"0s", "0s", ""},
		{"0s", "30s", ""},
		{"5s", "30s", ""},
		{"29s", "30s", "TRIBUTARY_SHUTDOWN_DELAY (29s) must leave time to drain within TRIBUTARY_SHUTDOWN_TIMEOUT (30s), whose last 1s cuts what still runs: at most 28.999s"},
		{"29.5s", "30s", "must leave time to drain"},
		{"1.9s", "2s", "must leave time to drain"},
		{"28s", "30s", ""},
		{"1.5s", "2s", ""},
	} {
		t.Run(tc.delay+"/"+tc.timeout, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv("TRIBUTARY_SHUTDOWN_DELAY", tc.delay)
			t.Setenv("TRIBUTARY_SHUTDOWN_TIMEOUT", tc.timeout)
			c, err := Load()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("delay %s, timeout %s: expected no error, got %v", tc.delay, tc.timeout, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("delay %s, timeout %s: expected an error containing %q, got %v", tc.delay, tc.timeout, tc.wantErr, err)
			case tc.wantErr == "":
				if want, _ := time.ParseDuration(tc.delay); c.ShutdownDelay != want {
					t.Fatalf("TRIBUTARY_SHUTDOWN_DELAY=%s: loaded %s", tc.delay, c.ShutdownDelay)
				}
			}
		})
	}
}

// TestTheShutdownDelayDefaultsToNone: unset, a stop drains at once, as it
// did before the setting existed.
func TestTheShutdownDelayDefaultsToNone(t *testing.T) {
	clearTributaryEnv(t)
	c, err := Load()
	if err != nil || c.ShutdownDelay != 0 {
		t.Fatalf("no TRIBUTARY_SHUTDOWN_DELAY: expected a delay of 0s and no error, got %s, %v", c.ShutdownDelay, err)
	}
}

// TestANamedPortIsTakenWhereTheSystemKnowsIt: net.Listen takes a service
// name for the port (":http", "127.0.0.1:https"), as operators of Go
// services expect, but the settings check refused every port that was not
// digits. A name the system knows (Go's own few, and /etc/services) is
// taken, and counts as its number where two addresses are compared; one it
// does not know is refused, naming the variable and saying a name must be a
// known service, without the value.
func TestANamedPortIsTakenWhereTheSystemKnowsIt(t *testing.T) {
	for _, tc := range []struct {
		addr, debug, wantErr string
	}{
		{":http", "", ""},
		{"127.0.0.1:https", "", ""},
		{":http", "127.0.0.1:6060", ""},
		{":8080", "127.0.0.1:http", ""},
		{":http", "127.0.0.1:80", "takes the public address"},
		{":80", "localhost:http", "takes the public address"},
		{":nosuchservice", "", "TRIBUTARY_ADDR's port is neither a number from 0 to 65535 nor the name of a service this system knows"},
		{":8080", ":nosuchservice", "TRIBUTARY_DEBUG_ADDR's port is neither a number from 0 to 65535 nor the name of a service this system knows"},
		{":http_", "", "TRIBUTARY_ADDR is not host:port"},
		// A number out of range is said so, not "not host:port".
		{":99999", "", "TRIBUTARY_ADDR's port must be a number from 0 to 65535, written without leading zeros"},
		{":8080", "127.0.0.1:70000", "TRIBUTARY_DEBUG_ADDR's port must be a number from 0 to 65535, written without leading zeros"},
		{":08080", "", "TRIBUTARY_ADDR's port must be a number from 0 to 65535, written without leading zeros"},
		{":-http", "", "TRIBUTARY_ADDR is not host:port"},
		{":" + strings.Repeat("h", 16), "", "TRIBUTARY_ADDR is not host:port"},
	} {
		t.Run(tc.addr+" "+tc.debug, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv("TRIBUTARY_ADDR", tc.addr)
			t.Setenv("TRIBUTARY_DEBUG_ADDR", tc.debug)
			_, err := Load()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("TRIBUTARY_ADDR=%q TRIBUTARY_DEBUG_ADDR=%q: expected no error, got %v", tc.addr, tc.debug, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("TRIBUTARY_ADDR=%q TRIBUTARY_DEBUG_ADDR=%q: expected an error containing %q, got %v", tc.addr, tc.debug, tc.wantErr, err)
			case err != nil && (strings.Contains(err.Error(), "nosuchservice") || strings.Contains(err.Error(), "http_") || strings.Contains(err.Error(), "hhhh")):
				t.Fatalf("TRIBUTARY_ADDR=%q TRIBUTARY_DEBUG_ADDR=%q: the error quotes the value: %v", tc.addr, tc.debug, err)
			}
		})
	}
}

// TestMaxSubscribersPerClientIsZeroOrMore: 0, its default, leaves the
// share to the server (half of TRIBUTARY_MAX_SUBSCRIBERS); a negative
// number means nothing and is refused naming the variable.
func TestMaxSubscribersPerClientIsZeroOrMore(t *testing.T) {
	for value, wantErr := range map[string]string{"": "", "0": "", "10": "", "-1": "TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT must be 0"} {
		t.Run(value, func(t *testing.T) {
			clearTributaryEnv(t)
			if value != "" {
				t.Setenv("TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT", value)
			}
			_, err := Load()
			switch {
			case wantErr == "" && err != nil:
				t.Fatalf("TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT=%q: expected no error, got %v", value, err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Fatalf("TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT=%q: expected an error containing %q, got %v", value, wantErr, err)
			}
		})
	}
}

// TestMaxClientBytesInFlightIsZeroOrMore: 0, its default, leaves the share
// to the server (half of TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT); a negative
// number means nothing and is refused naming the variable.
func TestMaxClientBytesInFlightIsZeroOrMore(t *testing.T) {
	for value, wantErr := range map[string]string{"": "", "0": "", "1048576": "", "-1": "TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT must be 0"} {
		t.Run(value, func(t *testing.T) {
			clearTributaryEnv(t)
			if value != "" {
				t.Setenv("TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT", value)
			}
			_, err := Load()
			switch {
			case wantErr == "" && err != nil:
				t.Fatalf("TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT=%q: expected no error, got %v", value, err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Fatalf("TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT=%q: expected an error containing %q, got %v", value, wantErr, err)
			}
		})
	}
}

// TestASettingPastItsTypesRangeSaysSo: a number too large for its setting
// (TRIBUTARY_MAX_BODY_BYTES=99999999999999999999) was called "not a whole
// number in decimal", which it is, and a duration past Go's largest
// (TRIBUTARY_REQUEST_TIMEOUT=3000000h) "not a duration such as 30s": the
// operator was sent looking for a typo. Each says it is too large (or
// small) and gives the bound, still without the value. From a black-box
// tester.
func TestASettingPastItsTypesRangeSaysSo(t *testing.T) {
	for _, tc := range []struct{ name, value, want, wrong string }{
		{"TRIBUTARY_MAX_BODY_BYTES", "99999999999999999999", "TRIBUTARY_MAX_BODY_BYTES is too large: it must be at most 9223372036854775807", "whole number"},
		{"TRIBUTARY_MAX_BODY_BYTES", "+099999999999999999999", "TRIBUTARY_MAX_BODY_BYTES must be a whole number in decimal", "too large"}, // a + is no decimal digit, whatever follows
		{"TRIBUTARY_MAX_BATCH", "99999999999999999999", "TRIBUTARY_MAX_BATCH is too large: it must be at most 9223372036854775807", "whole number"},
		{"TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT", "-99999999999999999999", "TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT is too small: it must be at least -9223372036854775808", "whole number"},
		{"TRIBUTARY_REQUEST_TIMEOUT", "3000000h", "TRIBUTARY_REQUEST_TIMEOUT is too long: it must be at most 8760h0m0s", "such as"},
		{"TRIBUTARY_HEARTBEAT", "1.5e3h", "TRIBUTARY_HEARTBEAT must be a duration such as", "too long"}, // not a duration: not one too long
		{"TRIBUTARY_MAX_BATCH", "1e30", "TRIBUTARY_MAX_BATCH must be a whole number in decimal", "too large"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv(tc.name, tc.value)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.wrong) || strings.Contains(err.Error(), tc.value) {
				t.Fatalf("%s=%s: expected an error saying %q, not %q, without the value; got %v", tc.name, tc.value, tc.want, tc.wrong, err)
			}
		})
	}
}

// TestAnySettingWithSurroundingWhiteSpaceIsRefusedNamingIt: a value from a
// file made with echo, or a YAML | block, keeps its newline. Only
// TRIBUTARY_DATA_DIR was said to begin or end with white space; the others
// got "must be a duration such as 30s" (their value, rightly, not shown), a
// DSN "Incorrect database name 'r1⏎'", though the manifest said 30s or r1
// (operator tester). Every setting with surrounding white space is now
// refused naming it and the cause, its value never quoted; the two lists
// that trim each entry (tokens, CORS origins) still do.
func TestAnySettingWithSurroundingWhiteSpaceIsRefusedNamingIt(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"TRIBUTARY_REQUEST_TIMEOUT", "30s\n"},
		{"TRIBUTARY_SHUTDOWN_DELAY", "5s "},
		{"TRIBUTARY_MYSQL_MAX_CONNS", "16\n"},
		{"TRIBUTARY_MAX_BATCH", " 10"},
		{"TRIBUTARY_LOG_LEVEL", "info\n"},
		{"TRIBUTARY_ADDR", "127.0.0.1:18201\n"},
		{"TRIBUTARY_MYSQL_DSN", "app:s3cret-pass@tcp(127.0.0.1:3306)/r1\n"},
		{"TRIBUTARY_MYSQL_DSN", " app:s3cret-pass@tcp(127.0.0.1:3306)/r1"},
		{"TRIBUTARY_API_TOKENS_FILE", "/run/secrets/tokens\r\n"},
		{"TRIBUTARY_ALLOW_UNSAFE_DURABILITY", "true\n"},
	} {
		clearTributaryEnv(t)
		t.Setenv(tc.name, tc.value)
		_, err := Load()
		if err == nil || !strings.Contains(err.Error(), tc.name+" begins or ends with white space") {
			t.Errorf("%s=%q: expected an error naming it and the white space, got %v", tc.name, tc.value, err)
			continue
		}
		if v := strings.TrimSpace(tc.value); strings.Contains(err.Error(), v) {
			t.Errorf("%s: the error quotes the value: %v", tc.name, err)
		}
	}
	for _, name := range []string{"TRIBUTARY_API_TOKENS", "TRIBUTARY_CORS_ORIGINS"} {
		clearTributaryEnv(t)
		value := "https://app.example\n"
		if name == "TRIBUTARY_API_TOKENS" {
			value = "ci:write:0123456789abcdef0123\n"
		}
		t.Setenv(name, value)
		if _, err := Load(); err != nil {
			t.Errorf("%s with a trailing newline: expected it trimmed, as its entries are, got %v", name, err)
		}
	}
}

// TestADSNInTheDataDirectoryIsRefusedUnshown: a MySQL DSN set in
// TRIBUTARY_DATA_DIR by mistake (TRIBUTARY_MYSQL_DSN unset) started the
// embedded store in a directory named after the DSN, password included,
// and the start-up's store line logged that path: the operator meant
// MySQL and got a single-node store, and the password went to the logs.
// Such a value is refused, naming the setting a DSN goes in, never shown.
func TestADSNInTheDataDirectoryIsRefusedUnshown(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		refused bool
	}{
		{"svc:S3cr3t;pw@x@tcp(127.0.0.1:33917)/ops1", true},
		{"svc:S3cr3t@tcp(db:3306)/tributary?parseTime=true", true},
		{"svc@tcp(db)/t", true},
		{"tcp(db:3306)/t", true},
		{"svc:S3cr3t@unix(/run/mysqld/mysqld.sock)/t", true},
		{"mysql://svc:S3cr3t@db:3306/t", true},
		{"MySQL://svc:S3cr3t@db/t", true},
		{"mariadb://svc:S3cr3t@db/t", true},
		// go-sql-driver's commonest shape: no protocol nor address
		// (localhost:3306), user:password@/dbname (hostile review, F13).
		{"svc:S3cr3t@/tributary", true},
		{"svc:S3cr3t@/tributary?parseTime=true", true},
		{"svc:S3cr3t;pw@x/y@/tributary", true},
		{"svc:@/tributary", true},
		// The address outside tcp(…), as MySQL clients write it
		// (review2 F4: quoted whole, password and all, on stderr).
		{"svc:S3cr3t@localhost:3306/tributary", true},
		{"svc:S3cr3t@127.0.0.1/tributary", true},
		{"svc:S3cr3t@db", true},
		{"./data", false},
		{"./data:v2", false},
		{"/srv/backup:old@/data", false},
		{"/var/lib/tributary", false},
		{"/srv/backup@2026-12-01/data", false},
		{"data (old)", false},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv("TRIBUTARY_DATA_DIR", tc.dir)
			_, err := Load()
			switch {
			case !tc.refused && err != nil:
				t.Fatalf("TRIBUTARY_DATA_DIR=%q: expected no error, got %v", tc.dir, err)
			case tc.refused && (err == nil || !strings.Contains(err.Error(), "TRIBUTARY_DATA_DIR") || !strings.Contains(err.Error(), "TRIBUTARY_MYSQL_DSN")):
				t.Fatalf("TRIBUTARY_DATA_DIR=%q: expected an error naming it and TRIBUTARY_MYSQL_DSN, got %v", tc.dir, err)
			case err != nil && (strings.Contains(err.Error(), "S3cr3t") || strings.Contains(err.Error(), "svc")):
				t.Fatalf("TRIBUTARY_DATA_DIR=%q: the error shows the value: %v", tc.dir, err)
			}
		})
	}
}

// TestALongPollIntervalOrHeartbeatIsWarnedOf: TRIBUTARY_POLL_INTERVAL=100s
// (100ms meant) started without a word, and a subscriber of that instance
// saw events other instances wrote up to 100 s late; TRIBUTARY_HEARTBEAT
// past a proxy's idle timeout (60 s: nginx's, AWS ALB's) let it cut every
// quiet subscription. Each is warned of past its bound, naming what it
// costs; at the bound, nothing is said.
func TestALongPollIntervalOrHeartbeatIsWarnedOf(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string // in a warning; "" for none about these
	}{
		{[]string{"TRIBUTARY_POLL_INTERVAL=100s"}, "TRIBUTARY_POLL_INTERVAL (1m40s) is above 5s"},
		{[]string{"TRIBUTARY_POLL_INTERVAL=5s"}, ""},
		{[]string{"TRIBUTARY_HEARTBEAT=8760h"}, "TRIBUTARY_HEARTBEAT (8760h0m0s) is above 1m0s"},
		{[]string{"TRIBUTARY_HEARTBEAT=60s", "TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT=120s"}, ""},
		{nil, ""},
	} {
		t.Run(strings.Join(tc.env, " "), func(t *testing.T) {
			setTributaryEnv(t, tc.env)
			c, err := Load()
			if err != nil {
				t.Fatalf("%v: %v", tc.env, err)
			}
			var said []string
			for _, w := range c.Warnings() {
				if strings.Contains(w, "TRIBUTARY_POLL_INTERVAL (") || strings.Contains(w, "TRIBUTARY_HEARTBEAT (") {
					said = append(said, w)
				}
			}
			switch {
			case tc.want == "" && len(said) > 0:
				t.Errorf("%v: expected no warning of the poll interval or the heartbeat; got %q", tc.env, said)
			case tc.want != "" && (len(said) != 1 || !strings.Contains(said[0], tc.want)):
				t.Errorf("%v: expected one warning saying %q; got %q", tc.env, tc.want, said)
			}
		})
	}
}
