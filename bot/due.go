package bot

import "time"

// AddMonths adds n calendar months to t (n may be negative), clamping the
// day to the last day of the target month: 31 January + 1 month is 28 (or
// 29) February, not 3 March as time.AddDate gives. The clock time and
// location of t are kept.
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	// First day of the target month, normalised by time.Date.
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, t.Location())
	last := daysIn(first.Year(), first.Month())
	if d > last {
		d = last
	}
	return time.Date(first.Year(), first.Month(), d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

// DueDate is when a data-rights request received at t must be answered:
// one calendar month later, clamped to the end of a shorter month (UK GDPR
// Art. 12(3) as the ICO reads it). The date is taken in UTC.
func DueDate(received time.Time) time.Time {
	return AddMonths(received.UTC(), 1)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
