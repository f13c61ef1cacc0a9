package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// serverBuild says which server binary a run measured: the build
// information Go records in it (what go version -m prints) and the
// binary's SHA-256, which tells two builds apart where no VCS revision was
// recorded (-buildvcs=false, a Git worktree, a build outside a checkout).
type serverBuild struct {
	Binary    string `json:"binary"`
	SHA256    string `json:"sha256,omitempty"`
	GoVersion string `json:"go_version,omitempty"`
	Path      string `json:"path,omitempty"`   // the main package
	Module    string `json:"module,omitempty"` // the main module's version: (devel) when built from a working tree
	Revision  string `json:"vcs_revision,omitempty"`
	Time      string `json:"vcs_time,omitempty"`
	Modified  *bool  `json:"vcs_modified,omitempty"` // nil without a revision
	// Error says what could not be read: the binary, or build information
	// in it (not a Go binary).
	Error string `json:"error,omitempty"`
}

// readServerBuild reads binary's build information and hashes it.
func readServerBuild(binary string) serverBuild {
	b := serverBuild{Binary: binary}
	f, err := os.Open(binary)
	if err != nil {
		b.Error = err.Error()
		return b
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		b.Error = fmt.Sprintf("read %s: %s", binary, err.Error())
		return b
	}
	b.SHA256 = hex.EncodeToString(h.Sum(nil))
	bi, err := buildinfo.Read(f)
	if err != nil {
		b.Error = fmt.Sprintf("no Go build information in %s: %s", binary, err.Error())
		return b
	}
	b.fill(bi)
	return b
}

// fill sets what bi records.
func (b *serverBuild) fill(bi *debug.BuildInfo) {
	b.GoVersion, b.Path, b.Module = bi.GoVersion, bi.Path, bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			modified := s.Value == "true"
			b.Modified = &modified
		}
	}
}

// String describes the build in one line for the text reports.
func (b serverBuild) String() string {
	var parts []string
	if b.Path != "" {
		parts = append(parts, strings.TrimSuffix(b.Path+"@"+b.Module, "@"))
	}
	if b.GoVersion != "" {
		parts = append(parts, b.GoVersion)
	}
	switch {
	case b.Revision != "":
		rev := "revision " + b.Revision
		if b.Time != "" {
			rev += " of " + b.Time
		}
		if b.Modified != nil && *b.Modified {
			rev += ", with uncommitted changes"
		}
		parts = append(parts, rev)
	case b.Error == "":
		parts = append(parts, "no VCS revision recorded")
	}
	if b.SHA256 != "" {
		parts = append(parts, "sha256 "+b.SHA256[:min(16, len(b.SHA256))])
	}
	if b.Error != "" {
		parts = append(parts, b.Error)
	}
	return b.Binary + " (" + strings.Join(parts, ", ") + ")"
}
