package metrics_test

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// TestREADMEsMetricsTableIsWhatMetricsServes: README's table under
// "## Observe" names every tributary_ metric /metrics serves, with exactly
// the labels it has, and nothing it does not serve; and the connection
// pools' go_sql_* with their db_name. It said tributary_build_info{version}
// where the gauge also has goversion, and no test read the table (a
// black-box test found it by hand). Every method of Metrics is called once
// first, so that every vector has a series to show its labels.
func TestREADMEsMetricsTableIsWhatMetricsServes(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	registerStatsOnly.Do(func() { sql.Register(statsOnlyDriverName, statsOnlyDriver{}) })
	db, err := sql.Open(statsOnlyDriverName, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m.Store("sqlite", map[string]*sql.DB{"reads": db})
	m.ObserveRequest("/events", http.MethodGet, 200, 10, time.Millisecond)
	m.ObserveSubscription("/events", 200, 10, time.Second)
	m.InFlight(1)
	m.Appended(1)
	m.Replayed()
	m.Conflict(metrics.ConflictKinds[0])
	m.GroupCommitted(1, time.Millisecond)
	m.Statement("begin")
	m.Subscribed("log", 1)
	m.Delivered(1)
	m.FellBack()
	m.Polled(1, time.Millisecond)
	m.PollFailed()
	m.StoreError(metrics.StoreErrorCauses[0])
	m.Lag(func() int64 { return 0 })
	m.BodiesInFlight(func() int64 { return 0 })
	m.ConnectionsOpen(func() int64 { return 0 })
	m.ConnectionRefused("server")
	m.ConnectionClosedIdle()
	m.ReplicaLag(func() float64 { return 0 })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	problems, err := tableProblems(string(readme), string(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// tableProblems returns what README's metrics table says that a scrape of
// /metrics, in Prometheus's text format, does not bear out, one line each.
func tableProblems(readme, scrape string) ([]string, error) {
	documented, rows, problems, err := readmeMetrics(readme)
	if err != nil {
		return nil, err
	}
	served, values, err := servedMetrics(scrape)
	if err != nil {
		return nil, err
	}
	pools := false
	for name, labels := range served {
		switch {
		case strings.HasPrefix(name, "go_sql_"):
			pools = true
			if want := documented["go_sql_*"]; !slices.Equal(labels, want) {
				problems = append(problems, fmt.Sprintf("%s has labels %v; README's table says go_sql_* has %v", name, labels, want))
			}
		case strings.HasPrefix(name, "tributary_"):
			want, ok := documented[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s%v is served but not in README's metrics table", name, labels))
			} else if !slices.Equal(labels, want) {
				problems = append(problems, fmt.Sprintf("%s has labels %v; README's metrics table says %v", name, labels, want))
			}
			// A label that takes a few values has them all in its row.
			for _, label := range listedLabels {
				for v := range values[name][label] {
					if ok && !strings.Contains(rows[name], "`"+v+"`") {
						problems = append(problems, fmt.Sprintf("%s{%s=%q} is served, but README's row of %s does not name %q", name, label, v, name, v))
					}
				}
			}
		}
	}
	if !pools {
		problems = append(problems, "no go_sql_* metric served for the pool given to Store")
	}
	for name, labels := range documented {
		if _, ok := served[name]; !ok && name != "go_sql_*" {
			problems = append(problems, fmt.Sprintf("README's metrics table names %s%v, which /metrics does not serve", name, labels))
		}
	}
	slices.Sort(problems)
	return problems, nil
}

// listedLabels are the labels whose every value README's table lists in
// the metric's row: the few a vector is made with in New, and what the
// test gives the others.
var listedLabels = []string{"cause", "kind", "endpoint", "bound"}

// readmeMetrics returns the metrics README's table under "## Observe" names
// in its first column, each with its labels, sorted, and the row naming it;
// and, as problems, each it names again (only one row can be checked).
func readmeMetrics(readme string) (map[string][]string, map[string]string, []string, error) {
	_, section, ok := strings.Cut(readme, "\n## Observe\n")
	if !ok {
		return nil, nil, nil, errors.New(`README has no "## Observe" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	name := regexp.MustCompile("^`([a-z_*]+)(?:\\{([a-z_,]*)\\})?`$")
	out, rows := map[string][]string{}, map[string]string{}
	var problems []string
	for line := range strings.SplitSeq(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, item := range splitMetrics(first) {
			m := name.FindStringSubmatch(item)
			if m == nil {
				return nil, nil, nil, fmt.Errorf("README's metrics table: %q in %q is not `name` or `name{labels}`", item, first)
			}
			var labels []string
			if m[2] != "" {
				labels = strings.Split(m[2], ",")
			}
			slices.Sort(labels)
			if _, again := out[m[1]]; again {
				problems = append(problems, fmt.Sprintf("README's metrics table names %s in two rows", m[1]))
			}
			out[m[1]], rows[m[1]] = labels, line
		}
	}
	if len(out) == 0 {
		return nil, nil, nil, errors.New(`README's "## Observe" section has no metrics table`)
	}
	return out, rows, problems, nil
}

// splitMetrics splits a table cell of metrics, "`a{x,y}`, `b`", into
// "`a{x,y}`" and "`b`" (at the backquotes: a comma may be a label's).
func splitMetrics(cell string) []string {
	var out []string
	for _, f := range strings.Split(cell, "`") {
		if f = strings.TrimSpace(f); f != "" && f != "," {
			out = append(out, "`"+f+"`")
		}
	}
	return out
}

// servedMetrics returns the metric families of a scrape in Prometheus's
// text format, each with its labels, sorted (a histogram's le and a
// summary's quantile left out), and the values of their listedLabels.
func servedMetrics(text string) (map[string][]string, map[string]map[string]map[string]bool, error) {
	types := map[string]string{}
	labels := map[string]map[string]bool{}
	values := map[string]map[string]map[string]bool{}
	for line := range strings.SplitSeq(text, "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(f, " ")
			types[name] = typ
			labels[name] = map[string]bool{}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		name := line[:end]
		family := name
		if _, ok := types[family]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if f, ok := strings.CutSuffix(name, suffix); ok {
					if _, ok := types[f]; ok {
						family = f
					}
				}
			}
		}
		if _, ok := types[family]; !ok {
			return nil, nil, fmt.Errorf("sample %q belongs to no family with a # TYPE line", line)
		}
		if line[end] != '{' {
			continue
		}
		keys, vals, err := labelPairs(line[end+1:])
		if err != nil {
			return nil, nil, fmt.Errorf("sample %q: %w", line, err)
		}
		for i, k := range keys {
			if k != "le" && k != "quantile" {
				labels[family][k] = true
			}
			if slices.Contains(listedLabels, k) {
				if values[family] == nil {
					values[family] = map[string]map[string]bool{}
				}
				if values[family][k] == nil {
					values[family][k] = map[string]bool{}
				}
				values[family][k][vals[i]] = true
			}
		}
	}
	out := map[string][]string{}
	for name, set := range labels {
		var l []string
		for k := range set {
			l = append(l, k)
		}
		slices.Sort(l)
		out[name] = l
	}
	return out, values, nil
}

// labelPairs reads the names and values of `a="x",b="y\"z"}` up to its
// closing brace (a value as written, escapes and all).
func labelPairs(s string) ([]string, []string, error) {
	var names, values []string
	for {
		if strings.HasPrefix(s, "}") {
			return names, values, nil
		}
		k, rest, ok := strings.Cut(s, `="`)
		if !ok {
			return nil, nil, errors.New("a label without a quoted value")
		}
		names = append(names, k)
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' {
				i++
			}
		}
		if i >= len(rest) {
			return nil, nil, errors.New("an unterminated label value")
		}
		values = append(values, rest[:i])
		s = strings.TrimPrefix(rest[i+1:], ",")
	}
}

// statsOnlyDriverName is a database/sql driver that connects to nothing: a
// pool of it has the statistics go_sql_* reads, and no more.
const statsOnlyDriverName = "tributary-metrics-stats-only"

type statsOnlyDriver struct{}

func (statsOnlyDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("this driver connects to nothing")
}

var registerStatsOnly sync.Once
