package sqlitestore

import "syscall"

// The file system types (statfs f_type) that keep files in memory only.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// memoryFileSystem returns the name of the file system that dir is on
// where that file system keeps its files in memory only (tmpfs, ramfs), so
// that a reboot or a power cut loses them; "" otherwise, or where it cannot
// tell.
func memoryFileSystem(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	switch uint32(st.Type) {
	case tmpfsMagic:
		return "tmpfs"
	case ramfsMagic:
		return "ramfs"
	}
	return ""
}
