package catalog

import "testing"

func TestCheckCronSchedule(t *testing.T) {
	for _, ok := range []string{"0 3 * * *", "*/5 * * * *", "0 0 1,15 * mon-fri", "30 2 * jan,jul sun", "@daily", "@every 1h30m", "0 0 ? * *", "0-30/10 9-17 * * 1-5"} {
		if err := checkCronSchedule(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"every day", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7", "5-1 * * * *", "*/0 * * * *", "@often", "@every soon", "* * * * * *"} {
		if err := checkCronSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
