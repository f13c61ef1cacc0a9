package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// tokensCheckEvery is how often the tokens file is read again: a token
// removed from it (a Kubernetes Secret updated in place) stops working
// within two such intervals (watchTokensFile), and one added starts to.
const tokensCheckEvery = 5 * time.Second

// watchTokensFile reads the file TRIBUTARY_API_TOKENS_FILE names every
// interval until ctx ends, and applies what it holds to access whenever
// its content changes (its bytes, not its mtime: Kubernetes swaps a
// symlink, and an editor may write twice in a second). The file is
// checked as at start-up (parseTokens, on the bytes compared): one that is unreadable, empty or
// holds an entry refused leaves the tokens in force as they are, with
// one ERROR line per content so refused, naming the variable and the
// entry's line, never a token. A change applied is one INFO line naming
// the tokens added, removed and changed (never a secret). SIGHUP is no
// reload: it stops the server, as it always has (signals). A change is
// taken once two checks in a row read it the same: within two intervals.
// A file that is
// not a regular one (a FIFO) is read once, at start-up, and not watched;
// one swapped in later (a FIFO, a directory) is never read, nor waited on
// (readTokensFileNow opens it without waiting and looks at what it
// opened), but said and counted as a file unreadable is.
// Each change met is counted once, by its outcome, as its line is said
// (m.TokensReload), and the time of one applied kept (m.TokensRead).
// It returns at once where there is no file or no access control.
func watchTokensFile(ctx context.Context, cfg config.Config, access *esthttp.Access, interval time.Duration,
	read func(name string) ([]byte, error), log *slog.Logger, m *metrics.Metrics) {
	if cfg.APITokensFile == "" || access == nil {
		return
	}
	fi, err := os.Stat(cfg.APITokensFile)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	// The first check reads the file as it is then, and applies it:
	// nothing changes unless it changed since the start-up read it.
	var applied, refused [sha256.Size]byte // refused: the last content refused, logged once
	var pending [sha256.Size]byte          // a new content read at the last check
	lastReadErr, pendingErr := "", ""      // a read's error said, and one seen at the last check
	file := config.Var("APITokensFile")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if ctx.Err() != nil {
				return // both ready: a stop is not followed by a reload's line
			}
		}
		// One no longer a regular file (a directory, a FIFO) is never
		// read (readTokensFileNow opens it without waiting and stops
		// there), but said as one unreadable is: skipped without a word,
		// its rotations were never applied.
		b, err := read(cfg.APITokensFile)
		if err != nil {
			// Said once it failed so at two checks in a row (a file
			// replaced by a remove and a create is missing a moment), and
			// once only until it is readable again.
			switch why := err.Error(); {
			case why == lastReadErr:
			case why != pendingErr:
				pendingErr = why
			default:
				lastReadErr = why
				log.Error("the tokens file was not read again: the tokens in force are kept", "file", file, "error", why)
				m.TokensReload(metrics.TokensUnreadable)
			}
			pending = [sha256.Size]byte{}
			continue
		}
		lastReadErr, pendingErr = "", ""
		sum := sha256.Sum256(b)
		if sum == applied {
			refused = [sha256.Size]byte{} // back as it was: a refusal again is said again
			continue
		}
		if sum == refused {
			continue
		}
		// Taken once read the same at two checks in a row: a file written
		// in place is read, between its truncation and its last write,
		// empty or cut short, which would be refused for nothing, or,
		// worse, applied without the tokens of its last lines.
		if sum != pending {
			pending = sum
			continue
		}
		// The bytes compared, not the file read again: it may have been
		// rewritten since, and be half written now.
		tokens, err := parseTokens(tokensFileOnly(cfg), b)
		if err != nil {
			refused = sum
			log.Error("the tokens file changed, and was refused: the tokens in force are kept", "file", file, "error", err.Error())
			m.TokensReload(metrics.TokensRefused)
			continue
		}
		changes, err := access.Replace(tokens)
		if err != nil {
			refused = sum
			log.Error("the tokens file changed, and was refused: the tokens in force are kept", "file", file, "error", err.Error())
			m.TokensReload(metrics.TokensRefused)
			continue
		}
		first := applied == [sha256.Size]byte{}
		applied, refused = sum, [sha256.Size]byte{}
		if first && changes.None() {
			// The start-up's read taken again: no change to count, nor
			// a new read time (the start-up's stands).
			continue
		}
		m.TokensReload(metrics.TokensApplied)
		m.TokensRead(time.Now())
		if changes.None() {
			continue // rewritten as it was, or comments changed
		}
		log.Info("access tokens reloaded", "file", file, "tokens", len(tokens),
			"added", orNone(changes.Added), "removed", orNone(changes.Removed), "changed", orNone(changes.Changed))
	}
}

// tokensFileOnly is cfg with the tokens file alone as the tokens' source:
// the variable is refused beside it (config.Load), but set empty, as
// compose.yaml passes it, it must not count as given.
func tokensFileOnly(cfg config.Config) config.Config {
	cfg.APITokens = ""
	return cfg
}

// orNone is names, or an empty list rather than null in the log line.
func orNone(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

// tokensSetEmptyWarning is the start's WARN where TRIBUTARY_API_TOKENS is
// set but empty: an empty secret meant to hold tokens must not pass
// unseen. It told an operator to unset the variable to run open on
// purpose, which compose.yaml's users cannot do (it passes the variable,
// empty when not given): running open, the line is expected, for them and
// for anyone.
var tokensSetEmptyWarning = "access control is off: anyone who can reach this server can read and append; " + config.Var("APITokens") +
	" is set but empty: if tokens were meant (an empty secret, a template left blank?), stop the server and fill it, or give " +
	config.Var("APITokensFile") + "; to run open on purpose, leave it so (compose.yaml passes it empty when it is not given): " +
	"this line is then the reminder at each start"

// readTokensFileNow is readLimited for the watch: it never waits on the
// file (errNotRegular where it is not a regular one).
func readTokensFileNow(name string) ([]byte, error) {
	// Opened without waiting, and then looked at: a look at the name
	// before the open leaves a moment in which a FIFO swapped in blocks
	// the open, and the watch, for good.
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, unquoted(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, unquoted(err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%w: a directory", errNotRegular)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: a FIFO, a socket or a device", errNotRegular)
	}
	return readLimitedFrom(f)
}

// errNotRegular is readTokensFileNow's answer for a file that is not a
// regular one: the watch logs it and counts it unreadable, and never
// reads it.
var errNotRegular = errors.New("not a regular file")
