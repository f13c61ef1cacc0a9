package main

// Go's time zone database, about 450 KB, for a host without one: the image
// is an empty base with no /usr/share/zoneinfo, where a DSN's loc (say
// loc=Europe%2FParis) was refused as an unknown time zone though the same
// DSN started on a machine that has one. The host's database, where there
// is one, is still read first.
import _ "time/tzdata"
