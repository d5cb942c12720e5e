package bot

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDueDate(t *testing.T) {
	day := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, received, due string
	}{
		{"MidMonth", "2026-03-15 09:30", "2026-04-15 09:30"},
		{"Jan31ToFeb28", "2026-01-31 10:00", "2026-02-28 10:00"},
		{"Jan31ToFeb29LeapYear", "2028-01-31 10:00", "2028-02-29 10:00"},
		{"Jan30ToFeb29LeapYear", "2028-01-30 23:59", "2028-02-29 23:59"},
		{"Jan29ToFeb28", "2027-01-29 00:00", "2027-02-28 00:00"},
		{"Feb28ToMar28", "2026-02-28 12:00", "2026-03-28 12:00"},
		{"Feb29ToMar29", "2028-02-29 12:00", "2028-03-29 12:00"},
		{"Mar31ToApr30", "2026-03-31 08:00", "2026-04-30 08:00"},
		{"May31ToJun30", "2026-05-31 08:00", "2026-06-30 08:00"},
		{"Aug31ToSep30", "2026-08-31 08:00", "2026-09-30 08:00"},
		{"Oct31ToNov30", "2026-10-31 08:00", "2026-11-30 08:00"},
		{"Dec31ToJan31NextYear", "2026-12-31 18:00", "2027-01-31 18:00"},
		{"Dec15ToJan15NextYear", "2026-12-15 18:00", "2027-01-15 18:00"},
		{"Century1900NotLeap", "2100-01-31 00:00", "2100-02-28 00:00"},
		{"Year2000Leap", "2000-01-31 00:00", "2000-02-29 00:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DueDate(day(tc.received))
			assert.Equal(t, day(tc.due), got)
		})
	}
}

func TestDueDateUsesUTC(t *testing.T) {
	// 00:30 on 1 March in UTC+2 is 22:30 on 28 February UTC.
	loc := time.FixedZone("X", 2*3600)
	got := DueDate(time.Date(2026, 3, 1, 0, 30, 0, 0, loc))
	assert.Equal(t, time.Date(2026, 3, 28, 22, 30, 0, 0, time.UTC), got)
}

func TestAddMonths(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		n    int
		want time.Time
	}{
		{"MinusTwelve", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), -12, time.Date(2025, 11, 28, 0, 0, 0, 0, time.UTC)},
		{"MinusTwelveFromLeapDay", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), -12, time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC)},
		{"MinusOneFromMar31", time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC), -1, time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)},
		{"PlusThreeExtension", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), 3, time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC)},
		{"Zero", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), 0, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, AddMonths(tc.in, tc.n))
		})
	}
}
