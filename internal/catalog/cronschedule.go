package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronField is the range of one field of a standard cron schedule and the
// names it accepts.
type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{name: "day of week", min: 0, max: 6, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// cronDescriptors are the schedules a CronJob may give by name.
var cronDescriptors = map[string]bool{
	"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true, "@daily": true, "@midnight": true, "@hourly": true,
}

// checkCronSchedule accepts what a CronJob's schedule may be: five fields
// (minute, hour, day of month, month, day of week), each a list of "*",
// "?", values, names or ranges with an optional step, or a descriptor
// (@daily, @every 1h30m, ...), optionally after a TZ= or CRON_TZ= zone
// (which the caller refuses, as Kubernetes does).
func checkCronSchedule(schedule string) error {
	s := strings.TrimSpace(schedule)
	if zone, rest, ok := strings.Cut(s, " "); ok && (strings.HasPrefix(zone, "TZ=") || strings.HasPrefix(zone, "CRON_TZ=")) {
		if _, err := time.LoadLocation(zone[strings.Index(zone, "=")+1:]); err != nil {
			return fmt.Errorf("provided bad location %s: %v", zone, err)
		}
		s = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(s, "@") {
		if every, ok := strings.CutPrefix(s, "@every "); ok {
			if _, err := time.ParseDuration(every); err != nil {
				return fmt.Errorf("failed to parse duration %s: %v", s, err)
			}
			return nil
		}
		if !cronDescriptors[s] {
			return fmt.Errorf("unrecognized descriptor: %s", s)
		}
		return nil
	}
	fields := strings.Fields(s)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), s)
	}
	for i, f := range fields {
		for _, part := range strings.Split(f, ",") {
			if err := cronFields[i].check(part); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c cronField) check(part string) error {
	rng, step, stepped := strings.Cut(part, "/")
	if stepped {
		n, err := strconv.Atoi(step)
		if err != nil || n <= 0 {
			return fmt.Errorf("failed to parse int from %s: bad step", step)
		}
	}
	if rng == "*" || rng == "?" {
		return nil
	}
	lo, hi, isRange := strings.Cut(rng, "-")
	a, err := c.value(lo)
	if err != nil {
		return err
	}
	b := a
	if isRange {
		if b, err = c.value(hi); err != nil {
			return err
		}
	}
	if a < c.min || b > c.max {
		return fmt.Errorf("end of range (%d) above maximum (%d): %s", b, c.max, part)
	}
	if a > b {
		return fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", a, b, part)
	}
	return nil
}

func (c cronField) value(s string) (int, error) {
	if n, ok := c.names[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("failed to parse int from %s: %v", s, err)
	}
	if n < c.min || n > c.max {
		return 0, fmt.Errorf("%s %d out of range %d-%d", c.name, n, c.min, c.max)
	}
	return n, nil
}
