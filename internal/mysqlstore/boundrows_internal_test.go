package mysqlstore

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"
	"testing"
)

// TestRowsReadToTheirEndCloseWithoutABound: a statement's rows read to
// their end (Next said io.EOF, no result set after) leave the driver
// nothing to read as they close, so their Close needs no bound by the
// statement's context; arming one (a context.AfterFunc and two closures)
// cost every read about five allocations and 200 bytes for nothing
// (revgreet's review: BenchmarkStore's TailReadOfOneNewEvent went from 60
// to 65 allocs/op).
func TestRowsReadToTheirEndCloseWithoutABound(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &greetingConn{h: &handshake{}}
	read := func() *boundRows {
		r := &boundRows{mysqlRows: &answeredRows{left: 2}, ctx: ctx, c: c}
		dest := make([]driver.Value, 1)
		for r.Next(dest) == nil {
		}
		return r
	}
	rows := make([]*boundRows, 0, 200)
	for range 200 {
		rows = append(rows, read())
	}
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		if err := rows[i].Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		i++
	}); n != 0 {
		t.Errorf("closing rows read to their end: %v allocations; want none (no bound armed)", n)
	}
	// Rows closed early still close under the bound.
	early := &boundRows{mysqlRows: &answeredRows{left: 2}, ctx: ctx, c: c}
	if n := testing.AllocsPerRun(1, func() { early.Close() }); n == 0 {
		t.Errorf("rows closed before their end armed no bound")
	}
}

// answeredRows are a driver's rows with left rows to go, which need no
// read to close once Next said io.EOF.
type answeredRows struct{ left int }

func (r *answeredRows) Columns() []string { return []string{"x"} }
func (r *answeredRows) Close() error      { return nil }
func (r *answeredRows) Next(dest []driver.Value) error {
	if r.left == 0 {
		return io.EOF
	}
	r.left--
	dest[0] = int64(r.left)
	return nil
}
func (r *answeredRows) ColumnTypeDatabaseTypeName(int) string             { return "BIGINT" }
func (r *answeredRows) ColumnTypeNullable(int) (bool, bool)               { return false, true }
func (r *answeredRows) ColumnTypePrecisionScale(int) (int64, int64, bool) { return 0, 0, false }
func (r *answeredRows) ColumnTypeScanType(int) reflect.Type               { return reflect.TypeFor[int64]() }
func (r *answeredRows) HasNextResultSet() bool                            { return false }
func (r *answeredRows) NextResultSet() error                              { return io.EOF }
