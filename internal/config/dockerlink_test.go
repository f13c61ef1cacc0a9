package config

import (
	"slices"
	"strings"
	"testing"
)

// dockerLink returns the variables a legacy Docker link (--link
// container:alias, or Compose's links:) gives the linking container: the
// alias upper-cased with '-' made '_', then NAME (/linking/alias), PORT and
// PORT_<port>_TCP with its parts, and ENV_ with each variable of the linked
// container.
func dockerLink(alias string, env ...string) []string {
	n := strings.ToUpper(strings.ReplaceAll(alias, "-", "_"))
	vars := []string{
		n + "_NAME=/api/" + alias,
		n + "_PORT=tcp://172.17.0.5:3306",
		n + "_PORT_3306_TCP=tcp://172.17.0.5:3306",
		n + "_PORT_3306_TCP_PROTO=tcp",
		n + "_PORT_3306_TCP_PORT=3306",
		n + "_PORT_3306_TCP_ADDR=172.17.0.5",
		// A range of ports exposed (EXPOSE 4567-4568) adds its bounds.
		n + "_PORT_4567_TCP_START=tcp://172.17.0.5:4567",
		n + "_PORT_4568_TCP_END=tcp://172.17.0.5:4568",
	}
	for _, e := range env {
		vars = append(vars, n+"_ENV_"+e)
	}
	return vars
}

// TestDockerLinksNeverStopTheStartUp: a legacy Docker link whose alias
// begins with tributary (tributary_db, tributary-mysql) gives the server
// TRIBUTARY_DB_NAME=/api/tributary_db and TRIBUTARY_DB_ENV_…, which were
// refused as unknown settings and stopped the start. They are left alone,
// and listed (by name) for start-up to log; a variable of the same name
// that is no link's (TRIBUTARY_DB_NAME=events, meant as the database's
// name) is still refused.
func TestDockerLinksNeverStopTheStartUp(t *testing.T) {
	t.Parallel()
	for _, alias := range []string{"tributary_db", "tributary-mysql", "tributary", "tributary_addr", "tributary-mysql-dsn"} {
		env := dockerLink(alias, "MARIADB_ROOT_PASSWORD=s3cret", "MARIADB_DATABASE=events", "PATH=/usr/bin")
		if err := nearMisses(env, false); err != nil {
			t.Errorf("the link variables of an alias %s: expected no error, got %v", alias, err)
		}
		n := strings.ToUpper(strings.ReplaceAll(alias, "-", "_"))
		links := dockerLinks(env)
		for _, want := range []string{n + "_NAME", n + "_ENV_MARIADB_DATABASE"} {
			if !slices.Contains(links, want) {
				t.Errorf("the link variables of an alias %s: expected %s among those ignored, got %v", alias, want, links)
			}
		}
		if strings.Contains(strings.Join(links, " "), "s3cret") {
			t.Errorf("the link variables listed quote a value: %v", links)
		}
	}
	for _, env := range [][]string{
		{"TRIBUTARY_DB_NAME=events"},                                     // no link's value
		{"TRIBUTARY_DB_NAME=/api/other_db"},                              // a link of another alias
		{"TRIBUTARY_DB_ENV_MARIADB_DATABASE=events"},                     // ENV_ without its link's NAME
		{"TRIBUTARY_DB_NAME=/api/tributary_db/x"},                        // no link's shape
		{"TRIBUTARY_MYSQL_DNS=x", "TRIBUTARY_DB_NAME=/api/tributary_db"}, // a typo beside a link
		{"TRIBUTARY_DB_PORT_4567_TCP_START=x"},                           // a range's bound without its link's NAME
	} {
		if err := nearMisses(env, false); err == nil {
			t.Errorf("%v: expected an error, got none", env)
		}
	}
	// No setting has a link's shape, so none is ever ignored as one.
	for _, name := range settingNames() {
		if links := dockerLinks([]string{name + "=/api/x"}); len(links) != 0 {
			t.Errorf("the setting %s is taken for a link's variable: %v", name, links)
		}
		if strings.HasSuffix(name, "_NAME") || strings.Contains(name, "_ENV_") {
			t.Errorf("the setting %s has a link variable's shape", name)
		}
	}
}

// TestLoadStartsBesideADockerLinkAndNamesItsVariables: Load, given a
// link's variables, starts, and lists them for start-up's log line.
func TestLoadStartsBesideADockerLinkAndNamesItsVariables(t *testing.T) {
	for _, kv := range dockerLink("tributary_db", "MARIADB_DATABASE=events") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	c, err := Load()
	if err != nil {
		t.Fatalf("expected a start beside a link aliased tributary_db, got %v", err)
	}
	if got := c.DockerLinks(); !slices.Contains(got, "TRIBUTARY_DB_NAME") || !slices.Contains(got, "TRIBUTARY_DB_ENV_MARIADB_DATABASE") {
		t.Errorf("expected the link's variables listed, got %v", got)
	}
}
