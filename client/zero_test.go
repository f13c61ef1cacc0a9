package client

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestAZeroClientFailsEachCallWithAnError: a Client not made with New
// (var c client.Client, or &client.Client{}) panicked with a nil pointer
// in every call; each call now fails with an error that says to use New,
// and Close does nothing.
func TestAZeroClientFailsEachCallWithAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &Client{}
	calls := map[string]func() error{
		"Append": func() error {
			_, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "t"}, Any, NewEvent{Type: "T", Data: 1})
			return err
		},
		"Stream": func() error { _, err := c.Stream(ctx, uuid.New()); return err },
		"ReadStream": func() error {
			for _, err := range c.ReadStream(ctx, uuid.New(), ReadStreamOptions{}) {
				return err
			}
			return nil
		},
		"ReadAll": func() error {
			for _, err := range c.ReadAll(ctx, ReadAllOptions{}) {
				return err
			}
			return nil
		},
		"Subscribe": func() error {
			for _, err := range c.Subscribe(ctx, SubscribeOptions{}) {
				return err
			}
			return nil
		},
		"Close": func() error {
			if err := c.Close(); err != nil {
				t.Errorf("Close of a zero Client: %v; expected nil", err)
			}
			return errNotMadeWithNew
		},
	}
	for name, call := range calls {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s on a zero Client panicked: %v; expected an error saying to use New", name, r)
				}
			}()
			if err := call(); err == nil || !strings.Contains(err.Error(), "New") {
				t.Errorf("%s on a zero Client: %v; expected an error saying to use New", name, err)
			}
		}()
	}
}
