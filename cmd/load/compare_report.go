package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// compareSettings is the run's configuration and machine, as reported.
type compareSettings struct {
	Store           string      `json:"store"`
	Rounds          int         `json:"rounds"`
	DurationSeconds float64     `json:"duration_seconds"`
	WarmupSeconds   float64     `json:"warmup_seconds"`
	Database        string      `json:"database"`
	CPUs            int         `json:"cpus"`
	CPUModel        string      `json:"cpu_model,omitempty"`
	GoVersion       string      `json:"go_version"` // this tool's; the server's is in ServerBuild
	ServerBuild     serverBuild `json:"server_build"`
	ServerLog       string      `json:"server_log"`
}

// compareResult is one measurement's runs on both sides and their medians.
type compareResult struct {
	measurement
	rawRuns, serviceRuns []sideRun

	Raw     sideSummary `json:"raw"`
	Service sideSummary `json:"service"`
	// Ratio is the median over the rounds of service ÷ raw events/s.
	Ratio float64 `json:"ratio"`
	Met   *bool   `json:"target_met,omitempty"` // nil without a target
}

// sideSummary is the medians of one side's runs, and the runs.
type sideSummary struct {
	EventsPerSec     float64   `json:"events_per_sec"`
	P50Ms            float64   `json:"p50_ms"`
	P99Ms            float64   `json:"p99_ms"`
	AppendsPerCommit float64   `json:"appends_per_group_commit,omitempty"` // the service's appends only
	CommitMs         float64   `json:"group_commit_mean_ms,omitempty"`
	Runs             []sideRun `json:"runs"`
}

// machineCPU is how busy the machine was over the rounds, in cores.
type machineCPU struct {
	BusyCores   float64 `json:"busy_cores"`   // every process's
	ServerCores float64 `json:"server_cores"` // the server under test's
	ToolCores   float64 `json:"tool_cores"`   // this tool's, the raw side included
}

// compareReport is the whole run's outcome.
type compareReport struct {
	Config  compareSettings `json:"config"`
	Results []compareResult `json:"results"`
	// HTTPFloor is one client's GET /healthz, which does no database work,
	// run once a round: the least an HTTP request costs here. Its
	// events_per_sec are requests per second.
	HTTPFloor sideSummary `json:"http_floor"`
	// OrderedFloor is one client's least append that keeps the log in
	// commit order under a lock, through the driver (rawSide.orderedFloor),
	// once a round; MySQL only.
	OrderedFloor *sideSummary `json:"ordered_floor,omitempty"`
	// OneClientCeiling is the raw insert's p50 over the ordered floor's plus
	// the HTTP floor's: about the most service ÷ raw one client's append
	// could reach here, for any append that orders the log under a lock. 0
	// without the floor or the one-client append measured.
	OneClientCeiling float64     `json:"one_client_ceiling,omitempty"`
	CPU              *machineCPU `json:"cpu,omitempty"` // nil where /proc cannot be read
	LogSummary       logSummary  `json:"server_log_summary"`
	Problems         []string    `json:"problems,omitempty"` // any makes the exit status 1

	floorRuns, orderedRuns []sideRun
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summariseRuns(runs []sideRun) sideSummary {
	pick := func(f func(sideRun) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		return median(v)
	}
	return sideSummary{
		EventsPerSec: pick(func(r sideRun) float64 { return r.EventsPerSec }),
		P50Ms:        pick(func(r sideRun) float64 { return r.P50Ms }),
		P99Ms:        pick(func(r sideRun) float64 { return r.P99Ms }),
		Runs:         runs,

		AppendsPerCommit: pick(func(r sideRun) float64 { return r.AppendsPerCommit }),
		CommitMs:         pick(func(r sideRun) float64 { return r.CommitMs }),
	}
}

// finish works out the medians, the ratios and the targets met.
func (r *compareReport) finish(log logSummary, stopErr error) {
	r.LogSummary = log
	r.HTTPFloor = summariseRuns(r.floorRuns)
	for i := range r.Results {
		res := &r.Results[i]
		res.Raw, res.Service = summariseRuns(res.rawRuns), summariseRuns(res.serviceRuns)
		var ratios []float64
		for j := range min(len(res.rawRuns), len(res.serviceRuns)) {
			if raw := res.rawRuns[j].EventsPerSec; raw > 0 {
				ratios = append(ratios, res.serviceRuns[j].EventsPerSec/raw)
			}
		}
		res.Ratio = median(ratios)
		if res.Target > 0 {
			met := res.Ratio >= res.Target
			res.Met = &met
		}
	}
	if len(r.orderedRuns) > 0 {
		o := summariseRuns(r.orderedRuns)
		r.OrderedFloor = &o
		for _, res := range r.Results {
			if res.Key == "append_1" && o.P50Ms+r.HTTPFloor.P50Ms > 0 {
				r.OneClientCeiling = res.Raw.P50Ms / (o.P50Ms + r.HTTPFloor.P50Ms)
			}
		}
	}
	if stopErr != nil {
		r.Problems = append(r.Problems, stopErr.Error())
	}
	if log.Errors > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("the server logged %d errors", log.Errors))
	}
}

// writeMarkdown prints the table, ready to paste into docs/performance.md.
func (r *compareReport) writeMarkdown(w io.Writer) error {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "\n**%s store**: %s. Medians of %d rounds of %s per measurement and side (after %s warm-up), raw and service interleaved. ",
		c.Store, c.Database, c.Rounds, seconds(c.DurationSeconds), seconds(c.WarmupSeconds))
	fmt.Fprintf(&b, "%d CPUs", c.CPUs)
	if c.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", c.CPUModel)
	}
	fmt.Fprintf(&b, ", %s", c.GoVersion)
	if r.CPU != nil {
		fmt.Fprintf(&b, "; the machine was %.1f cores busy on average, of which the server %.1f and this tool %.1f (the rest: the database server, if any, and anything else running)",
			r.CPU.BusyCores, r.CPU.ServerCores, r.CPU.ToolCores)
	}
	fmt.Fprintf(&b, ".\n\nThe server: %s.\n\n", c.ServerBuild)
	b.WriteString("| measurement | raw events/s | raw p50 / p99 | service events/s | service p50 / p99 | service ÷ raw | target (issue 12) | met |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|---|\n")
	for _, res := range r.Results {
		target, met := "—", "—"
		if res.Met != nil {
			target = fmt.Sprintf("≥ %.1f×", res.Target)
			met = "not met"
			if *res.Met {
				met = "**met**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.2f× | %s | %s |\n", res.Name,
			thousands(res.Raw.EventsPerSec), latencies(res.Raw), thousands(res.Service.EventsPerSec), latencies(res.Service),
			res.Ratio, target, met)
	}
	b.WriteString("\nLatencies are per op: one append or batch, or one whole read of 10,000 events (ten pages). " +
		"Events/s count each op by its share of time inside the measured window. " +
		"Both sides' reads decode every field of every event into the same Go value (ids, numbers, names, time; data and metadata kept as JSON): " +
		"raw, from the driver's rows; the service, from the pages' JSON with the JSON package the server uses " +
		"(encoding/json/v2's, github.com/go-json-experiment/json).\n")
	var groups []string
	for _, res := range r.Results {
		if res.Service.AppendsPerCommit > 0 {
			groups = append(groups, fmt.Sprintf("%s, %.1f appends per group commit of %s ms", res.Name, res.Service.AppendsPerCommit, ms(res.Service.CommitMs)))
		}
	}
	if len(groups) > 0 {
		fmt.Fprintf(&b, "\nThe service's group commits (medians, from its /metrics): %s.\n", strings.Join(groups, "; "))
	}
	fmt.Fprintf(&b, "\nThe HTTP floor, for reference: one client's `GET /healthz`, which does no database work, ran at %s requests/s, p50 / p99 %s. "+
		"One client's append takes at least that plus its transaction.\n", thousands(r.HTTPFloor.EventsPerSec), latencies(r.HTTPFloor))
	if o := r.OrderedFloor; o != nil {
		fmt.Fprintf(&b, "\nThe ordered floor: one client's least append that keeps the log in commit order under a lock, through the driver "+
			"(one round trip: `START TRANSACTION`, a locking read of `log_head`, the `INSERT`, `COMMIT`), ran at %s events/s, p50 / p99 %s.", thousands(o.EventsPerSec), latencies(*o))
		if r.OneClientCeiling > 0 {
			fmt.Fprintf(&b, " With the HTTP floor added, one client's append could reach at most about %.2f× raw here (the raw insert's p50 over the two floors' p50s).", r.OneClientCeiling)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nserver log: %s (%d lines, %d warnings, %d errors)\n", c.ServerLog, r.LogSummary.Lines, r.LogSummary.Warnings, r.LogSummary.Errors)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "PROBLEM: %s\n", p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func latencies(s sideSummary) string {
	return fmt.Sprintf("%s / %s ms", ms(s.P50Ms), ms(s.P99Ms))
}

// ms prints a duration in milliseconds with about three significant digits.
func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// thousands prints v rounded, with thousands separated by commas.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func seconds(s float64) string { return time.Duration(s * float64(time.Second)).String() }

// cpuModel is the machine's CPU model from /proc/cpuinfo, or "" where it
// cannot be read.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range bytes.Lines(b) {
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && string(bytes.TrimSpace(name)) == "model name" {
			return string(bytes.TrimSpace(value))
		}
	}
	return ""
}

// cpuUsage is the cumulative CPU times at one moment.
type cpuUsage struct {
	at                 time.Time
	busy, server, tool time.Duration
}

func takeCPUUsage(serverPid int) (cpuUsage, error) {
	u := cpuUsage{at: time.Now()}
	var err error
	if u.busy, err = machineBusy(); err != nil {
		return cpuUsage{}, err
	}
	if u.server, err = cpuTime(serverPid); err != nil {
		return cpuUsage{}, err
	}
	if u.tool, err = cpuTime(os.Getpid()); err != nil {
		return cpuUsage{}, err
	}
	return u, nil
}

// since is the average use between from and u, in cores.
func (u cpuUsage) since(from cpuUsage) *machineCPU {
	secs := u.at.Sub(from.at).Seconds()
	if secs <= 0 {
		return nil
	}
	return &machineCPU{
		BusyCores:   (u.busy - from.busy).Seconds() / secs,
		ServerCores: (u.server - from.server).Seconds() / secs,
		ToolCores:   (u.tool - from.tool).Seconds() / secs,
	}
}
