package sqlitestore

import (
	"database/sql"
	"encoding/binary"
	"hash/crc32"
	"sync"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// SQLite keeps no checksum of a row: a byte gone bad inside one was read
// back as it was, and served with a 200, as an answer that is not JSON or,
// worse, as JSON that no append wrote ("amount":100 read as "amount":108).
// So each event is stored with a checksum of its own (eventSum), and every
// read the shared SQL store makes of events (a page of the log or of a
// stream, one event, the live feed's) hands it, with the event, to
// checkRead; an event that does not match it is damage in the file,
// reported as translate reports what SQLite finds. Events stored before the
// column existed (checksum NULL) are checked as they were before it: their
// data and metadata must be JSON in UTF-8.

// castagnoli is CRC-32C's table: the polynomial the CPU computes (SSE 4.2,
// ARMv8), at several GB/s, where json.Valid reads about 250 MB/s.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// eventSum is the CRC-32C of what an append wrote of e, in this order: its
// position and version (8 bytes each, big-endian), event id and stream id
// (16 bytes each), the lengths of its stream type and event type (4 bytes
// each) and of its data and metadata (8 bytes each; absent metadata, NULL,
// is of length 0), then the bytes of those four. The lengths make each
// part's bounds part of the sum, so bytes moved from the data to the
// metadata, or from one type to the other, do not match it. recorded_at
// and batch_size are not covered: SQLite keeps the time as text it
// formats, and batch_size only bounds an append's retry. Files hold it:
// it must never change (TestAnEventsChecksumCoversEachPartAndItsBounds).
func eventSum(e eventstore.Event) int64 {
	buf := sumBuffers.Get().(*[]byte)
	defer sumBuffers.Put(buf)
	b := binary.BigEndian.AppendUint64((*buf)[:0], uint64(e.Position))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Version))
	b = append(b, e.ID[:]...)
	b = append(b, e.StreamID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.StreamType)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Type)))
	b = binary.BigEndian.AppendUint64(b, uint64(len(e.Data)))
	b = binary.BigEndian.AppendUint64(b, uint64(len(e.Metadata)))
	b = append(append(b, e.StreamType...), e.Type...)
	*buf = b
	sum := crc32.Update(0, castagnoli, b)
	sum = crc32.Update(sum, castagnoli, e.Data)
	sum = crc32.Update(sum, castagnoli, e.Metadata)
	return int64(sum)
}

// sumBuffers hold what eventSum sums before the data: a sum is taken of
// every event read, and a buffer of its own (as the names converted to
// bytes) was three allocations an event, since crc32.Update's slice escapes.
var sumBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 64+2*eventstore.MaxNameLength)
	return &b
}}

// checkRead is the dialect's CheckRead: it returns the damage error (see
// foundDamage) of an event that eventDamage finds damaged, and remembers
// its position for the next start (see remember.go).
func (s *Store) checkRead(e eventstore.Event, sum sql.NullInt64) error {
	err := eventDamage(e, sum)
	if err == nil {
		return nil
	}
	s.rememberDamaged(e.Position)
	return s.foundDamage(err)
}
