//go:build !linux

package sqlitestore

// memoryFileSystem is "": only Linux is asked (see ramfs_linux.go).
func memoryFileSystem(string) string { return "" }
