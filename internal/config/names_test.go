package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// serviceLinks returns the variables Kubernetes injects into a pod for a
// Service named service with the given ports (name, number, protocol), as
// its docs and kubelet's envvars.FromServices write them: the name
// upper-cased, '-' made '_'.
func serviceLinks(service string, ports ...struct {
	name  string
	port  string
	proto string
}) []string {
	n := strings.ToUpper(strings.ReplaceAll(service, "-", "_"))
	env := []string{n + "_SERVICE_HOST=10.0.0.11", n + "_PORT=tcp://10.0.0.11:" + ports[0].port}
	for i, p := range ports {
		if i == 0 {
			env = append(env, n+"_SERVICE_PORT="+p.port)
		}
		if p.name != "" {
			env = append(env, n+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.name, "-", "_"))+"="+p.port)
		}
		pp := n + "_PORT_" + p.port + "_" + strings.ToUpper(p.proto)
		env = append(env, pp+"=tcp://10.0.0.11:"+p.port, pp+"_PROTO="+p.proto, pp+"_PORT="+p.port, pp+"_ADDR=10.0.0.11")
	}
	return env
}

// TestKubernetesServiceLinksNeverStopTheStartUp: Kubernetes gives every pod
// variables for each Service of its namespace (unless enableServiceLinks
// is false), and a Service named tributary-addr made
// TRIBUTARY_ADDR_SERVICE_HOST, which the near-miss check took for
// TRIBUTARY_ADDR with a suffix: the server refused to start in that
// namespace. Real near misses are still refused.
func TestKubernetesServiceLinksNeverStopTheStartUp(t *testing.T) {
	t.Parallel()
	type port = struct{ name, port, proto string }
	services := []string{"tributary", "tributary-mysql", "tributary-addr", "tributary-debug", "tributary-api",
		"tributary-mysql-read", "tributary-data-dir", "tributary-debug-addr", "tributary-mysql-dsn", "tributary-heartbeat",
		"tributary-log-level", "tributary-api-tokens", "tributary-max-batch", "tributary-shutdown-timeout", "tributary-cors-origins"}
	for _, svc := range services {
		for _, ports := range [][]port{
			{{"", "8080", "TCP"}},
			{{"http", "8080", "TCP"}, {"debug-pprof", "6060", "TCP"}, {"dns", "53", "UDP"}, {"sig", "9000", "SCTP"}},
		} {
			env := serviceLinks(svc, ports...)
			if err := nearMisses(env, false); err != nil {
				t.Errorf("the service links of a Service named %s (%d ports): expected no error, got %v", svc, len(ports), err)
			}
		}
	}
}

// TestNearMissesAreRefusedAndOtherNamesLeftAlone is the table of names the
// check refuses (naming the setting meant) and leaves alone.
func TestNearMissesAreRefusedAndOtherNamesLeftAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"TRIBUTARY_API_TOKEN", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_MYSQL_DNS", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_MYSQL_DSN_FILES", "TRIBUTARY_MYSQL_DSN_FILE"},
		{"TRIBUTARY_ADDR_FILE", "TRIBUTARY_ADDR"},
		{"tributary_addr", "TRIBUTARY_ADDR"},
		{"tributary_service_host", "TRIBUTARY_ADDR"}, // lower case: no service link, and in the prefix
		{"tributary_addr_service_host", "TRIBUTARY_ADDR"},
		{"TRIBUTARY_ADDR_SERVICE", "TRIBUTARY_ADDR"},
		{"TRIBUTARY_ADDR_PORT_8080", "TRIBUTARY_ADDR"},
		{"TRIBUTARY_ADDR_PORT_8080_HTTP", "TRIBUTARY_ADDR"},
		{"TRIBUTARY_ADDR_PORT_X_TCP", "TRIBUTARY_ADDR"},
		{"TRIBUTARY_MYSQL_DSN_SERVICE_HOSTS", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_MYSQL_DSN_SERVICE_PORT_", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_TEST_MYSQL_DSN", ""},
		{"TRIBUTARY_PORT", ""},
	} {
		err := nearMisses([]string{tc.name + "=user:s3cret@tcp(db:3306)/x"}, false)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: expected no error, got %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "did you mean "+tc.want+"?")):
			t.Errorf("%s: expected an error pointing at %s, got %v", tc.name, tc.want, err)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%s: the error quotes the value: %v", tc.name, err)
		}
	}
}

// TestTheNearMissCheckAgreesWithHowTheOSReadsNames: on Windows environment
// names are case-insensitive, so Tributary_Addr is read as TRIBUTARY_ADDR,
// yet the check refused it as a near miss in another letter case: the
// server could not start with a setting it reads. Where names are
// case-sensitive the same name is not read, and is refused.
func TestTheNearMissCheckAgreesWithHowTheOSReadsNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		caseInsensitive bool
		want            string // the setting the error points at; "" for none
	}{
		{"Tributary_Addr", true, ""},
		{"tributary_mysql_dsn", true, ""},
		{"TRIBUTARY_ADDR", true, ""},
		{"Tributary_Mysql_Dns", true, "TRIBUTARY_MYSQL_DSN"},
		{"tributary_api_token", true, "TRIBUTARY_API_TOKENS"},
		{"Tributary_Addr", false, "TRIBUTARY_ADDR"},
		{"tributary_mysql_dsn", false, "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_ADDR", false, ""},
	} {
		err := nearMisses([]string{tc.name + "=x"}, tc.caseInsensitive)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s (case-insensitive names: %v): expected no error, got %v", tc.name, tc.caseInsensitive, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "did you mean "+tc.want+"?")):
			t.Errorf("%s (case-insensitive names: %v): expected an error pointing at %s, got %v", tc.name, tc.caseInsensitive, tc.want, err)
		}
	}
}

// TestTheWhiteSpaceCheckAgreesWithHowTheOSReadsNames: on Windows, where
// Tributary_Data_Dir is read as TRIBUTARY_DATA_DIR, the check for white
// space around a value matched setting names exactly, so "data⏎" given
// under another letter case passed it and the store started in a
// directory named with the newline. Where names are case-sensitive the
// same name is not read, and is not checked.
func TestTheWhiteSpaceCheckAgreesWithHowTheOSReadsNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		caseInsensitive bool
		refused         bool
	}{
		{"TRIBUTARY_DATA_DIR", false, true},
		{"TRIBUTARY_DATA_DIR", true, true},
		{"Tributary_Data_Dir", true, true},
		{"tributary_mysql_dsn", true, true},
		{"Tributary_Data_Dir", false, false},
		{"tributary_cors_origins", true, false}, // trimmed entry by entry
	} {
		err := surroundingSpace([]string{tc.name + "=data\n"}, tc.caseInsensitive)
		switch {
		case !tc.refused && err != nil:
			t.Errorf("%s=%q (case-insensitive names: %v): expected no error, got %v", tc.name, "data\n", tc.caseInsensitive, err)
		case tc.refused && (err == nil || !strings.Contains(err.Error(), tc.name+" begins or ends with white space")):
			t.Errorf("%s=%q (case-insensitive names: %v): expected an error naming it and the white space, got %v", tc.name, "data\n", tc.caseInsensitive, err)
		}
	}
}

// TestEveryUnknownNameUnderThePrefixIsRefused: names that leave out a word
// of a setting's, or say it in other words, were no near miss by spelling
// and were ignored: TRIBUTARY_TOKENS started the server with no access
// control, TRIBUTARY_DSN on the embedded store. The prefix is the
// service's namespace: an unknown name in it is refused, pointing at the
// setting it most resembles; only the names other parts of the project
// read (the tests', the Compose files', the example client's) and
// Kubernetes' service links are left alone.
func TestEveryUnknownNameUnderThePrefixIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"TRIBUTARY_TOKENS", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_TOKEN", "TRIBUTARY_API_TOKENS"}, // the example client's, but no tokens are set
		{"TRIBUTARY_TOKENS_FILE", "TRIBUTARY_API_TOKENS_FILE"},
		{"TRIBUTARY_API_KEYS", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_ACCESS_TOKENS", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_AUTH_TOKENS", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_DSN", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_MYSQL", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_MYSQL_URL", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_DATABASE_URL", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_DB_DSN", "TRIBUTARY_MYSQL_DSN"},
		{"TRIBUTARY_READ_DSN", "TRIBUTARY_MYSQL_READ_DSN"},
		{"TRIBUTARY_MYSQL_REPLICA_DSN", "TRIBUTARY_MYSQL_READ_DSN"},
		{"TRIBUTARY_MAX_CONNS", "TRIBUTARY_MYSQL_MAX_CONNS"},
		{"TRIBUTARY_LISTEN_ADDR", "TRIBUTARY_ADDR"},
		{"TRIBUTARY_HTTP_ADDR", "TRIBUTARY_ADDR"},
		{"TRIBUTARY_CORS", "TRIBUTARY_CORS_ORIGINS"},
		{"TRIBUTARY_ALLOWED_ORIGINS", "TRIBUTARY_CORS_ORIGINS"},
		{"TRIBUTARY_SHUTDOWN_GRACE", "TRIBUTARY_SHUTDOWN_TIMEOUT"},
		{"TRIBUTARY_DIR", "TRIBUTARY_DATA_DIR"},
		{"TRIBUTARY_SOMETHING_ELSE", "TRIBUTARY_"}, // no word shared: still refused, with the closest name
		{"tributary_service_host", "TRIBUTARY_"},   // lower case: no service link
	} {
		err := nearMisses([]string{tc.name + "=user:s3cret@tcp(db:3306)/x"}, false)
		switch {
		case err == nil || !strings.Contains(err.Error(), tc.name+" is not a setting") || !strings.Contains(err.Error(), "did you mean "+tc.want):
			t.Errorf("%s: expected an error naming it and pointing at %s, got %v", tc.name, tc.want, err)
		case strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%s: the error quotes the value: %v", tc.name, err)
		}
	}
	for _, env := range [][]string{
		{"TRIBUTARY_TEST_MYSQL_DSN=root@tcp(127.0.0.1:3306)/"},
		{"TRIBUTARY_UPDATE_SCREENSHOT=1"},
		{"TRIBUTARY_CLIENT_TEST_NO_ROOTS=1"},
		{"TRIBUTARY_VERSION=v1", "TRIBUTARY_PORT=8081", "TRIBUTARY_DB_PASSWORD=x", "TRIBUTARY_REPLICATION_PASSWORD=x"},
		{"TRIBUTARY_TOKEN=abcdef0123456789", "TRIBUTARY_API_TOKENS=svc:write:abcdef0123456789"},
		{"TRIBUTARY_TOKEN=abcdef0123456789", "TRIBUTARY_API_TOKENS_FILE=/run/secrets/tokens"},
		{"TRIBUTARY_SERVICE_HOST=10.0.0.1", "TRIBUTARY_PORT_8080_TCP_ADDR=10.0.0.1"},
		{"TRIBUTARY_MYSQL_DSN=x", "TRIBUTARY_ADDR=:8080", "TRIBUTARY_MYSQL_MAX_CONNS=4"},
		{"OTHER_TOKENS=x", "DSN=x"},
	} {
		if err := nearMisses(env, false); err != nil {
			t.Errorf("%v: expected no error, got %v", env, err)
		}
	}
}

// TestEveryNameTheComposeFilesReadIsTakenByTheService: each ${TRIBUTARY_…}
// a Compose file interpolates may be set in the shell or a .env file that
// feeds the service's environment too, so the service must not refuse it as
// a misspelt setting: it is a setting, or one of others.
func TestEveryNameTheComposeFilesReadIsTakenByTheService(t *testing.T) {
	files, err := filepath.Glob("../../compose*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("expected the Compose files at the repository's root, got %v, %v", files, err)
	}
	ref := regexp.MustCompile(`\$\{(TRIBUTARY_[A-Z0-9_]+)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			if err := nearMisses([]string{m[1] + "=x"}, false); err != nil {
				t.Errorf("%s reads %s, which the service refuses when it is in its environment: %v", filepath.Base(f), m[1], err)
			}
		}
	}
}
