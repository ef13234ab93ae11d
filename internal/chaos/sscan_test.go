package chaos_test

import "fmt"

func fmtSscan(s string, v *uint64) (int, error) { return fmt.Sscan(s, v) }
