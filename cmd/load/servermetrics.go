package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serverCounts are the server under test's own cumulative counters at one
// moment, from its /metrics: only its connections, unlike the database
// server's global status.
type serverCounts struct {
	at         time.Time
	statements map[string]float64 // tributary_db_statements_total, by kind
	groups     float64            // group-commit transactions (tributary_group_commit_requests_count)
	grouped    float64            // the appends they took (its _sum)
	groupSecs  float64            // their time (tributary_group_commit_duration_seconds_sum)
}

// metrics scrapes the server's /metrics.
func (s *server) metrics(ctx context.Context, client *http.Client) (serverCounts, error) {
	c := serverCounts{statements: map[string]float64{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/metrics", nil)
	if err != nil {
		return c, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return c, fmt.Errorf("scrape the server's /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("scrape the server's /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return c, fmt.Errorf("scrape the server's /metrics: %w", err)
	}
	c.at = time.Now()
	for _, m := range families["tributary_db_statements_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "kind" {
				c.statements[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	for _, m := range families["tributary_group_commit_requests"].GetMetric() {
		c.groups, c.grouped = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
	}
	for _, m := range families["tributary_group_commit_duration_seconds"].GetMetric() {
		c.groupSecs = m.GetHistogram().GetSampleSum()
	}
	return c, nil
}

// dbRate is the server under test's statements per second over an interval,
// and its group commits.
type dbRate struct {
	Statements float64            `json:"statements_per_sec"`
	ByKind     map[string]float64 `json:"statements_per_sec_by_kind"`
	Commits    float64            `json:"group_commits_per_sec"`
	// PerAppend is every statement of the interval (the live feed's
	// included) per append; AppendsPerCommit and CommitMs are the mean
	// group-commit size and transaction time.
	PerAppend        float64 `json:"statements_per_append,omitempty"`
	AppendsPerCommit float64 `json:"appends_per_group_commit,omitempty"`
	CommitMs         float64 `json:"group_commit_mean_ms,omitempty"`
}

func rate(from, to serverCounts) dbRate {
	secs := to.at.Sub(from.at).Seconds()
	r := dbRate{ByKind: map[string]float64{}}
	if secs <= 0 {
		return r
	}
	for kind, n := range to.statements {
		if d := n - from.statements[kind]; d > 0 {
			r.ByKind[kind] = d / secs
			r.Statements += d / secs
		}
	}
	groups, appends := to.groups-from.groups, to.grouped-from.grouped
	r.Commits = groups / secs
	if groups > 0 {
		r.PerAppend = r.Statements * secs / appends
		r.AppendsPerCommit = appends / groups
		r.CommitMs = (to.groupSecs - from.groupSecs) / groups * 1000
	}
	return r
}
