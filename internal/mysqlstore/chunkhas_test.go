package mysqlstore_test

import "bytes"

// chunkHas matches a chunk of what a client sends the server (a
// faultproxy match) that holds every one of words: a statement told by its
// table, its kind and the marker its test interpolated into it.
func chunkHas(words ...string) func([]byte) bool {
	return func(chunk []byte) bool {
		for _, w := range words {
			if !bytes.Contains(chunk, []byte(w)) {
				return false
			}
		}
		return true
	}
}
