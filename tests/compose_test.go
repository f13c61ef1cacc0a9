package tests

// compose.yaml (and its MariaDB variant) loaded with the Compose
// specification's own loader, the one `docker compose` uses, and its wiring
// checked: containers cannot run here.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/config"
)

// loadCompose loads files (relative to the repository root) as
// `docker compose -f … config` would with only env set: no .env file and
// none of this machine's variables, so each ${VAR:-default} takes its default
// unless env sets VAR.
func loadCompose(t *testing.T, env []string, files ...string) *types.Project {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(repoRoot, f))
	}
	opts, err := cli.NewProjectOptions(paths, cli.WithWorkingDirectory(repoRoot), cli.WithEnv(env))
	if err != nil {
		t.Fatalf("compose options for %v: %v", files, err)
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("load %v: %v", files, err)
	}
	return p
}

// service returns the project's service name, or fails the test.
func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("compose: expected a service %q: %v", name, err)
	}
	return s
}

// environ is a service's environment with unset variables as "".
func environ(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out
}

// settings are the TRIBUTARY_* variables the service reads, with their
// defaults, from the same struct tags `api help` prints.
func settings() map[string]string {
	out := map[string]string{}
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" {
			out[name] = f.Tag.Get("default")
		}
	}
	return out
}

// checkDatabase checks the db service of p: an image matching image, a
// health check, the durability settings the service insists on and a named
// volume for its data, and no port published to the host.
func checkDatabase(t *testing.T, p *types.Project, image *regexp.Regexp) types.ServiceConfig {
	t.Helper()
	db := service(t, p, "db")
	if !image.MatchString(db.Image) {
		t.Errorf("compose db: expected an image matching %s (a pinned tag), got %q", image, db.Image)
	}
	if h := db.HealthCheck; h == nil || h.Disable || len(h.Test) < 2 || h.Test[0] == "NONE" || h.Interval == nil {
		t.Errorf("compose db: expected a health check with a test and an interval, got %+v", h)
	}
	for _, flag := range []string{"--innodb-flush-log-at-trx-commit=1", "--sync-binlog=1"} {
		if !slices.Contains(db.Command, flag) {
			t.Errorf("compose db: expected %s in its command (the service refuses a database that can lose commits), got %q", flag, db.Command)
		}
	}
	var data *types.ServiceVolumeConfig
	for i, v := range db.Volumes {
		if v.Target == "/var/lib/mysql" {
			data = &db.Volumes[i]
		}
	}
	if data == nil || data.Type != types.VolumeTypeVolume {
		t.Errorf("compose db: expected a named volume at /var/lib/mysql, got %+v", db.Volumes)
	} else if _, ok := p.Volumes[data.Source]; !ok {
		t.Errorf("compose db: its volume %q is not declared under volumes", data.Source)
	}
	if len(db.Ports) > 0 {
		t.Errorf("compose db: expected no published ports (only the api reaches it), got %+v", db.Ports)
	}
	return db
}

func TestComposeRunsTheServiceOnAHealthyDurableMySQL(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, nil, "compose.yaml")
	db := checkDatabase(t, p, regexp.MustCompile(`^mysql:8\.4\.\d+$`))
	api := service(t, p, "api")

	if b := api.Build; b == nil || filepath.Clean(b.Context) != p.WorkingDir || (b.Dockerfile != "" && b.Dockerfile != "Dockerfile") {
		t.Errorf("compose api: expected to build the repository's Dockerfile, got %+v", b)
	} else if v := b.Args["VERSION"]; v == nil || *v == "" {
		t.Errorf("compose api: expected the build argument VERSION, got %v", b.Args)
	}
	if dep, ok := api.DependsOn["db"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("compose api: expected depends_on db with condition service_healthy, got %+v", api.DependsOn)
	}
	if len(api.Ports) != 1 || api.Ports[0].Target != 8080 || api.Ports[0].Published != "8080" {
		t.Errorf("compose api: expected port 8080 published as 8080, got %+v", api.Ports)
	}

	env := environ(api)
	if env["TRIBUTARY_ADDR"] != ":8080" {
		t.Errorf("compose api: expected TRIBUTARY_ADDR :8080, the published port and the image's health check address, got %q", env["TRIBUTARY_ADDR"])
	}
	dsn, err := mysql.ParseDSN(env["TRIBUTARY_MYSQL_DSN"])
	if err != nil {
		t.Fatalf("compose api: TRIBUTARY_MYSQL_DSN %q: %v", env["TRIBUTARY_MYSQL_DSN"], err)
	}
	dbEnv := environ(db)
	if dsn.Addr != "db:3306" || dsn.DBName != dbEnv["MYSQL_DATABASE"] || dsn.User != dbEnv["MYSQL_USER"] || dsn.Passwd != dbEnv["MYSQL_PASSWORD"] || dsn.DBName == "" {
		t.Errorf("compose api: expected TRIBUTARY_MYSQL_DSN to reach db:3306 as MYSQL_USER with MYSQL_PASSWORD, database MYSQL_DATABASE (%s), got %q", dbEnv["MYSQL_DATABASE"], env["TRIBUTARY_MYSQL_DSN"])
	}
	shutdown, err := time.ParseDuration(env["TRIBUTARY_SHUTDOWN_TIMEOUT"])
	if err != nil || api.StopGracePeriod == nil || time.Duration(*api.StopGracePeriod) <= shutdown {
		t.Errorf("compose api: expected a stop_grace_period longer than TRIBUTARY_SHUTDOWN_TIMEOUT %q, got %v", env["TRIBUTARY_SHUTDOWN_TIMEOUT"], api.StopGracePeriod)
	}

	// The password is set once, for both services.
	p = loadCompose(t, []string{"TRIBUTARY_DB_PASSWORD=s3cret"}, "compose.yaml")
	if dsn, err := mysql.ParseDSN(environ(service(t, p, "api"))["TRIBUTARY_MYSQL_DSN"]); err != nil || dsn.Passwd != "s3cret" || environ(service(t, p, "db"))["MYSQL_PASSWORD"] != "s3cret" {
		t.Errorf("compose with TRIBUTARY_DB_PASSWORD=s3cret: expected it in the DSN and in MYSQL_PASSWORD, got DSN error %v and %+v", err, environ(service(t, p, "db")))
	}
}

// TestComposeListsEverySettingWithItsDefault: compose.yaml names every
// variable `api help` lists, and no other, each with the service's own
// default and taken from the shell or .env when set there; only the two
// its wiring fixes keep their value. TRIBUTARY_MYSQL_DSN was fixed too, and
// one set in .env (a managed database) was ignored without a word: the
// service wrote to the bundled db.
func TestComposeListsEverySettingWithItsDefault(t *testing.T) {
	t.Parallel()
	// Fixed by the wiring, and checked by the other tests.
	fixed := map[string]bool{"TRIBUTARY_ADDR": true, "TRIBUTARY_DATA_DIR": true}
	want := settings()
	env := environ(service(t, loadCompose(t, nil, "compose.yaml"), "api"))
	for name, def := range want {
		got, ok := env[name]
		switch {
		case !ok:
			t.Errorf("compose api: expected %s in its environment, got none", name)
		case name == "TRIBUTARY_MYSQL_DSN":
			// The bundled db's, checked by TestComposeRunsTheServiceOnAHealthyDurableMySQL.
		case !fixed[name] && got != def:
			t.Errorf("compose api: expected %s to default to the service's %q, got %q", name, def, got)
		}
	}
	for name := range env {
		if _, ok := want[name]; !ok && strings.HasPrefix(name, "TRIBUTARY_") {
			t.Errorf("compose api: sets %s, which the service does not read", name)
		}
	}
	if want := stageEnv(t, parseDockerfile(t).runtime(), nil)["TRIBUTARY_DATA_DIR"]; env["TRIBUTARY_DATA_DIR"] != want {
		t.Errorf("compose api: expected TRIBUTARY_DATA_DIR %q, the image's volume, got %q", want, env["TRIBUTARY_DATA_DIR"])
	}

	var set []string
	for name := range want {
		set = append(set, name+"=from-the-shell")
	}
	env = environ(service(t, loadCompose(t, set, "compose.yaml"), "api"))
	for name := range want {
		if !fixed[name] && env[name] != "from-the-shell" {
			t.Errorf("compose api: expected %s to be taken from the environment (from-the-shell), got %q", name, env[name])
		}
	}
}

func TestComposeMariaDBVariantSwapsOnlyTheDatabase(t *testing.T) {
	t.Parallel()
	mysqlDB := service(t, loadCompose(t, nil, "compose.yaml"), "db")
	p := loadCompose(t, nil, "compose.yaml", "compose.mariadb.yaml")
	db := checkDatabase(t, p, regexp.MustCompile(`^mariadb:11\.4\.\d+$`))
	if !slices.Contains(db.HealthCheck.Test, "healthcheck.sh") {
		t.Errorf("compose db on MariaDB: expected the image's healthcheck.sh, got %q", db.HealthCheck.Test)
	}
	for _, v := range db.Volumes {
		for _, m := range mysqlDB.Volumes {
			if v.Target == "/var/lib/mysql" && v.Source == m.Source {
				t.Errorf("compose db on MariaDB: expected a volume of its own, not MySQL's %q", m.Source)
			}
		}
	}
	// The MariaDB image takes the MYSQL_* variables the api's DSN is made from.
	env := environ(db)
	for _, name := range []string{"MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD"} {
		if env[name] == "" {
			t.Errorf("compose db on MariaDB: expected %s, got none", name)
		}
	}
	if dep := service(t, p, "api").DependsOn["db"]; dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("compose api on MariaDB: expected depends_on db with condition service_healthy, got %+v", dep)
	}
}

// TestComposeReplicaVariantReadsFromAReplicaOfTheDatabase: the replica
// overlay turns db into a primary the service accepts with a replica (binary
// log on and synced), adds a replica that copies it and is healthy only while
// replicating, and points the service's reads at it with the same user.
func TestComposeReplicaVariantReadsFromAReplicaOfTheDatabase(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, nil, "compose.yaml", "compose.mariadb.yaml", "compose.replica.yaml")
	db := checkDatabase(t, p, regexp.MustCompile(`^mariadb:11\.4\.\d+$`))
	if !slices.Contains(db.Command, "--log-bin") {
		t.Errorf("compose db with a replica: expected --log-bin (a replica copies the binary log; the service refuses a replica of a primary without one), got %q", db.Command)
	}
	dbEnv := environ(db)
	replica := service(t, p, "replica")
	if replica.Image != db.Image {
		t.Errorf("compose replica: expected the primary's image %q, got %q", db.Image, replica.Image)
	}
	env := environ(replica)
	if env["MARIADB_MASTER_HOST"] != "db" || env["MARIADB_REPLICATION_USER"] == "" ||
		env["MARIADB_REPLICATION_USER"] != dbEnv["MARIADB_REPLICATION_USER"] || env["MARIADB_REPLICATION_PASSWORD"] != dbEnv["MARIADB_REPLICATION_PASSWORD"] {
		t.Errorf("compose replica: expected to replicate from db with db's replication user and password, got %+v (db: %+v)", env, dbEnv)
	}
	for _, name := range []string{"MARIADB_DATABASE", "MYSQL_DATABASE", "MARIADB_USER", "MYSQL_USER"} {
		if env[name] != "" {
			t.Errorf("compose replica: expected no %s (the database and user come through replication), got %q", name, env[name])
		}
	}
	if id := slices.IndexFunc(replica.Command, func(s string) bool { return strings.HasPrefix(s, "--server-id=") }); id < 0 ||
		slices.Contains(db.Command, replica.Command[id]) {
		t.Errorf("compose replica: expected a --server-id of its own, got %q (db: %q)", replica.Command, db.Command)
	}
	if h := replica.HealthCheck; h == nil || !slices.Contains(h.Test, "--replication_io") || !slices.Contains(h.Test, "--replication_sql") {
		t.Errorf("compose replica: expected a health check that replication runs, got %+v", h)
	}
	if dep := replica.DependsOn["db"]; dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("compose replica: expected depends_on db healthy, got %+v", replica.DependsOn)
	}
	if len(replica.Ports) > 0 {
		t.Errorf("compose replica: expected no published ports, got %+v", replica.Ports)
	}
	if !slices.ContainsFunc(replica.Volumes, func(v types.ServiceVolumeConfig) bool {
		_, declared := p.Volumes[v.Source]
		return v.Target == "/var/lib/mysql" && v.Type == types.VolumeTypeVolume && declared && v.Source != db.Volumes[0].Source
	}) {
		t.Errorf("compose replica: expected a named volume of its own at /var/lib/mysql, got %+v", replica.Volumes)
	}
	api := service(t, p, "api")
	apiEnv := environ(api)
	primary, err1 := mysql.ParseDSN(apiEnv["TRIBUTARY_MYSQL_DSN"])
	reads, err2 := mysql.ParseDSN(apiEnv["TRIBUTARY_MYSQL_READ_DSN"])
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("compose api with a replica: %v", err)
	}
	if reads.Addr != "replica:3306" || reads.User != primary.User || reads.Passwd != primary.Passwd || reads.DBName != primary.DBName {
		t.Errorf("compose api: expected TRIBUTARY_MYSQL_READ_DSN to reach replica:3306 as %s, database %s, got %q", primary.User, primary.DBName, apiEnv["TRIBUTARY_MYSQL_READ_DSN"])
	}
	if dep := api.DependsOn["replica"]; dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("compose api: expected depends_on replica healthy, got %+v", api.DependsOn)
	}
	if dep := api.DependsOn["db"]; dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("compose api: expected depends_on db healthy still, got %+v", api.DependsOn)
	}
}

// TestComposePublishesTheServiceOnTheHostsLoopbackUnlessTold: the port was
// published on every interface of the host, with access control off by
// default, and Docker opens a published port ahead of the host's firewall:
// anyone who reached the host could append and read. It is published on
// 127.0.0.1 now, on another address only when TRIBUTARY_BIND says so.
func TestComposePublishesTheServiceOnTheHostsLoopbackUnlessTold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env      []string
		ip, port string
	}{
		{nil, "127.0.0.1", "8080"},
		{[]string{"TRIBUTARY_PORT=9090"}, "127.0.0.1", "9090"},
		{[]string{"TRIBUTARY_BIND=0.0.0.0"}, "0.0.0.0", "8080"},
		{[]string{"TRIBUTARY_BIND=192.0.2.7", "TRIBUTARY_PORT=9090"}, "192.0.2.7", "9090"},
	} {
		api := service(t, loadCompose(t, tc.env, "compose.yaml"), "api")
		if len(api.Ports) != 1 || api.Ports[0].HostIP != tc.ip || api.Ports[0].Published != tc.port || api.Ports[0].Target != 8080 {
			t.Errorf("compose api with %q: expected 8080 published on %s:%s, got %+v", tc.env, tc.ip, tc.port, api.Ports)
		}
	}
}

// TestComposeStopGracePeriodFollowsTheShutdownTimeout: compose.yaml took
// TRIBUTARY_SHUTDOWN_TIMEOUT from .env but kept a grace period of 40 s, so a
// timeout raised to 90 s was cut by Compose's SIGKILL at 40 s. The grace
// period is TRIBUTARY_STOP_GRACE_PERIOD now, beside it.
func TestComposeStopGracePeriodFollowsTheShutdownTimeout(t *testing.T) {
	t.Parallel()
	api := service(t, loadCompose(t, []string{"TRIBUTARY_SHUTDOWN_TIMEOUT=90s", "TRIBUTARY_STOP_GRACE_PERIOD=100s"}, "compose.yaml"), "api")
	if g := api.StopGracePeriod; g == nil || time.Duration(*g) != 100*time.Second || environ(api)["TRIBUTARY_SHUTDOWN_TIMEOUT"] != "90s" {
		t.Errorf("compose api with TRIBUTARY_SHUTDOWN_TIMEOUT=90s TRIBUTARY_STOP_GRACE_PERIOD=100s: expected a grace period of 100s, got %v", g)
	}
}

// TestComposeReplicaVariantTakesAManagedReplica: the replica overlay set
// TRIBUTARY_MYSQL_READ_DSN to its bundled replica whatever .env said, so with
// a managed primary (TRIBUTARY_MYSQL_DSN) the service read from a replica of
// the unused bundled db. A TRIBUTARY_MYSQL_READ_DSN set is taken now.
func TestComposeReplicaVariantTakesAManagedReplica(t *testing.T) {
	t.Parallel()
	const primary, replica = "svc:pw@tcp(primary.example:3306)/events", "svc:pw@tcp(replica.example:3306)/events"
	p := loadCompose(t, []string{"TRIBUTARY_MYSQL_DSN=" + primary, "TRIBUTARY_MYSQL_READ_DSN=" + replica},
		"compose.yaml", "compose.mariadb.yaml", "compose.replica.yaml")
	env := environ(service(t, p, "api"))
	if env["TRIBUTARY_MYSQL_DSN"] != primary || env["TRIBUTARY_MYSQL_READ_DSN"] != replica {
		t.Errorf("compose api with a managed primary and replica: expected both DSNs as set, got %q and %q", env["TRIBUTARY_MYSQL_DSN"], env["TRIBUTARY_MYSQL_READ_DSN"])
	}
}

// TestTheDeploymentsSecretsAreNotCommitted: README's recipes keep tokens and
// the database password in .env, tokens.txt, dsn.txt and a
// compose.override.yaml beside compose.yaml; tokens.txt and the override
// showed as untracked, ready for `git add .`, where .env did not, and so did
// dsn.txt, the DSN file's recipe, added after. Every `{file: ./…}` secret
// README's recipes name is checked too, so the next recipe's file is.
func TestTheDeploymentsSecretsAreNotCommitted(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{".env", "tokens.txt", "dsn.txt", "read-dsn.txt", "compose.override.yaml"}
	for _, m := range regexp.MustCompile(`\{file: \./([^}\s]+)\}`).FindAllSubmatch(readme, -1) {
		if name := string(m[1]); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		cmd := exec.Command("git", "check-ignore", "--no-index", "-q", name)
		cmd.Dir = repoRoot
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 1 {
				t.Errorf("%s beside compose.yaml is not ignored by .gitignore; expected it ignored (it holds a deployment's secrets)", name)
			} else {
				t.Skipf("git check-ignore: %v (not a git checkout?)", err)
			}
		}
	}
}

// TestMakeBuildStampsTheVersionAsTheDockerfileDoes: `make build`, README's
// build target, ran `go build` without -ldflags, so every binary it made
// said "dev" in `api version`, its logs and its metrics.
func TestMakeBuildStampsTheVersionAsTheDockerfileDoes(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("make", "-n", "build", "VERSION=v9.9.9-make")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("make -n build: %v: %s", err, out)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=v9.9.9-make", "./cmd/api"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make -n build VERSION=v9.9.9-make: expected %q in what it runs, got %s", want, out)
		}
	}
}
