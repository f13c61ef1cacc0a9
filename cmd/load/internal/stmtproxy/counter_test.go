package stmtproxy

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func TestFirstWordSkipsSpaceCommentsAndParentheses(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"SELECT position FROM log_head": "SELECT",
		"  select 1":                    "select",
		"/* tailer */ (SELECT 1)":       "SELECT",
		"-- note\nSELECT 1":             "SELECT",
		"SELECTED":                      "SELECTED",
		"START TRANSACTION":             "START",
		"/* unterminated SELECT":        "",
	} {
		if got := string(firstWord([]byte(q))); got != want {
			t.Errorf("firstWord(%q) = %q, expected %q", q, got, want)
		}
	}
}

func TestCountCommandsCountsStatementsTransactionsAndCopiesEveryByte(t *testing.T) {
	t.Parallel()
	packet := func(seq byte, payload string) string {
		n := len(payload)
		return string([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}) + payload
	}
	in := packet(1, "handshake response, not a command") +
		packet(0, "\x03SELECT 1") + // a read outside a transaction
		packet(0, "\x03START TRANSACTION") +
		packet(0, "\x03SELECT 2 FOR UPDATE") +
		packet(0, "\x03INSERT INTO t VALUES (1)") +
		packet(0, "\x03COMMIT") +
		packet(0, "\x17\x01\x00\x00\x00") + // execute a prepared statement
		packet(0, "\x0e") // ping: not a statement
	var out strings.Builder
	var c statementCounter
	if err := c.countCommands(bufio.NewReader(strings.NewReader(in)), &out, nil); err != io.EOF {
		t.Errorf("expected io.EOF at the end of the input, got %v", err)
	}
	if out.String() != in {
		t.Errorf("expected the bytes to pass unchanged; got %q", out.String())
	}
	got := c.counts()
	if got.Statements != 6 || got.Selects != 2 || got.Reads != 1 || got.Commits != 1 {
		t.Errorf("expected 6 statements, 2 SELECTs, 1 outside a transaction, 1 commit; got %+v", got)
	}
}
