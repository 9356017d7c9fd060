package catalog

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Table renders objects as rows of kubectl's table output. The server
// always renders every column; kubectl hides priority-1 columns unless -o wide.
type Table struct {
	Columns []metav1.TableColumnDefinition
	// Cells returns one value per column: a string, an int64 or a bool.
	Cells func(obj Object, now time.Time) []any
	// Conditions optionally annotates a row (pods mark completed rows).
	Conditions func(obj Object) []metav1.TableRowCondition
}

var (
	nameDescription    = metav1.ObjectMeta{}.SwaggerDoc()["name"]
	createdDescription = metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]
)

// nameColumn is the first column of every table.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: nameDescription}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: createdDescription}
}

func col(name, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "string", Description: description}
}

func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

// DefaultTable is used for resources without their own columns.
var DefaultTable = &Table{
	Columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Created At", Type: "date", Description: createdDescription},
	},
	Cells: func(obj Object, _ time.Time) []any {
		return []any{obj.GetName(), obj.GetCreationTimestamp().UTC().Format(time.RFC3339)}
	},
}

// TableFor returns the table of r.
func (r *Resource) TableFor() *Table {
	if r.Table != nil {
		return r.Table
	}
	return DefaultTable
}

// age renders the time since t as kubectl does, or "<unknown>" for a zero time.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(t.Time))
}

// HumanDuration renders a span with the precision kubectl uses for ages:
// finer for recent times ("90s", "5m12s", "3h20m"), coarser for old ones
// ("12d", "2y45d").
func HumanDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < -1:
		return "<invalid>"
	case s < 0:
		return "0s"
	case s < 120:
		return fmt.Sprintf("%ds", s)
	}
	m := s / 60
	switch {
	case m < 10:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s%60)
	case m < 180:
		return fmt.Sprintf("%dm", m)
	}
	h := m / 60
	switch {
	case h < 8:
		if m%60 == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m%60)
	case h < 48:
		return fmt.Sprintf("%dh", h)
	case h < 192:
		if h%24 == 0 {
			return fmt.Sprintf("%dd", h/24)
		}
		return fmt.Sprintf("%dd%dh", h/24, h%24)
	case h < 24*365*2:
		return fmt.Sprintf("%dd", h/24)
	case h < 24*365*8:
		y, dd := h/24/365, (h/24)%365
		if dd == 0 {
			return fmt.Sprintf("%dy", y)
		}
		return fmt.Sprintf("%dy%dd", y, dd)
	}
	return fmt.Sprintf("%dy", h/24/365)
}
