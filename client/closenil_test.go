package client

import "testing"

// TestClosingWhatARefusedNewReturnedIsNoPanic: New returns a nil *Client
// with its error, and a caller that deferred Close before checking it
// (defer c.Close(), then if err != nil) had the deferred Close panic on
// the nil client, the error New gave lost behind the panic. The
// documentation said so; Close on a nil client now does nothing.
func TestClosingWhatARefusedNewReturnedIsNoPanic(t *testing.T) {
	t.Parallel()
	panicked := false
	run := func() error {
		defer func() {
			if recover() != nil {
				panicked = true
			}
		}()
		c, err := New("ftp://example.com")
		//lint:ignore SA5001 the mistake this test makes on purpose
		defer c.Close() //nolint:errcheck // the same

		return err
	}
	err := run()
	if err == nil || panicked {
		t.Errorf("a deferred Close of what New(\"ftp://example.com\") returned: panicked %v, error %v; expected no panic and New's refusal", panicked, err)
	}
}
