package mysqlstore_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestEveryPoolOfTheStoreHasItsStatisticsInTheMetrics: the search for who
// holds a lock an append timed out on has a pool of its own (two sessions,
// made while it runs), which /metrics did not show: its sessions counted
// against the server's max_connections unseen. Every pool the store opens
// on the primary has its go_sql_* series, named by db_name.
func TestEveryPoolOfTheStoreHasItsStatisticsInTheMetrics(t *testing.T) {
	t.Parallel()
	_, m := openCounted(t, mysqltest.NewDatabase(t))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for pool, size := range map[string]string{"reads": "16", "writes": "2", "feed": "3", "lock_holder": "2"} {
		want := `go_sql_max_open_connections{db_name="` + pool + `"} ` + size
		if !strings.Contains(body, want) {
			t.Errorf("the metrics show no %q: want every pool's statistics, the lock holder's search's too", want)
		}
	}
}
