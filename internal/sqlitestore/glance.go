package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// maxDepth bounds a walk down a b-tree: SQLite's own bound (BTCURSOR_MAX_DEPTH);
// a cycle of damaged child pointers would otherwise never end.
const maxDepth = 20

// glance reads what a start can afford to read of a database file that the
// store last stopped cleanly, where quick_check, which reads every page, is
// skipped: the header (its auto-vacuum fields against the schema's roots),
// the first page of the free list (where the next page an append needs
// comes from), and for every table and index the pages on the way from its
// root to its first and to its last row, checked as SQLite checks a page it
// loads (the last leaf of the log is where the next append writes and what
// subscribers read most), and the last event whole. Bit rot, a page gone
// bad at rest with the file's size and time unchanged, is found there;
// elsewhere, only by a full check (see the README). It returns an error
// saying what is wrong, for the caller to confirm with quick_check.
//
// It reads the file through the store's own descriptor: closing another
// one would drop SQLite's locks (see lockDir). There is no WAL after a clean
// stop, so the file holds every page as SQLite sees it.
func (s *Store) glance(ctx context.Context) error {
	if s.file == nil {
		return nil
	}
	fi, err := s.file.Stat()
	if err != nil {
		return err
	}
	return s.glanceAt(ctx, s.file, fi.Size())
}

// glanceAt is glance on the database file's pages read through f, of
// length bytes.
func (s *Store) glanceAt(ctx context.Context, f io.ReaderAt, length int64) error {
	p, err := readPages(f, length)
	if err != nil {
		return err
	}
	if err := p.freeList(); err != nil {
		return err
	}
	roots, err := s.roots(ctx, p.count)
	if err != nil {
		return err
	}
	if err := p.vacuumFields(roots); err != nil {
		return err
	}
	for name, t := range roots {
		first, err := p.walk(t.root, t.table, false)
		if err != nil {
			return fmt.Errorf("%s, on the way to its first row: %w", name, err)
		}
		last, err := p.walk(t.root, t.table, true)
		if err != nil {
			return fmt.Errorf("%s, on the way to its last row: %w", name, err)
		}
		if first != last {
			return fmt.Errorf("%s: its first row is %d pages below its root, its last %d", name, first, last)
		}
	}
	if _, ok := roots["events"]; ok {
		// Its record decoded and its data and metadata read whole, from
		// any overflow pages they take.
		var position int64
		var d, m []byte
		err := s.feed.QueryRowContext(ctx, "SELECT position, substr(data, -1), substr(metadata, -1) FROM events ORDER BY position DESC LIMIT 1").
			Scan(&position, &d, &m)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the last event: %w", err)
		}
	}
	return nil
}

// tree is a b-tree the schema lists: its root page, and whether it is a
// table's keyed by rowid (an index's, and a WITHOUT ROWID table's, are keyed
// by their columns: pages of another kind).
type tree struct {
	root  uint32
	table bool
}

// roots returns every table and index the schema lists, the schema's own
// included, each root checked to be one of the count pages.
func (s *Store) roots(ctx context.Context, count uint32) (map[string]tree, error) {
	rows, err := s.feed.QueryContext(ctx, `SELECT s.name, s.rootpage, s.type = 'table' AND coalesce(l.wr, 0) = 0
		FROM sqlite_schema AS s LEFT JOIN pragma_table_list AS l ON l.schema = 'main' AND l.name = s.name
		WHERE s.rootpage > 0`)
	if err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	defer rows.Close()
	roots := map[string]tree{"sqlite_schema": {root: 1, table: true}}
	for rows.Next() {
		var name string
		var root int64
		var table bool
		if err := rows.Scan(&name, &root, &table); err != nil {
			return nil, fmt.Errorf("read the schema: %w", err)
		}
		if root < 1 || root > int64(count) {
			return nil, fmt.Errorf("the schema gives %s the root page %d, of %d", name, root, count)
		}
		roots[name] = tree{root: uint32(root), table: table}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	return roots, nil
}

// pages reads the b-tree pages of a database file.
type pages struct {
	f      io.ReaderAt
	size   int    // bytes a page
	usable int    // of them, not reserved at the end of each page
	count  uint32 // pages in the database
	trunk  uint32 // the free list's first trunk page, 0 if none
	free   uint32 // pages in the free list
	// The largest root page, where auto-vacuum is on (0 where it is off),
	// and whether incremental vacuum is on.
	largestRoot, incremental uint32
}

// readPages reads and checks the header of the database file f, of length
// bytes.
func readPages(f io.ReaderAt, length int64) (*pages, error) {
	h := make([]byte, 100)
	if _, err := f.ReadAt(h, 0); err != nil {
		return nil, fmt.Errorf("read the header: %w", err)
	}
	size, usable, err := headerFields(h)
	if err != nil {
		return nil, err
	}
	if length%int64(size) != 0 {
		return nil, fmt.Errorf("the file's %d bytes are not a whole number of pages of %d", length, size)
	}
	count := uint32(length / int64(size))
	// SQLite takes the header's page count where it is valid, and the
	// file's length where it is not.
	if n := binary.BigEndian.Uint32(h[28:]); n != 0 && binary.BigEndian.Uint32(h[92:]) == binary.BigEndian.Uint32(h[24:]) {
		if n != count {
			return nil, fmt.Errorf("the header says the database has %d pages, and the file holds %d", n, count)
		}
	}
	return &pages{f: f, size: size, usable: usable, count: count,
		trunk: binary.BigEndian.Uint32(h[32:]), free: binary.BigEndian.Uint32(h[36:]),
		largestRoot: binary.BigEndian.Uint32(h[52:]), incremental: binary.BigEndian.Uint32(h[64:])}, nil
}

// vacuumFields checks the header's auto-vacuum fields as quick_check does:
// SQLite takes auto-vacuum to be on where the largest root page is not 0,
// and then it must be the largest of roots, the file's b-trees; where it is
// 0, incremental vacuum must be off. With either gone bad, SQLite would
// look for, or write, pointer-map pages the file does not have.
func (p *pages) vacuumFields(roots map[string]tree) error {
	if p.largestRoot == 0 {
		if p.incremental != 0 {
			return fmt.Errorf("the header turns incremental vacuum on (%d) without auto-vacuum", p.incremental)
		}
		return nil
	}
	var largest uint32
	for _, t := range roots {
		largest = max(largest, t.root)
	}
	if largest != p.largestRoot {
		return fmt.Errorf("the header gives the largest root page %d, and the schema's largest is %d", p.largestRoot, largest)
	}
	return nil
}

// headerFields checks the fields of the database file's header h that
// SQLite reads as it opens the file (lockBtree, sqlite3InitOne) and that no
// commit changes, so that they hold whatever a WAL beside the file holds,
// and returns the page size and the bytes of each page not reserved.
func headerFields(h []byte) (size, usable int, err error) {
	if !bytes.HasPrefix(h, header) {
		return 0, 0, fmt.Errorf("the header does not begin as SQLite's does")
	}
	size = int(binary.BigEndian.Uint16(h[16:]))
	if size == 1 {
		size = 65536
	}
	if size < 512 || size > 65536 || size&(size-1) != 0 {
		return 0, 0, fmt.Errorf("the header gives a page size of %d", size)
	}
	if h[18] < 1 || h[18] > 2 || h[19] < 1 || h[19] > 2 || h[21] != 64 || h[22] != 32 || h[23] != 32 {
		return 0, 0, fmt.Errorf("the header's format bytes are % x, not SQLite's", h[18:24])
	}
	usable = size - int(h[20])
	if usable < 480 {
		return 0, 0, fmt.Errorf("the header reserves %d bytes of each page of %d", h[20], size)
	}
	// 0 until the first table is made; SQLite writes 1 to 4.
	if format := binary.BigEndian.Uint32(h[44:]); format > 4 {
		return 0, 0, fmt.Errorf("the header gives the schema format %d", format)
	}
	// The store's files are UTF-8 (1), or 0 until the first table is made:
	// read as UTF-16, the schema's names are garbage.
	if enc := binary.BigEndian.Uint32(h[56:]); enc > 1 {
		return 0, 0, fmt.Errorf("the header gives the text encoding %d, and the store's files are UTF-8 (1)", enc)
	}
	return size, usable, nil
}

// freeList checks the head of the free list, where SQLite takes the next
// page an append needs (allocateBtreePage): the header's first trunk page
// and count of free pages, and the first trunk page, its next trunk and its
// leaves, each one of the database's pages.
func (p *pages) freeList() error {
	if p.trunk == 0 && p.free == 0 {
		return nil
	}
	if p.trunk < 2 || p.trunk > p.count || p.free == 0 || p.free >= p.count {
		return fmt.Errorf("the header gives the free list the first page %d and %d pages, of %d", p.trunk, p.free, p.count)
	}
	b := make([]byte, p.size)
	if _, err := p.f.ReadAt(b, int64(p.trunk-1)*int64(p.size)); err != nil {
		return fmt.Errorf("the free list's page %d: %w", p.trunk, err)
	}
	next, leaves := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if next > p.count || leaves > uint32(p.usable/4-2) || leaves >= p.free {
		return fmt.Errorf("the free list's page %d gives the next page %d and %d leaves, of %d pages free", p.trunk, next, leaves, p.free)
	}
	for i := range int(leaves) {
		if leaf := binary.BigEndian.Uint32(b[8+4*i:]); leaf < 2 || leaf > p.count {
			return fmt.Errorf("the free list's page %d gives its leaf %d as page %d, of %d", p.trunk, i, leaf, p.count)
		}
	}
	return nil
}

// walk goes down the b-tree whose root is page root, a table's keyed by
// rowid (table) or not, to its last leaf (last) or its first, checking each
// page on the way as SQLite does when it loads one (btreeInitPage,
// btreeComputeFreeSpace, btreeCellSizeCheck), when a cursor moves to it
// (moveToRoot, moveToChild) and when quick_check reads it (checkTreePage:
// the cells and free blocks cover the page without overlapping, but for
// the fragments the page counts), and returns how many pages below the root
// the leaf is. It reads no overflow page.
func (p *pages) walk(root uint32, table, last bool) (int, error) {
	b := make([]byte, p.size)
	page := root
	for depth := 0; depth < maxDepth; depth++ {
		if _, err := p.f.ReadAt(b, int64(page-1)*int64(p.size)); err != nil {
			return 0, fmt.Errorf("page %d: %w", page, err)
		}
		off := 0 // where the page's header begins: after the file's, on page 1
		if page == 1 {
			off = 100
		}
		var leaf, isTable bool
		switch b[off] {
		case 13:
			leaf, isTable = true, true
		case 5:
			isTable = true
		case 10:
			leaf = true
		case 2:
		default:
			return 0, fmt.Errorf("page %d is not a b-tree page (its type byte is %d)", page, b[off])
		}
		if isTable != table {
			return 0, fmt.Errorf("page %d is a page of %s b-tree, in %s", page, kind(isTable), kind(table))
		}
		hdr := 12
		if leaf {
			hdr = 8
		}
		cells := int(binary.BigEndian.Uint16(b[off+3:]))
		if cells > (p.size-8)/6 { // SQLite's MX_CELL
			return 0, fmt.Errorf("page %d says it holds %d cells", page, cells)
		}
		// Every page below the root holds a cell, and so does an interior
		// root, except page 1, the schema's, which may hold only its
		// right-most child.
		if cells == 0 && (depth > 0 || !leaf && page != 1) {
			return 0, fmt.Errorf("page %d, an interior page or one below the root, holds no cells", page)
		}
		cellFirst, cellLast := off+hdr+2*cells, p.usable-4
		top := int(binary.BigEndian.Uint16(b[off+5:]))
		if top == 0 {
			top = 65536
		}
		// The free space: the fragments, the gap before the cells and the
		// chain of free blocks, each after the last and inside the page.
		free := int(b[off+7]) + top
		var used []span // the free blocks and the cells
		if pc := int(binary.BigEndian.Uint16(b[off+1:])); pc > 0 {
			if pc < top {
				return 0, fmt.Errorf("page %d: a free block at %d, before its cells at %d", page, pc, top)
			}
			for {
				if pc > cellLast {
					return 0, fmt.Errorf("page %d: a free block at %d, past the page", page, pc)
				}
				next, size := int(binary.BigEndian.Uint16(b[pc:])), int(binary.BigEndian.Uint16(b[pc+2:]))
				free += size
				used = append(used, span{pc, pc + size})
				if next <= pc+size+3 {
					if next > 0 {
						return 0, fmt.Errorf("page %d: free blocks at %d and %d overlap", page, pc, next)
					}
					if pc+size > p.usable {
						return 0, fmt.Errorf("page %d: a free block at %d of %d bytes, past the page", page, pc, size)
					}
					break
				}
				pc = next
			}
		}
		if free > p.usable || free < cellFirst {
			return 0, fmt.Errorf("page %d: its free space (%d bytes) does not fit its %d cells", page, free, cells)
		}
		for i := range cells {
			pc := int(binary.BigEndian.Uint16(b[off+hdr+2*i:]))
			if pc < cellFirst || pc > cellLast {
				return 0, fmt.Errorf("page %d: cell %d at %d, outside the page's cells", page, i, pc)
			}
			size, err := p.cellSize(b[:p.usable], pc, leaf, table)
			if err != nil {
				return 0, fmt.Errorf("page %d: cell %d at %d: %w", page, i, pc, err)
			}
			used = append(used, span{pc, pc + size})
		}
		// Every byte from the cells' start to the page's usable end is in
		// one cell or free block, or counted as a fragment (checkTreePage).
		slices.SortFunc(used, func(a, b span) int { return a.start - b.start })
		end, frag := top, 0
		for _, u := range used {
			if u.start < end {
				return 0, fmt.Errorf("page %d: its cells and free blocks overlap at %d", page, u.start)
			}
			frag += u.start - end
			end = u.end
		}
		if frag += p.usable - end; frag != int(b[off+7]) {
			return 0, fmt.Errorf("page %d: its cells and free blocks leave %d bytes unused, and it counts %d", page, frag, b[off+7])
		}
		if leaf {
			return depth, nil
		}
		child := binary.BigEndian.Uint32(b[off+8:]) // the right-most
		if !last && cells > 0 {
			child = binary.BigEndian.Uint32(b[binary.BigEndian.Uint16(b[off+hdr:]):])
		}
		if child < 2 || child > p.count {
			return 0, fmt.Errorf("page %d points to page %d, of %d", page, child, p.count)
		}
		page = child
	}
	return 0, fmt.Errorf("the b-tree from page %d is more than %d pages deep", root, maxDepth)
}

// span is the bytes [start, end) of a page that a cell or a free block takes.
type span struct{ start, end int }

// cellSize returns how many bytes of the page b (cut at its usable end) the
// cell at pc takes, as SQLite counts them (cellSizePtr and its kin): a
// table's interior cell holds a child page and a rowid; any other, its
// payload's size, a table leaf's the rowid, the payload, as much of it as
// the page keeps, and the first of its overflow pages, if any.
func (p *pages) cellSize(b []byte, pc int, leaf, table bool) (int, error) {
	at := pc
	if !leaf {
		at += 4 // the child page
	}
	if table && !leaf {
		_, n, err := varint(b, at)
		return at + n - pc, err
	}
	payload, n, err := varint(b, at)
	if err != nil {
		return 0, err
	}
	at += n
	if table {
		_, n, err := varint(b, at) // the rowid
		if err != nil {
			return 0, err
		}
		at += n
	}
	if payload > math.MaxInt32 {
		return 0, fmt.Errorf("a payload of %d bytes", payload)
	}
	// What a page keeps of a payload (the file format's X, M and K).
	maxLocal, minLocal := (p.usable-12)*64/255-23, (p.usable-12)*32/255-23
	if table {
		maxLocal = p.usable - 35
	}
	size := at - pc + int(payload)
	if int(payload) > maxLocal {
		local := minLocal + (int(payload)-minLocal)%(p.usable-4)
		if local > maxLocal {
			local = minLocal
		}
		size = at - pc + local + 4
	}
	size = max(size, 4)
	if pc+size > len(b) {
		return 0, fmt.Errorf("%d bytes, past the page", size)
	}
	return size, nil
}

// varint decodes the varint at b[at:]: its value and its length, 1 to 9
// bytes, the ninth's eight bits all the value's.
func varint(b []byte, at int) (v uint64, n int, err error) {
	for n < 8 {
		if at+n >= len(b) {
			return 0, 0, errors.New("a varint past the page")
		}
		c := b[at+n]
		n++
		v = v<<7 | uint64(c&0x7f)
		if c < 0x80 {
			return v, n, nil
		}
	}
	if at+8 >= len(b) {
		return 0, 0, errors.New("a varint past the page")
	}
	return v<<8 | uint64(b[at+8]), 9, nil
}

// kind names the kind of b-tree a page of a table keyed by rowid (table) or
// of an index belongs to.
func kind(table bool) string {
	if table {
		return "a table's"
	}
	return "an index's"
}
