package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// phaseResult is what one phase measured. Times are in milliseconds unless
// named otherwise; memory is in KiB.
type phaseResult struct {
	Subscribers    int     `json:"subscribers"`
	ConnectSeconds float64 `json:"connect_seconds"` // until every subscriber was caught up

	Written         int    `json:"events_written"`
	Measured        int    `json:"events_measured"`  // written after the warm-up
	NotSent         int    `json:"appends_not_sent"` // every writer was busy when they were due
	WriteErrors     int    `json:"write_errors"`
	FirstWriteError string `json:"first_write_error,omitempty"`

	DeliveredMin    int     `json:"delivered_min"` // events received by the subscriber that got fewest
	DeliveredMax    int     `json:"delivered_max"`
	Missing         int     `json:"missing"`    // (subscriber, event) pairs never received
	Duplicates      int     `json:"duplicates"` // frames repeating or going back in position
	Unexpected      int     `json:"unexpected"` // frames for positions no append returned
	Disconnected    int     `json:"disconnected"`
	FirstDisconnect string  `json:"first_disconnect,omitempty"`
	DrainMs         float64 `json:"drain_ms"` // from the end of the writes until every subscriber had every event

	Latency latency `json:"commit_to_delivery"`
	// Append is from when each append was due (queued for the writers) to
	// its 201, a wait for a free writer included.
	Append latency `json:"append_round_trip"`
	// ServerAppend is how long the server took for the appends of the
	// window, by its access log: the round trip without this tool's share.
	ServerAppend latency `json:"append_server_side"`

	WindowSeconds float64 `json:"window_seconds"`
	AppendsPerSec float64 `json:"appends_per_sec"` // achieved in the window
	// The server under test's statements, from its /metrics, in the window
	// and while idle; and the database server's global ones.
	DB           dbRate     `json:"db"`
	IdleDB       dbRate     `json:"db_idle"`
	GlobalDB     globalRate `json:"global_db"`
	IdleGlobalDB globalRate `json:"global_db_idle"`

	ServerCPUCores float64 `json:"server_cpu_cores"`
	// ServerCPUPerDeliveryUs is the server's CPU time over the window per
	// (subscriber, event) written in it, the appends' share included.
	ServerCPUPerDeliveryUs float64 `json:"server_cpu_per_delivery_us"`
	ToolCPUCores           float64 `json:"tool_cpu_cores"`
	OtherCPUCores          float64 `json:"other_cpu_cores"` // the rest of the machine: the database, and anything else running

	RSSBeforeKiB int64 `json:"rss_before_kib"` // before the subscribers connected
	RSSIdleKiB   int64 `json:"rss_idle_kib"`   // connected, caught up and idle
	RSSPeakKiB   int64 `json:"rss_peak_kib"`   // largest sample during the writes
	RSSEndKiB    int64 `json:"rss_end_kib"`    // once every event was delivered
	RSSAfterKiB  int64 `json:"rss_after_kib"`  // -settle after the subscribers disconnected

	// ServerEnded counts the subscriptions the server's access log showed
	// as finished within -settle of the subscribers disconnecting.
	ServerEnded int `json:"server_ended_subscriptions"`
}

// globalRate is the database server's, every client's, over an interval.
type globalRate struct {
	Questions float64 `json:"questions_per_sec"`
	ComSelect float64 `json:"com_select_per_sec"`
}

func globalRateOf(from, to dbCounts) globalRate {
	secs := to.at.Sub(from.at).Seconds()
	if secs <= 0 {
		return globalRate{}
	}
	return globalRate{float64(to.statements-from.statements) / secs, float64(to.selects-from.selects) / secs}
}

// latency summarises a set of durations.
type latency struct {
	Samples int     `json:"samples"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	// Negative counts the samples below zero: for delivery, frames that
	// arrived before the writer had read its 201.
	Negative int `json:"negative,omitempty"`
}

// summarise sorts d and summarises it.
func summarise(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	slices.Sort(d)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	l := latency{Samples: len(d), P50Ms: ms(percentile(d, 0.50)), P99Ms: ms(percentile(d, 0.99)), MaxMs: ms(d[len(d)-1])}
	l.Negative, _ = slices.BinarySearch(d, 0)
	return l
}

// percentile returns the nearest-rank p-th percentile of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// fill works out delivery and latency from what the writers and the
// subscribers recorded. Events written from measuredFrom on (on the phase's
// clock) count for latency.
func (r *phaseResult) fill(w writeResult, subs []*subscriber, measuredFrom time.Duration) {
	r.NotSent, r.WriteErrors = w.notSent, w.errors
	if w.firstErr != nil {
		r.FirstWriteError = w.firstErr.Error()
	}
	var written []appendRecord
	var appendTimes []time.Duration
	for _, rec := range w.records {
		if !rec.ok {
			continue
		}
		written = append(written, rec)
		if rec.sent >= measuredFrom {
			// From when it was due: a wait for a free writer, behind a
			// slow server, is part of what the append waited.
			appendTimes = append(appendTimes, rec.acked-rec.queued)
		}
	}
	slices.SortFunc(written, func(a, b appendRecord) int { return cmp.Compare(a.pos, b.pos) })
	r.Written, r.Measured = len(written), len(appendTimes)
	r.Append = summarise(appendTimes)

	delays := make([]time.Duration, 0, r.Measured*len(subs))
	r.DeliveredMin = math.MaxInt
	for i, s := range subs {
		got := 0
		prev := int64(-1)
		j := 0 // written[j] is the next event this subscriber should get
		for _, a := range s.arrivals {
			if a.pos <= prev {
				r.Duplicates++
				continue
			}
			prev = a.pos
			for j < len(written) && written[j].pos < a.pos {
				j++ // skipped: counted as missing below
			}
			if j == len(written) || written[j].pos != a.pos {
				r.Unexpected++
				continue
			}
			got++
			if written[j].sent >= measuredFrom {
				delays = append(delays, a.at-written[j].acked)
			}
			j++
		}
		r.Missing += len(written) - got
		r.DeliveredMin = min(r.DeliveredMin, got)
		r.DeliveredMax = max(r.DeliveredMax, got)
		if s.err != nil {
			r.Disconnected++
			if r.FirstDisconnect == "" {
				r.FirstDisconnect = fmt.Sprintf("subscriber %d after %d events: %s", i+1, len(s.arrivals), s.err.Error())
			}
		}
	}
	r.Latency = summarise(delays)
}

// problems lists what makes the phase a failure.
func (r *phaseResult) problems() []string {
	var p []string
	name := fmt.Sprintf("%d subscriber(s)", r.Subscribers)
	if r.WriteErrors > 0 {
		p = append(p, fmt.Sprintf("%s: %d appends failed; first: %s", name, r.WriteErrors, r.FirstWriteError))
	}
	if r.Missing > 0 || r.Duplicates > 0 || r.Unexpected > 0 {
		p = append(p, fmt.Sprintf("%s: %d events missing, %d duplicate or out of order, %d unexpected (over all subscribers)",
			name, r.Missing, r.Duplicates, r.Unexpected))
	}
	if r.ServerEnded < r.Subscribers {
		p = append(p, fmt.Sprintf("%s: the server logged the end of only %d subscriptions after all %d disconnected",
			name, r.ServerEnded, r.Subscribers))
	}
	if r.Disconnected > 0 {
		p = append(p, fmt.Sprintf("%s: %d subscribers disconnected; first: %s", name, r.Disconnected, r.FirstDisconnect))
	}
	return p
}

// reportSettings is the run's configuration, as reported.
type reportSettings struct {
	Subscribers     int     `json:"subscribers"`
	Rate            float64 `json:"rate_per_sec"`
	DurationSeconds float64 `json:"duration_seconds"`
	WarmupSeconds   float64 `json:"warmup_seconds"`
	SettleSeconds   float64 `json:"settle_seconds"`
	DrainSeconds    float64 `json:"drain_seconds"` // how long events may take to arrive before they are missing
	Writers         int     `json:"writers"`
	Streams         int     `json:"streams"`
	CPUs            int     `json:"cpus"`
}

func reportConfig(c subscribersConfig) reportSettings {
	return reportSettings{c.subscribers, c.rate, c.duration.Seconds(), c.warmup.Seconds(), c.settle.Seconds(),
		c.drain.Seconds(), c.writers, c.streams, runtime.NumCPU()}
}

// report is the whole run's outcome.
type report struct {
	Config      reportSettings `json:"config"`
	ServerBuild serverBuild    `json:"server_build"`
	ServerLog   string         `json:"server_log"`
	Phases      []phaseResult  `json:"phases"` // 1 subscriber, then N

	// MemoryPerSubscriberKiB is the N-subscriber phase's (idle RSS − RSS
	// before connecting) / N: both readings are taken after the first
	// phase's writes, so what those left on the heap cancels out.
	MemoryPerSubscriberKiB float64 `json:"memory_per_subscriber_kib"`
	// AcrossPhasesPerSubscriberKiB is (idle RSS with N − idle RSS with 1) /
	// (N − 1). It also counts the heap the first phase's writes grew, which
	// is not the subscribers' doing; it is reported for comparison.
	AcrossPhasesPerSubscriberKiB float64 `json:"across_phases_per_subscriber_kib"`

	LogSummary     logSummary `json:"server_log_summary"`
	OtherDBClients []string   `json:"other_db_clients,omitempty"`
	Notes          []string   `json:"notes,omitempty"`
	Problems       []string   `json:"problems,omitempty"` // any makes the exit status 1
}

// finish works out the memory figures and lists notes and problems.
func (r *report) finish(log logSummary, others []string, stopErr error) {
	r.LogSummary, r.OtherDBClients = log, others
	if len(r.Phases) == 2 {
		one, n := r.Phases[0], r.Phases[1]
		r.MemoryPerSubscriberKiB = float64(n.RSSIdleKiB-n.RSSBeforeKiB) / float64(n.Subscribers)
		r.AcrossPhasesPerSubscriberKiB = float64(n.RSSIdleKiB-one.RSSIdleKiB) / float64(n.Subscribers-1)
	}
	for _, p := range r.Phases {
		r.Problems = append(r.Problems, p.problems()...)
		if p.NotSent > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%d subscriber(s): %d appends were not sent on time (all %d writers busy): the rate was not held",
				p.Subscribers, p.NotSent, r.Config.Writers))
		}
	}
	if stopErr != nil {
		r.Problems = append(r.Problems, stopErr.Error())
	}
	if log.Errors > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("the server logged %d errors", log.Errors))
	}
	if log.Warnings > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the server logged %d warnings", log.Warnings))
	}
	if len(others) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d other connection(s) to the database server during the writes "+
			"(listed in -json output): their statements are in the whole-server rates, not in this server's", len(others)))
	}
}

// writeTable prints the phases side by side, with N against 1 where a ratio
// means something.
func (r *report) writeTable(w io.Writer) error {
	c := r.Config
	fmt.Fprintf(w, "\nload subscribers: GET /events, 1 vs %d subscribers; %g appends/s for %gs after %gs warm-up (%d writers, %d streams); %d CPUs\n",
		c.Subscribers, c.Rate, c.DurationSeconds, c.WarmupSeconds, c.Writers, c.Streams, c.CPUs)
	fmt.Fprintf(w, "server: %s\n\n", r.ServerBuild)
	if len(r.Phases) != 2 {
		return fmt.Errorf("report: expected 2 phases, got %d", len(r.Phases))
	}
	one, n := r.Phases[0], r.Phases[1]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(label, a, b, ratio string) { fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", label, a, b, ratio) }
	ms := func(v float64) string { return fmt.Sprintf("%.2f ms", v) }
	x := func(a, b float64) string {
		if a <= 0 || b < 0 || math.IsNaN(a) || math.IsNaN(b) {
			return ""
		}
		return fmt.Sprintf("%.2f×", b/a)
	}
	mib := func(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }
	each := func(f func(p phaseResult) string) (string, string) { return f(one), f(n) }

	row("", "1 subscriber", fmt.Sprintf("%d subscribers", n.Subscribers), "N / 1")
	a, b := each(func(p phaseResult) string { return fmt.Sprintf("%.2f s", p.ConnectSeconds) })
	row("connect until all caught up", a, b, "")
	a, b = each(func(p phaseResult) string { return fmt.Sprintf("%d (%d measured)", p.Written, p.Measured) })
	row("events written", a, b, "")
	a, b = each(func(p phaseResult) string {
		if p.DeliveredMin == p.DeliveredMax {
			return fmt.Sprintf("%d", p.DeliveredMin)
		}
		return fmt.Sprintf("%d–%d", p.DeliveredMin, p.DeliveredMax)
	})
	row("events per subscriber", a, b, "")
	a, b = each(func(p phaseResult) string {
		return fmt.Sprintf("%d / %d / %d / %d", p.Missing, p.Duplicates, p.Unexpected, p.Disconnected)
	})
	row("missing / dup / unexpected / disconn.", a, b, "")
	row("commit→delivery p50", ms(one.Latency.P50Ms), ms(n.Latency.P50Ms), x(one.Latency.P50Ms, n.Latency.P50Ms))
	row("commit→delivery p99", ms(one.Latency.P99Ms), ms(n.Latency.P99Ms), x(one.Latency.P99Ms, n.Latency.P99Ms))
	row("commit→delivery max", ms(one.Latency.MaxMs), ms(n.Latency.MaxMs), "")
	a, b = each(func(p phaseResult) string {
		return fmt.Sprintf("%.1f %%", 100*float64(p.Latency.Negative)/float64(max(p.Latency.Samples, 1)))
	})
	row("  delivered before the 201", a, b, "")
	row("writes done → all delivered", ms(one.DrainMs), ms(n.DrainMs), "")
	a, b = each(func(p phaseResult) string { return fmt.Sprintf("%.2f / %.2f ms", p.Append.P50Ms, p.Append.P99Ms) })
	row("append round trip p50 / p99", a, b, x(one.Append.P99Ms, n.Append.P99Ms)+" (p99)")
	a, b = each(func(p phaseResult) string {
		return fmt.Sprintf("%.2f / %.2f ms", p.ServerAppend.P50Ms, p.ServerAppend.P99Ms)
	})
	row("  in the server (access log)", a, b, x(one.ServerAppend.P99Ms, n.ServerAppend.P99Ms)+" (p99)")
	f0 := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	row("appends/s achieved", f0(one.AppendsPerSec), f0(n.AppendsPerSec), "")
	row("DB statements/s (this server)", f0(one.DB.Statements), f0(n.DB.Statements), x(one.DB.Statements, n.DB.Statements))
	kinds := append(slices.Collect(maps.Keys(one.DB.ByKind)), slices.Collect(maps.Keys(n.DB.ByKind))...)
	slices.Sort(kinds)
	for _, kind := range slices.Compact(kinds) {
		row("  "+kind, f0(one.DB.ByKind[kind]), f0(n.DB.ByKind[kind]), x(one.DB.ByKind[kind], n.DB.ByKind[kind]))
	}
	a, b = each(func(p phaseResult) string {
		return fmt.Sprintf("%.0f (%.1f appends each, %.2f ms)", p.DB.Commits, p.DB.AppendsPerCommit, p.DB.CommitMs)
	})
	row("group commits/s", a, b, "")
	row("statements per append, all", fmt.Sprintf("%.1f", one.DB.PerAppend), fmt.Sprintf("%.1f", n.DB.PerAppend), "")
	a, b = each(func(p phaseResult) string { return fmt.Sprintf("%.1f%s", p.IdleDB.Statements, byKind(p.IdleDB.ByKind)) })
	row("idle: statements/s", a, b, "")
	a, b = each(func(p phaseResult) string {
		return fmt.Sprintf("%.0f / %.0f", p.GlobalDB.Questions, p.GlobalDB.ComSelect)
	})
	row("whole DB server: Questions/s / Com_select/s", a, b, "")
	a, b = each(func(p phaseResult) string {
		return fmt.Sprintf("%.0f / %.0f", p.IdleGlobalDB.Questions, p.IdleGlobalDB.ComSelect)
	})
	row("  idle", a, b, "")
	row("server CPU (cores)", fmt.Sprintf("%.2f", one.ServerCPUCores), fmt.Sprintf("%.2f", n.ServerCPUCores),
		x(one.ServerCPUCores, n.ServerCPUCores))
	row("  per event × subscriber", fmt.Sprintf("%.1f µs", one.ServerCPUPerDeliveryUs), fmt.Sprintf("%.1f µs", n.ServerCPUPerDeliveryUs), "")
	row("load tool CPU (cores)", fmt.Sprintf("%.2f", one.ToolCPUCores), fmt.Sprintf("%.2f", n.ToolCPUCores), "")
	row("rest of the machine CPU (cores)", fmt.Sprintf("%.2f", one.OtherCPUCores), fmt.Sprintf("%.2f", n.OtherCPUCores), "")
	a, b = each(func(p phaseResult) string {
		return strings.Join([]string{mib(p.RSSBeforeKiB), mib(p.RSSIdleKiB), mib(p.RSSPeakKiB), mib(p.RSSEndKiB), mib(p.RSSAfterKiB)}, " / ")
	})
	row("server RSS MiB: before/idle/peak/end/after", a, b, "")
	a, b = each(func(p phaseResult) string { return fmt.Sprintf("%d of %d", p.ServerEnded, p.Subscribers) })
	row("subscriptions the server ended", a, b, "")
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nserver memory per subscriber: %.1f KiB = (idle RSS with %d − RSS before they connected) / %d\n",
		r.MemoryPerSubscriberKiB, n.Subscribers, n.Subscribers)
	fmt.Fprintf(w, "  across phases: %.1f KiB = (idle RSS with %d − idle RSS with 1) / %d, which also counts the heap the first phase's writes grew\n",
		r.AcrossPhasesPerSubscriberKiB, n.Subscribers, n.Subscribers-1)
	fmt.Fprintf(w, "server log: %s (%d lines, %d warnings, %d errors)\n", r.ServerLog, r.LogSummary.Lines, r.LogSummary.Warnings, r.LogSummary.Errors)
	for _, l := range r.LogSummary.First {
		fmt.Fprintf(w, "  %s\n", l)
	}
	for _, note := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", note)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "PROBLEM: %s\n", p)
	}
	return nil
}

// byKind lists the rates of m, by kind, as " (kind r, …)".
func byKind(m map[string]float64) string {
	var parts []string
	for _, kind := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.1f", kind, m[kind]))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
