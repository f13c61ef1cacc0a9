package config

import (
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"time"
)

// Var returns the environment variable that sets the Config field named
// field: Var("DataDir") is TRIBUTARY_DATA_DIR. Messages name settings through
// it, so that the names are written once, in Config's tags. It panics on a
// name Config does not have, a mistake its tests catch.
func Var(field string) string {
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		panic("config: no setting " + field)
	}
	return f.Tag.Get("envconfig")
}

// Defaults returns every setting at its default, read from the same tags as
// Load reads: the parts of the service fill a zero option from here.
func Defaults() Config {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for i := 0; i < v.NumField(); i++ {
		def, ok := v.Type().Field(i).Tag.Lookup("default")
		if !ok {
			continue
		}
		if err := setDefault(v.Field(i), def); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", v.Type().Field(i).Name, err))
		}
	}
	return c
}

// setDefault parses a default tag into a field of one of Config's kinds.
func setDefault(f reflect.Value, def string) error {
	switch f.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(def)
		f.SetInt(int64(d))
		return err
	case slog.Level:
		var l slog.Level
		err := l.UnmarshalText([]byte(def))
		f.Set(reflect.ValueOf(l))
		return err
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(def)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(def, 10, 64)
		f.SetInt(n)
		return err
	case reflect.Bool:
		b, err := strconv.ParseBool(def)
		f.SetBool(b)
		return err
	default:
		return fmt.Errorf("unsupported kind %s", f.Kind())
	}
	return nil
}
