package client

import (
	"math"
	"net/http"
	"testing"
	"time"
)

// TestRetryAfterReadsOnlyDigitsOrADate: Retry-After is delay-seconds, one
// or more digits, or an HTTP date (RFC 9110 §10.2.3); strconv.ParseInt
// also took a sign, so +5, which no server writes and a broken proxy
// might, was 5 seconds in Problem.RetryAfter and in the wait before a
// read was sent again. A value that is neither is 0, as it said.
func TestRetryAfterReadsOnlyDigitsOrADate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"5", 5 * time.Second},
		{"05", 5 * time.Second},
		{"0", 0},
		{"+5", 0},
		{"-5", 0},
		{"+0", 0},
		{" 5", 0},
		{"5 ", 0},
		{"5.5", 0},
		{"", 0},
		{"99999999999999999999", time.Duration(math.MaxInt64/int64(time.Second)) * time.Second},
		{"+99999999999999999999", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Second).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("Retry-After %q: %v; expected %v", tc.h, got, tc.want)
		}
	}
}
