package api

import (
	"fmt"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
)

// The console's pictures: bar charts drawn on the server as SVG (no
// script; the CSP allows no inline style, so colours come from the style
// sheet's classes). Each chart has a title and a description for screen
// readers, a tooltip per bar, and its numbers in a table below it.

// chart is a bar chart of one or two stacked series.
type chart struct {
	ID, Title   string
	Desc        string // the numbers in one sentence
	Width       int
	Height      int
	Bars        []bar
	XLabels     []axisLabel
	YMax        int
	YMaxY       float64 // where the y axis's top label sits
	Series      []string
	Classes     []string
	Empty       bool
	Rows        []chartRow // the numbers, for the table
	Left, Right float64
	Base        float64 // the y of the x axis
}

type bar struct {
	X, W  float64
	Segs  []seg
	Title string
}

type seg struct {
	Y, H  float64
	Class string
}

type axisLabel struct {
	X    float64
	Text string
}

type chartRow struct {
	Label  string
	Values []int
}

const (
	chartW, chartH        = 720, 180
	chartLeft, chartRight = 44, 8
	chartTop, chartBottom = 10, 24
)

// niceMax rounds n up to 1, 2 or 5 times a power of ten.
func niceMax(n int) int {
	if n <= 0 {
		return 1
	}
	p := 1
	for p*10 <= n {
		p *= 10
	}
	for _, m := range []int{1, 2, 5, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}

// barChart draws series (values[i][s]: bar i, series s) stacked.
func barChart(id, title string, labels []string, values [][]int, series, classes []string, tick func(i int) string) chart {
	ch := chart{ID: id, Title: title, Width: chartW, Height: chartH, Series: series, Classes: classes,
		Left: chartLeft, Right: chartW - chartRight, Base: chartH - chartBottom, YMaxY: chartTop + 4}
	totals := make([]int, len(series))
	most := 0
	for i, vs := range values {
		sum := 0
		for s, v := range vs {
			sum += v
			totals[s] += v
		}
		most = max(most, sum)
		ch.Rows = append(ch.Rows, chartRow{Label: labels[i], Values: vs})
	}
	ch.YMax = niceMax(most)
	ch.Empty = most == 0
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	w := plotW / float64(max(len(values), 1))
	for i, vs := range values {
		b := bar{X: chartLeft + float64(i)*w + w*0.1, W: w * 0.8}
		y := ch.Base
		var parts []string
		for s, v := range vs {
			h := plotH * float64(v) / float64(ch.YMax)
			y -= h
			if v > 0 {
				b.Segs = append(b.Segs, seg{Y: y, H: h, Class: classes[s]})
			}
			parts = append(parts, fmt.Sprintf("%d %s", v, series[s]))
		}
		b.Title = labels[i] + ": " + join(parts)
		ch.Bars = append(ch.Bars, b)
		if t := tick(i); t != "" {
			ch.XLabels = append(ch.XLabels, axisLabel{X: chartLeft + float64(i)*w + w/2, Text: t})
		}
	}
	var parts []string
	for s, n := range totals {
		parts = append(parts, fmt.Sprintf("%d %s", n, series[s]))
	}
	ch.Desc = "In all: " + join(parts) + "."
	return ch
}

func join(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	out := parts[0]
	for _, p := range parts[1 : len(parts)-1] {
		out += ", " + p
	}
	return out + " and " + parts[len(parts)-1]
}

var deliverySeries, deliveryClasses = []string{"delivered", "failed"}, []string{"bar-ok", "bar-fail"}

// hourChart is a configuration's hours (Admin.Activity: one per hour).
func hourChart(id, title string, hours []forward.HourCount) chart {
	labels := make([]string, len(hours))
	values := make([][]int, len(hours))
	for i, h := range hours {
		labels[i] = h.Hour.Format("Jan 2 15:00") + " UTC"
		values[i] = []int{h.Delivered, h.Failed}
	}
	return barChart(id, title, labels, values, deliverySeries, deliveryClasses, func(i int) string {
		if h := hours[i].Hour; h.Hour()%6 == 0 {
			return h.Format("15:00")
		}
		return ""
	})
}

// dayChart adds a configuration's hours up by UTC day.
func dayChart(id, title string, hours []forward.HourCount) chart {
	var days []time.Time
	var values [][]int
	for _, h := range hours {
		d := lrs.Day(h.Hour)
		if len(days) == 0 || !days[len(days)-1].Equal(d) {
			days = append(days, d)
			values = append(values, []int{0, 0})
		}
		values[len(values)-1][0] += h.Delivered
		values[len(values)-1][1] += h.Failed
	}
	return barChart(id, title, dayLabels(days), values, deliverySeries, deliveryClasses, weekTicks(days))
}

func dayLabels(days []time.Time) []string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = d.Format("Mon Jan 2")
	}
	return out
}

func weekTicks(days []time.Time) func(int) string {
	return func(i int) string {
		if (len(days)-1-i)%7 == 0 {
			return days[i].Format("Jan 2")
		}
		return ""
	}
}

// statementsChart is an organization's statements per day.
func statementsChart(id, title string, counts []lrs.DayCount) chart {
	days := make([]time.Time, len(counts))
	values := make([][]int, len(counts))
	for i, c := range counts {
		days[i], values[i] = c.Day, []int{c.Count}
	}
	return barChart(id, title, dayLabels(days), values, []string{"statements"}, []string{"bar-st"}, weekTicks(days))
}
