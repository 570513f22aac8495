package otlp

import "testing"

// Expected names are those of github.com/prometheus/otlptranslator with
// Prometheus' default strategy (UnderscoreEscapingWithSuffixes), from its
// own tests where they cover the case.
func TestMetricName(t *testing.T) {
	for _, c := range []struct {
		name, unit string
		kind       metricKind
		want       string
	}{
		{"simple_metric", "", kindGauge, "simple_metric"},
		{"metric@with#special$chars", "", kindGauge, "metric_with_special_chars"},
		{"metric@@##$$name", "", kindGauge, "metric_name"},
		{"123metric", "", kindGauge, "_123metric"},
		{"@#$%", "", kindGauge, ""},
		{"", "", kindCounter, ""},
		{"requests", "", kindCounter, "requests_total"},
		{"cpu_usage", "1", kindGauge, "cpu_usage_ratio"},
		{"items", "1", kindCounter, "items_total"},
		{"items", "1", kindOther, "items"},
		{"response_time", "ms", kindGauge, "response_time_milliseconds"},
		{"memory_usage", "By", kindGauge, "memory_usage_bytes"},
		{"requests", "1/s", kindGauge, "requests_per_second"},
		{"requests", "1/s", kindCounter, "requests_per_second_total"},
		{"throughput", "By/s", kindGauge, "throughput_bytes_per_second"},
		{"custom_metric", "custom_unit", kindGauge, "custom_metric_custom_unit"},
		{"custom_metric", "{custom}", kindGauge, "custom_metric"},
		{"custom_metric", "By/{custom}", kindGauge, "custom_metric_bytes"},
		{"requests_total", "", kindCounter, "requests_total"},
		{"cpu_usage_ratio", "1", kindGauge, "cpu_usage_ratio"},
		{"response_time_seconds", "s", kindGauge, "response_time_seconds"},
		{"metric__with__multiple__underscores", "unit__multiple__underscores", kindGauge, "metric_with_multiple_underscores_unit_multiple_underscores"},
		{"custom_metric", "unit@with#special/chars", kindGauge, "custom_metric_unit_with_special_per_chars"},
		{"request_duration", "s", kindOther, "request_duration_seconds"},
		{"active_connections", "", kindOther, "active_connections"},
		{"uptime", "d", kindGauge, "uptime_days"},
		{"system.network.io", "By", kindCounter, "system_network_io_bytes_total"},
		{"http.server.request.duration", "s", kindOther, "http_server_request_duration_seconds"},
		{"total.requests", "", kindCounter, "requests_total"},
		{"x", " s ", kindGauge, "x_seconds"},
		{"x", "m/", kindGauge, "x_meters"},
		{"x", "/s", kindGauge, "x_per_second"},
		{"x", "é", kindGauge, "x"}, // the unit cleans to "_", then to ""
		{"temp", "Cel", kindGauge, "temp_celsius"},
		{"ns:metric", "", kindGauge, "ns:metric"},
	} {
		if got := metricName(c.name, c.unit, c.kind); got != c.want {
			t.Errorf("metricName(%q, %q, %d) = %q, want %q", c.name, c.unit, c.kind, got, c.want)
		}
	}
}

func TestLabelName(t *testing.T) {
	for _, c := range []struct{ key, want string }{
		{"", ""},
		{"__", ""},
		{"___", ""},
		{"____", ""},
		{"ようこそ", ""},
		{"label:with:colons", "label_with_colons"},
		{"LabelWithCapitalLetters", "LabelWithCapitalLetters"},
		{"label!with&special$chars)", "label_with_special_chars_"},
		{"label_with_foreign_characters_字符", "label_with_foreign_characters_"},
		{"label.with.dots", "label_with_dots"},
		{"123label", "key_123label"},
		{"_label_starting_with_underscore", "_label_starting_with_underscore"},
		{"__label_starting_with_2underscores", "_label_starting_with_2underscores"},
		{"__reserved__", "__reserved__"},
		{"__res.er__ved__", "__res_er_ved__"},
		{"a__b", "a_b"},
		{"http.request.method", "http_request_method"},
		{"\xff\xfe", ""},
		{"a\xffb", "a_b"},
	} {
		if got := labelName(c.key); got != c.want {
			t.Errorf("labelName(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}
