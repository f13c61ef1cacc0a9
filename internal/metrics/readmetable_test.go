package metrics_test

import (
	"strings"
	"testing"
)

// TestTheMetricsTableCheckFindsAWrongTable: the check of README's metrics
// table (TestREADMEsMetricsTableIsWhatMetricsServes) compared each metric's
// name and label names only, and kept the last of two rows naming one
// metric: a table that named a metric twice, once with the wrong labels,
// or left out one of the values it lists for a label that takes a few
// (a cause of tributary_store_errors_total, a conflict's kind, a
// subscription's endpoint, a refusal's bound), passed it. Each is now
// found.
func TestTheMetricsTableCheckFindsAWrongTable(t *testing.T) {
	t.Parallel()
	const scrape = `# TYPE tributary_store_errors_total counter
tributary_store_errors_total{cause="timeout"} 0
tributary_store_errors_total{cause="full"} 0
# TYPE tributary_subscriptions_open gauge
tributary_subscriptions_open{endpoint="log"} 0
tributary_subscriptions_open{endpoint="stream"} 0
# TYPE go_sql_open_connections gauge
go_sql_open_connections{db_name="reads"} 0
`
	table := func(rows ...string) string {
		return "# R\n\n## Observe\n\n| Metric | What |\n|---|---|\n" + strings.Join(rows, "\n") + "\n\n## Next\n"
	}
	pools := "| `go_sql_*{db_name}` | each pool |"
	errs := "| `tributary_store_errors_total{cause}` | by cause: `timeout`, `full` |"
	subs := "| `tributary_subscriptions_open{endpoint}` | subscriptions (`log`, `stream`) |"
	for _, c := range []struct {
		name, readme string
		want         string // in a problem; "" for none
	}{
		{"right", table(pools, errs, subs), ""},
		{"a metric named twice, once with the wrong labels",
			table(pools, "| `tributary_store_errors_total{kind}` | by kind |", errs, subs), "tributary_store_errors_total"},
		{"a cause left out", table(pools, "| `tributary_store_errors_total{cause}` | by cause: `timeout` |", subs), `"full"`},
		{"an endpoint left out", table(pools, errs, "| `tributary_subscriptions_open{endpoint}` | subscriptions (`log`) |"), `"stream"`},
	} {
		problems, err := tableProblems(c.readme, scrape)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		found := c.want == "" && len(problems) == 0
		for _, p := range problems {
			found = found || c.want != "" && strings.Contains(p, c.want)
		}
		if !found {
			t.Errorf("%s: problems %q; expected one naming %s", c.name, problems, c.want)
		}
	}
}
