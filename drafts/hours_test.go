package drafts

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones these tests name, whatever the machine has

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHours(t *testing.T) {
	cases := []struct{ name, in, want, words string }{
		{"Canonical", "mon-fri 08:00-17:30, sat 09:00-12:00", "mon-fri 08:00-17:30, sat 09:00-12:00",
			"Monday to Friday 8:00–17:30, Saturday 9:00–12:00; closed Sunday"},
		{"FreeTextOfOldProfiles", "Mon-Fri 8:00-18:00, Sat 9:00-13:00, closed Sunday", "mon-fri 08:00-18:00, sat 09:00-13:00", ""},
		{"LunchBreak", "mon-fri 08:00-12:00 13:00-17:30", "mon-fri 08:00-12:00 13:00-17:30",
			"Monday to Friday 8:00–12:00 13:00–17:30; closed Saturday and Sunday"},
		{"TimesOnlyAddToTheDaysBefore", "mon-fri 08:00-12:00, 13:00-17:30", "mon-fri 08:00-12:00 13:00-17:30", ""},
		{"TwelveHourClock", "weekdays 9am-5:30pm", "mon-fri 09:00-17:30", ""},
		{"Daily", "daily 10-16", "mon-sun 10:00-16:00", "Monday to Sunday 10:00–16:00"},
		{"RangeWrapsTheWeekend", "fri-mon 10:00-14:00", "mon 10:00-14:00, fri-sun 10:00-14:00", ""},
		{"PastMidnight", "fri 18:00-24:00, sat 00:00-02:00", "fri 18:00-24:00, sat 00:00-02:00", ""},
		{"DayList", "sat and sun 10:00 to 12:00", "sat-sun 10:00-12:00", ""},
		{"Dashes", "Mon–Fri 08:00–17:30", "mon-fri 08:00-17:30", ""},
		{"ColonsAndSemicolons", "tue: 08:00-17:00; thu: 08:00-17:00", "tue 08:00-17:00, thu 08:00-17:00", ""},
		{"ClosedDayNamed", "mon-sat 9-17, sun closed", "mon-sat 09:00-17:00", ""},
		{"NoonAndMidnight", "sat noon-midnight", "sat 12:00-24:00", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseHours(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, w.String())
			again, err := ParseHours(w.String())
			require.NoError(t, err)
			assert.Equal(t, w, again, "String reads back as the same week")
			if tc.words != "" {
				assert.Equal(t, tc.words, w.Words())
			}
		})
	}
}

func TestParseHoursErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"Empty", " ", "Give the opening hours as days and times, such as mon-fri 08:00-17:30, sat 09:00-12:00."},
		{"NotADay", "funday 08:00-17:00", `There is no day called "funday"; use mon, tue, wed, thu, fri, sat or sun.`},
		{"NoTimes", "mon-fri", "Give the times for Monday to Friday too, such as mon-fri 08:00-17:30, sat 09:00-12:00."},
		{"EndsBeforeItStarts", "mon-fri 17:00-08:00", "An opening time ends after it starts, such as 08:00-17:30; for hours past midnight, end the day at 24:00 and start the next at 00:00."},
		{"TwelveHourClock", "mon-fri 9-5:30", "Times are on the 24-hour clock: for 9:00 to 5:30 in the afternoon, write 09:00-17:30."},
		{"NoSuchTime", "mon 25:00-26:00", "A time is written like 08:00 or 17:30, on the 24-hour clock."},
		{"BadMinutes", "mon 8:0-9", "A time is written like 08:00 or 17:30, on the 24-hour clock."},
		{"StartsAt24", "mon 24:00-24:00", "24:00 is only where an opening time ends; a day starts at 00:00."},
		{"Overlap", "mon-fri 08:00-12:00, fri 11:00-13:00", "Friday has overlapping times; give each day its times once."},
		{"OpenAndClosed", "sun closed, sun 10-12", "Sunday is both open and closed in those hours; name each day once."},
		{"NoCommas", "mon-fri 08:00-17:30 sat 09:00-12:00", "Separate the entries with commas, such as mon-fri 08:00-17:30, sat 09:00-12:00."},
		{"NeverOpen", "sun closed", "Those hours are never open; give the days and times you are open, such as mon-fri 08:00-17:30, sat 09:00-12:00."},
		{"NotARange", "mon 08:00", "Opening times are ranges on the 24-hour clock, such as 08:00-17:30."},
		{"TimesFirst", "08:00-17:00", "Opening hours start with the days, such as mon-fri 08:00-17:30, sat 09:00-12:00."},
		{"DayTwice", "mon-wed tue 9-10", "Tuesday is named twice in one entry."},
		{"TooMany", "mon 1-2 3-4 5-6 7-8 9-10 11-12 13-14", "A day can have at most 6 opening times."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHours(tc.in)
			require.ErrorIs(t, err, ErrBadProfile)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestParseClosures(t *testing.T) {
	cs, err := ParseClosures("2026-01-01, 2025-12-24 to 2025-12-26; 2026-04-03..2026-04-06")
	require.NoError(t, err)
	assert.Equal(t, "2025-12-24 to 2025-12-26, 2026-01-01, 2026-04-03 to 2026-04-06", FormatClosures(cs))
	assert.Equal(t, "24 December 2025 to 26 December 2025, 1 January 2026, 3 April 2026 to 6 April 2026", closuresWords(cs))

	for name, in := range map[string]string{
		"NotADate":    "25/12/2025",
		"NoSuchDay":   "2025-02-30",
		"Backwards":   "2025-12-26 to 2025-12-24",
		"OverAYear":   "2025-01-01 to 2026-01-02",
		"Empty":       ", ,",
		"TooMany":     strings.Repeat("2025-12-25, ", maxClosures+1),
		"HalfAPeriod": "2025-12-24 to",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseClosures(in)
			assert.ErrorIs(t, err, ErrBadProfile)
		})
	}
}

func TestLoadTimeZone(t *testing.T) {
	for in, want := range map[string]string{
		"Europe/London":    "Europe/London",
		"europe/london":    "Europe/London",
		"america/new_york": "America/New_York",
		"UTC":              "UTC",
	} {
		loc, err := LoadTimeZone(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, loc.String())
	}
	for in, want := range map[string]string{
		"GMT":            "A time zone is a place name such as Europe/London or America/New_York, so summer time is right.",
		"Local":          "A time zone is a place name such as Europe/London or America/New_York, so summer time is right.",
		"../etc/passwd":  "A time zone is a place name such as Europe/London or America/New_York, so summer time is right.",
		"/etc/localtime": "A time zone is a place name such as Europe/London or America/New_York, so summer time is right.",
		"Europe/Lndon":   `There is no time zone called "Europe/Lndon"; use a place name such as Europe/London or Europe/Dublin.`,
	} {
		_, err := LoadTimeZone(in)
		require.ErrorIs(t, err, ErrBadProfile, in)
		assert.Equal(t, want, err.Error(), in)
	}
}

// schedule builds a Schedule for the tests.
func schedule(t *testing.T, hours, zone, closures, urgent string) Schedule {
	t.Helper()
	w, err := ParseHours(hours)
	require.NoError(t, err)
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	var cs []Closure
	if closures != "" {
		cs, err = ParseClosures(closures)
		require.NoError(t, err)
	}
	return Schedule{Week: w, Closures: cs, Loc: loc, Urgent: urgent}
}

func TestScheduleClosed(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, london) }
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	shop := "mon-fri 08:00-17:30, sat 09:00-12:00"
	cases := []struct {
		name, hours, zone, closures, urgent string
		t                                   time.Time
		open                                bool
		until                               time.Time // UTC, as the instant it is
		reply                               string
	}{
		{name: "FridayEvening", t: at(2025, 3, 14, 19, 42), until: utc(2025, 3, 15, 9, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 9:00 tomorrow."},
		{name: "SaturdayEvening", t: at(2025, 3, 15, 19, 42), until: utc(2025, 3, 17, 8, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 8:00 on Monday."},
		{name: "SaturdayMorningIsOpen", t: at(2025, 3, 15, 11, 0), open: true},
		{name: "ClosingTimeIsClosed", t: at(2025, 3, 15, 12, 0), until: utc(2025, 3, 17, 8, 0)},
		{name: "LastSecondIsOpen", t: at(2025, 3, 14, 17, 29).Add(59 * time.Second), open: true},
		{name: "SundayNight", t: at(2025, 3, 16, 23, 30), until: utc(2025, 3, 17, 8, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 8:00 tomorrow."},
		{name: "AfterMidnight", t: at(2025, 3, 17, 0, 5), until: utc(2025, 3, 17, 8, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 8:00 today."},
		{name: "EarlyMorning", t: at(2025, 3, 18, 7, 59), until: utc(2025, 3, 18, 8, 0)},
		{name: "ThursdayNight", t: at(2025, 3, 13, 22, 0), until: utc(2025, 3, 14, 8, 0)},
		{name: "Urgent", urgent: "call 0117 496 0000", t: at(2025, 3, 15, 19, 42), until: utc(2025, 3, 17, 8, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 8:00 on Monday. Urgent? Call 0117 496 0000."},
		{name: "UrgentWithItsOwnStop", urgent: "Ring Sam on 07700 900123!", t: at(2025, 3, 15, 19, 42), until: utc(2025, 3, 17, 8, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 8:00 on Monday. Urgent? Ring Sam on 07700 900123!"},
		// Summer time starts on Sunday 30 March 2025 at 01:00 UTC: Monday
		// 08:00 is 07:00 UTC.
		{name: "WeekendIntoSummerTime", t: at(2025, 3, 29, 19, 0), until: utc(2025, 3, 31, 7, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 8:00 on Monday."},
		// It ends on Sunday 26 October 2025 at 01:00 UTC: Monday 08:00 is
		// 08:00 UTC again.
		{name: "WeekendOutOfSummerTime", t: at(2025, 10, 25, 13, 0), until: utc(2025, 10, 27, 8, 0)},
		{name: "OpeningTheClocksSkip", hours: "sun 01:30-03:00", t: at(2025, 3, 29, 12, 0), until: utc(2025, 3, 30, 1, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 2:00 tomorrow."},
		{name: "OpeningWhollySkipped", hours: "sun 01:10-01:50, mon 09:00-10:00", t: at(2025, 3, 29, 12, 0), until: utc(2025, 3, 31, 8, 0)},
		{name: "OpeningThatComesTwice", hours: "sun 01:30-02:00", t: at(2025, 10, 25, 12, 0), until: utc(2025, 10, 26, 0, 30)},
		{name: "InTheRepeatedHourFirstTime", hours: "sun 01:30-02:00", t: utc(2025, 10, 26, 0, 45), open: true},
		{name: "InTheRepeatedHourBeforeItsSecondOpening", hours: "sun 01:30-02:00", t: utc(2025, 10, 26, 1, 5), until: utc(2025, 10, 26, 1, 30)},
		{name: "PastMidnightOpen", hours: "fri 18:00-24:00, sat 00:00-02:00", t: at(2025, 3, 15, 1, 0), open: true},
		{name: "PastMidnightClosed", hours: "fri 18:00-24:00, sat 00:00-02:00", t: at(2025, 3, 15, 2, 0), until: utc(2025, 3, 21, 18, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 18:00 on Friday."},
		{name: "BankHolidays", closures: "2025-12-25 to 2025-12-26", t: at(2025, 12, 24, 18, 0), until: utc(2025, 12, 27, 9, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 9:00 on Saturday."},
		{name: "ClosedOnAnOpenDay", closures: "2025-12-24", t: at(2025, 12, 24, 10, 0), until: utc(2025, 12, 25, 8, 0)},
		{name: "LongBreakIntoNextYear", closures: "2025-12-20 to 2026-01-04", t: at(2025, 12, 19, 18, 0), until: utc(2026, 1, 5, 8, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 8:00 on Monday 5 January 2026."},
		{name: "ABreakOfAWeek", closures: "2025-08-02 to 2025-08-10", t: at(2025, 8, 1, 18, 0), until: utc(2025, 8, 11, 7, 0),
			reply: "Thanks for your message. We're closed now; we'll answer from 8:00 on Monday 11 August."},
		{name: "NewYork", hours: "mon-fri 09:00-17:00", zone: "America/New_York", t: time.Date(2025, 3, 7, 18, 0, 0, 0, time.UTC), open: true},
		// New York's summer time starts on 9 March 2025, London's on the
		// 30th: between them the offset is four hours.
		{name: "NewYorkWeekendIntoSummerTime", hours: "mon-fri 09:00-17:00", zone: "America/New_York", t: time.Date(2025, 3, 7, 23, 0, 0, 0, time.UTC),
			until: utc(2025, 3, 10, 13, 0), reply: "Thanks for your message. We're closed now; we'll answer from 9:00 on Monday."},
		// Lord Howe Island moves its clocks by half an hour.
		{name: "LordHowe", hours: "mon-fri 09:00-17:00", zone: "Australia/Lord_Howe", t: time.Date(2025, 4, 4, 7, 0, 0, 0, time.UTC),
			until: time.Date(2025, 4, 6, 22, 30, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hours, zone := tc.hours, tc.zone
			if hours == "" {
				hours = shop
			}
			if zone == "" {
				zone = "Europe/London"
			}
			s := schedule(t, hours, zone, tc.closures, tc.urgent)
			assert.Equal(t, tc.open, s.OpenAt(tc.t))
			p, closed := s.Closed(tc.t)
			assert.Equal(t, !tc.open, closed)
			if tc.open {
				return
			}
			assert.Equal(t, tc.until.UTC(), p.Until.UTC())
			assert.True(t, s.OpenAt(p.Until), "open at the opening")
			assert.False(t, s.OpenAt(p.Until.Add(-time.Second)), "closed just before it")
			if tc.reply != "" {
				assert.Equal(t, tc.reply, p.Reply)
			}
		})
	}
}

// TestClosedPeriodSpansNightAndWeekend checks that every moment of one
// closed period names the same period, so a chat gets one reply for it.
func TestClosedPeriodSpansNightAndWeekend(t *testing.T) {
	s := schedule(t, "mon-fri 08:00-17:30", "Europe/London", "", "")
	start := time.Date(2025, 3, 28, 17, 30, 0, 0, s.Loc) // Friday closing, summer time starts on Sunday
	want := time.Date(2025, 3, 31, 8, 0, 0, 0, s.Loc)
	for at := start; at.Before(want); at = at.Add(7 * time.Minute) {
		p, closed := s.Closed(at)
		require.True(t, closed, at)
		require.True(t, p.Until.Equal(want), "%s: until %s", at, p.Until)
	}
	_, closed := s.Closed(want)
	assert.False(t, closed)
	p, _ := s.Closed(want.Add(9*time.Hour + 30*time.Minute))
	assert.True(t, p.Until.Equal(time.Date(2025, 4, 1, 8, 0, 0, 0, s.Loc)), "the next evening is a new period")
}

func TestScheduleNeverOpens(t *testing.T) {
	var runs []string
	for y := 2025; y < 2028; y++ {
		runs = append(runs, time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02")+" to "+time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC).Format("2006-01-02"))
	}
	s := schedule(t, "mon-fri 08:00-17:30", "Europe/London", strings.Join(runs, ", "), "")
	p, closed := s.Closed(time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC))
	require.True(t, closed)
	assert.True(t, p.Until.IsZero())
	assert.Equal(t, "Thanks for your message. We're closed now and will answer as soon as we're open again.", p.Reply)
}

func TestProfileSchedule(t *testing.T) {
	p := sampleProfile(t).clone()
	_, ok := p.Schedule()
	assert.False(t, ok, "no time zone")
	assert.Equal(t, "off (set your time zone, such as /profile set timezone Europe/London)", p.closedReplyState())

	for _, c := range []string{"set timezone europe/london", "set hours mon-fri 08:00-17:30, sat 09:00-12:00", "set closed 2025-12-25 to 2025-12-26", "set urgent call 0117 496 0000"} {
		cmd, err := ParseProfileCommand(c)
		require.NoError(t, err, c)
		p, err = cmd.Apply(p)
		require.NoError(t, err, c)
	}
	assert.Equal(t, "Europe/London", p.TimeZone)
	assert.Equal(t, "mon-fri 08:00-17:30, sat 09:00-12:00", p.OpeningHours)
	s, ok := p.Schedule()
	require.True(t, ok)
	assert.Equal(t, "call 0117 496 0000", s.Urgent)
	sum := p.Summary()
	assert.Contains(t, sum, "Opening hours: Monday to Friday 8:00–17:30, Saturday 9:00–12:00; closed Sunday\n")
	assert.Contains(t, sum, "Time zone: Europe/London\n")
	assert.Contains(t, sum, "Closed on: 25 December 2025 to 26 December 2025\n")
	assert.Contains(t, sum, "Urgent contact: call 0117 496 0000\n")
	assert.Contains(t, sum, "Closed-hours reply: on (")
	require.NoError(t, p.Validate())

	t.Run("BadHoursKeepTheProfile", func(t *testing.T) {
		cmd, err := ParseProfileCommand("set hours whenever")
		require.NoError(t, err)
		_, err = cmd.Apply(p)
		require.ErrorIs(t, err, ErrBadProfile)
		assert.Equal(t, `There is no day called "whenever"; use mon, tue, wed, thu, fri, sat or sun.`, err.Error())
	})
	t.Run("FreeTextFromBefore", func(t *testing.T) {
		old := p.clone()
		old.OpeningHours = "8 till late most days"
		require.NoError(t, old.Validate(), "a profile written before loads as it was")
		_, ok := old.Schedule()
		assert.False(t, ok)
		assert.Contains(t, old.Summary(), "Opening hours: 8 till late most days\n")
		assert.Contains(t, old.Summary(), "Closed-hours reply: off (the opening hours are free text")
	})
	t.Run("Clear", func(t *testing.T) {
		cmd, err := ParseProfileCommand("set timezone -")
		require.NoError(t, err)
		q, err := cmd.Apply(p)
		require.NoError(t, err)
		_, ok := q.Schedule()
		assert.False(t, ok)
	})
	t.Run("BadFileFields", func(t *testing.T) {
		for _, q := range []Profile{{TimeZone: "Mars/Olympus"}, {Closures: "Christmas"}} {
			full := p.clone()
			full.TimeZone, full.Closures = orString(q.TimeZone, full.TimeZone), orString(q.Closures, full.Closures)
			assert.ErrorIs(t, full.Validate(), ErrBadProfile)
		}
	})
}

func orString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"mon-fri 08:00-17:30, sat 09:00-12:00", "Mon-Fri 8:00-18:00, Sat 9:00-13:00, closed Sunday",
		"fri 18:00-24:00, sat 00:00-02:00", "weekdays 9am-5:30pm", "sat and sun 10 to 12", "mon 1-2 3-4", "sun closed", "daily noon-midnight"} {
		f.Add(s, int64(1741982520))
	}
	london, err := time.LoadLocation("Europe/London")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		w, err := ParseHours(s)
		if err != nil {
			require.ErrorIs(t, err, ErrBadProfile)
			return
		}
		again, err := ParseHours(w.String())
		require.NoError(t, err, "%q renders as %q", s, w.String())
		require.Equal(t, w, again)
		require.NotEmpty(t, w.Words())
		at := time.Unix(unix%(1<<34), 0)
		sch := Schedule{Week: w, Loc: london}
		p, closed := sch.Closed(at)
		require.Equal(t, !sch.OpenAt(at), closed)
		if closed {
			require.False(t, p.Until.IsZero(), "a week with openings opens again")
			require.True(t, p.Until.After(at))
			require.True(t, sch.OpenAt(p.Until))
			require.False(t, sch.OpenAt(p.Until.Add(-time.Second)))
			require.NotEmpty(t, p.Reply)
		}
	})
}

func FuzzParseClosures(f *testing.F) {
	f.Add("2025-12-25, 2025-12-24 to 2026-01-02")
	f.Add("2026-04-03..2026-04-06")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseClosures(s)
		if err != nil {
			require.ErrorIs(t, err, ErrBadProfile)
			return
		}
		again, err := ParseClosures(FormatClosures(cs))
		require.NoError(t, err)
		require.Equal(t, cs, again)
	})
}

func TestPromptScheduleFacts(t *testing.T) {
	p := sampleProfile(t).clone()
	now := time.Date(2025, 12, 23, 18, 5, 0, 0, time.UTC)
	base := renderSystem(&p, now)
	assert.NotContains(t, base, "time zone", "no zone set: the prompt is as before")
	p.TimeZone, p.Closures = "America/New_York", "2025-01-01, 2025-12-24 to 2025-12-26"
	sys := renderSystem(&p, now)
	assert.Contains(t, sys, "- The business's time zone is America/New_York; there it is Tuesday 23 December 2025, 13:05 now\n")
	assert.Contains(t, sys, "- Closed (holidays) on: 24 December 2025 to 26 December 2025\n", "past closures left out")
	assert.NotContains(t, sys, "1 January 2025")
}

// BenchmarkScheduleClosed measures the router's per-message question
// (asked twice per customer message while hours are set): a shop's week,
// and a worst case where the next opening is after a year-long closure.
func BenchmarkScheduleClosed(b *testing.B) {
	for _, bc := range []struct{ name, closures string }{
		{"Week", ""},
		{"AfterAYearClosed", "2025-03-15 to 2026-03-14"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w, err := ParseHours("mon-fri 08:00-12:00 13:00-17:30, sat 09:00-12:00")
			require.NoError(b, err)
			loc, err := time.LoadLocation("Europe/London")
			require.NoError(b, err)
			var cs []Closure
			if bc.closures != "" {
				cs, err = ParseClosures(bc.closures)
				require.NoError(b, err)
			}
			s := Schedule{Week: w, Closures: cs, Loc: loc}
			t0 := time.Date(2025, 3, 14, 19, 42, 0, 0, loc)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.Closed(t0.Add(time.Duration(i%10080) * time.Minute))
			}
		})
	}
}
