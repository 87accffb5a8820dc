// Prometheus' template functions (template.h): humanize*, query and its helpers, strings,
// regexps, links and times, each against what promtool printed for the same template.
#include <gtest/gtest.h>

#include <string>

#include "alerting/template.h"
#include "tsdb/labels.h"
#include "unit/alerting/template_cases.h"

namespace steward::alerting {
namespace {

const Case kFunctions[] = {
    {R"~({{ toTime 1234 }})~", R"~(1970-01-01 00:20:34 +0000 UTC)~"},
    {R"~({{ stripDomain "a.b.c:80" }})~", R"~(a:80)~"},
    {R"~({{ stripPort "[::1]:80" }})~", R"~(::1)~"},
    {R"~({{ parseDuration "1h30m" }})~", R"~(5400)~"},
    {R"~({{ humanizeTimestamp 1234567890.123 }})~", R"~(2009-02-13 23:31:30.122 +0000 UTC)~"},
    {R"~({{ graphLink "up > 0" }})~", R"~(/graph?g0.expr=up+%3E+0&g0.tab=0)~"},
    {R"~({{ tableLink "up" }})~", R"~(/graph?g0.expr=up&g0.tab=1)~"},
    {R"~({{ title "hello wORLD-foo" }})~", R"~(Hello WORLD-Foo)~"},
    {R"~({{ range query "q" }}{{ .Labels.instance }}={{ .Value }};{{ end }})~", R"~(b=2;a=1;)~"},
    {R"~({{ query "q" | first | value }})~", R"~(2)~"},
    {R"~({{ args 1 "a" }})~", R"~(map[arg0:1 arg1:a])~"},
    {R"~({{ .ExternalURL }})~", R"~()~"},
    {R"~({{ humanize 1234567 }})~", R"~(1.235M)~"},
    {R"~({{ humanize 0 }})~", R"~(0)~"},
    {R"~({{ humanize 0.000123 }})~", R"~(123u)~"},
    {R"~({{ humanize -1500 }})~", R"~(-1.5k)~"},
    {R"~({{ humanize 1e30 }})~", R"~(1e+06Y)~"},
    {R"~({{ humanize 1e-30 }})~", R"~(1e-06y)~"},
    {R"~({{ humanize "NaN" }})~", R"~(NaN)~"},
    {R"~({{ humanize "+Inf" }})~", R"~(+Inf)~"},
    {R"~({{ humanize "-Inf" }})~", R"~(-Inf)~"},
    {R"~({{ humanize "1e400" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanize "1e400">: error calling humaniz)~"
     R"~(e: strconv.ParseFloat: parsing "1e400": value out of range>)~"},
    {R"~({{ humanize true }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanize true>: error calling humanize: )~"
     R"~(can't convert bool to float>)~"},
    {R"~({{ humanize nil }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanize nil>: error calling humanize: c)~"
     R"~(an't convert <nil> to float>)~"},
    {R"~({{ humanize1024 1048576 }})~", R"~(1Mi)~"},
    {R"~({{ humanize1024 0.5 }})~", R"~(0.5)~"},
    {R"~({{ humanize1024 -2048 }})~", R"~(-2ki)~"},
    {R"~({{ humanize1024 1e30 }})~", R"~(8.272e+05Yi)~"},
    {R"~({{ humanizeDuration 3661 }})~", R"~(1h 1m 1s)~"},
    {R"~({{ humanizeDuration 0 }})~", R"~(0s)~"},
    {R"~({{ humanizeDuration 86400.5 }})~", R"~(1d 0h 0m 0s)~"},
    {R"~({{ humanizeDuration 59.5 }})~", R"~(59.5s)~"},
    {R"~({{ humanizeDuration 0.0012 }})~", R"~(1.2ms)~"},
    {R"~({{ humanizeDuration -3661 }})~", R"~(-1h 1m 1s)~"},
    {R"~({{ humanizeDuration 1e300 }})~", R"~(-106751991167300d -15h -30m -8s)~"},
    {R"~({{ humanizeDuration "NaN" }})~", R"~(NaN)~"},
    {R"~({{ humanizeDuration 60 }})~", R"~(1m 0s)~"},
    {R"~({{ humanizePercentage 0.1234 }})~", R"~(12.34%)~"},
    {R"~({{ humanizePercentage 1 }})~", R"~(100%)~"},
    {R"~({{ humanizePercentage 0.000001234 }})~", R"~(0.0001234%)~"},
    {R"~({{ humanizeTimestamp 0 }})~", R"~(1970-01-01 00:00:00 +0000 UTC)~"},
    {R"~({{ humanizeTimestamp 1.5 }})~", R"~(1970-01-01 00:00:01.5 +0000 UTC)~"},
    {R"~({{ humanizeTimestamp -1.5 }})~", R"~(1969-12-31 23:59:58.5 +0000 UTC)~"},
    {R"~({{ humanizeTimestamp "Inf" }})~", R"~(+Inf)~"},
    {R"~({{ humanizeTimestamp 1e20 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanizeTimestamp 1e20>: error calling h)~"
     R"~(umanizeTimestamp: 1e+20 cannot be represented as a nanoseconds timestamp since)~"
     R"~( it overflows int64>)~"},
    {R"~({{ toTime 1e20 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <toTime 1e20>: error calling toTime: 1e+2)~"
     R"~(0 cannot be represented as a nanoseconds timestamp since it overflows int64>)~"},
    {R"~({{ toTime "NaN" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <toTime "NaN">: error calling toTime: val)~"
     R"~(ue is NaN or Inf>)~"},
    {R"~({{ (toTime 1700000000.5).Unix }})~", R"~(1700000000)~"},
    {R"~({{ $value }})~", R"~(5)~"},
    {R"~({{ .Value }})~", R"~(5)~"},
    {R"~({{ $value | humanize }})~", R"~(5)~"},
    {R"~({{ printf "%.2f" $value }})~", R"~(5.00)~"},
    {R"~({{ printf "%d" 42 }})~", R"~(42)~"},
    {R"~({{ printf "%5d|%-5d|%05d|%+d|%x|%X|%o|%b|%#x|%#o" 42 42 42 42 255 255 8 5 255 )~"
     R"~(8 }})~",
     R"~(   42|42   |00042|+42|ff|FF|10|101|0xff|010)~"},
    {R"~({{ printf "%s" 1 }})~", R"~(%!s(int=1))~"},
    {R"~({{ printf "%d" "a" }})~", R"~(%!d(string=a))~"},
    {R"~({{ printf "%d %d" 1 }})~", R"~(1 %!d(MISSING))~"},
    {R"~({{ printf "%d" 1 2 }})~", R"~(1%!(EXTRA int=2))~"},
    {R"~({{ printf "%" }})~", R"~(%!(NOVERB))~"},
    {R"~({{ printf "%z" 1 }})~", R"~(%!z(int=1))~"},
    {R"~({{ printf "%v %v %v" true nil 1.5 }})~", R"~(true <nil> 1.5)~"},
    {R"~({{ printf "%t" 1 }})~", R"~(%!t(int=1))~"},
    {R"~({{ printf "%e|%E|%g|%G|%.3e|%10.3f|%-10.1f|" 1234.5678 1234.5678 1234.5678 1e-)~"
     R"~(7 1234.5678 3.14159 2.5 }})~",
     R"~(1.234568e+03|1.234568E+03|1234.5678|1E-07|1.235e+03|     3.142|2.5       |)~"},
    {R"~({{ printf "%q|%x|%X|% x|%10s|%-10s|%.2s" "hé" "hi" "hi" "hi" "r" "l" "abc" }})~",
     R"~("hé"|6869|6869|68 69|         r|l         |ab)~"},
    {R"~({{ printf "%v" $labels }})~", R"~(map[__name__:m instance:host:9100 job:node])~"},
    {R"~({{ printf "%d" $labels }})~",
     R"~(map[%!d(string=__name__):%!d(string=m) %!d(string=instance):%!d(string=host:91)~"
     R"~(00) %!d(string=job):%!d(string=node)])~"},
    {R"~({{ $labels }})~", R"~(map[__name__:m instance:host:9100 job:node])~"},
    {R"~({{ . }})~", R"~({map[__name__:m instance:host:9100 job:node] map[]  5})~"},
    {R"~({{ printf "%+v" . }})~",
     R"~({Labels:map[__name__:m instance:host:9100 job:node] ExternalLabels:map[] Exter)~"
     R"~(nalURL: Value:5})~"},
    {R"~({{ printf "%T %T %T %T" 1 1.5 "a" $labels }})~",
     R"~(int float64 string map[string]string)~"},
    {R"~({{ printf "%6.2f%%" 12.3456 }})~", R"~( 12.35%)~"},
    {R"~({{ printf "%c|%q|%U|%#U" 65 65 65 65 }})~", R"~(A|'A'|U+0041|U+0041 'A')~"},
    {R"~({{ printf "%*d|%-*d|%.*f" 5 1 5 2 2 3.14159 }})~", R"~(    1|2    |3.14)~"},
    {R"~({{ printf "%08.3f|%+.2e|% d|%+q" -3.14159 12345.678 5 "é" }})~",
     R"~(-003.142|+1.23e+04| 5|"\u00e9")~"},
    {R"~({{ print 1 2 "a" "b" 3 }})~", R"~(1 2ab3)~"},
    {R"~({{ println 1 "a" }})~",
     R"~(1 a
)~"},
    {R"~({{ print nil }})~", R"~(<nil>)~"},
    {R"~({{ print }})~", R"~()~"},
    {R"~({{ 1e6 }} {{ 123456.789 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1e21 }} {{ -0.0 }} {{)~"
     R"~( 0x10 }} {{ 0o17 }} {{ 1_000 }} {{ 'a' }} {{ 1.0 }} {{ 0x1p4 }})~",
     R"~(1e+06 123456.789 0.0001 1e-05 1e+21 -0 16 15 1000 97 1 16)~"},
};

TEST(TemplateFunctions, ExpandLikePromtool) {
  for (const Case& c : kFunctions) ExpectLikePromtool(c);
}

}  // namespace
}  // namespace steward::alerting
