// The alert template language (template.h): Go's text/template as Prometheus 2.42 runs it,
// checked against promtool's output for the same templates, Go's parse errors, Prometheus'
// error text, the rule-file check, and bounds on hostile templates.
#include "alerting/template.h"

#include <gtest/gtest.h>

#include <string>

#include "alerting/rule_file.h"
#include "unit/alerting/template_cases.h"
#include "tsdb/labels.h"

namespace steward::alerting {
namespace {

const Case kLanguage[] = {
    {R"~({{ 1 }})~", R"~(1)~"},
    {R"~({{ 1.5 }})~", R"~(1.5)~"},
    {R"~({{ 1e6 }})~", R"~(1e+06)~"},
    {R"~({{ humanize "abc" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanize "abc">: error calling humanize:)~"
     R"~( strconv.ParseFloat: parsing "abc": invalid syntax>)~"},
    {R"~({{ .Foo }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <.Foo>: can't evaluate field Foo in type )~"
     R"~(struct { Labels map[string]string; ExternalLabels map[string]string; ExternalU)~"
     R"~(RL string; Value float64 }>)~"},
    {R"~({{ $labels.nope }})~", R"~()~"},
    {R"~({{ index $labels "job" }})~", R"~(node)~"},
    {R"~({{ printf "%d" 1.5 }})~", R"~(%!d(float64=1.5))~"},
    {R"~({{ printf "%5.2f|%-6s|%x|%q|%v|%t" 3.14159 "ab" 255 "q" 1e21 true }})~",
     R"~( 3.14|ab    |ff|"q"|1e+21|true)~"},
    {R"~({{ humanizeTimestamp "this is a very long string argument" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanizeTimestamp "this is a very long s)~"
     R"~(tring argument">: error calling humanizeTimestamp: strconv.ParseFloat: parsing)~"
     R"~( "this is a very long string argument": invalid syntax>)~"},
    {R"~({{ printf "%+q" "é" }})~", R"~("\u00e9")~"},
    {R"~({{ 1_000 }} {{ 0_7 }} {{ 0x_1F }})~", R"~(1000 7 31)~"},
    {R"~({{ if gt $value 3.0 }}big{{ else }}small{{ end }})~", R"~(big)~"},
    {R"~({{ if gt $value 3 }}big{{ end }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:118: executing "__alert_A" at <gt $value 3>: error calling gt: incompat)~"
     R"~(ible types for comparison>)~"},
    {R"~({{ if eq $labels.job "node" "x" }}yes{{ end }})~", R"~(yes)~"},
    {R"~({{ if and 0 1 }}a{{ else if or 0 "" }}b{{ else }}c{{ end }})~", R"~(c)~"},
    {R"~({{ and 1 0 2 }}|{{ or 0 "" 3 }}|{{ not 0 }}|{{ and 1 2 }})~", R"~(0|3|true|2)~"},
    {R"~({{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }})~",
     R"~(__name__=m,instance=host:9100,job=node,)~"},
    {R"~({{ range $labels }}{{ . }};{{ else }}none{{ end }})~", R"~(m;host:9100;node;)~"},
    {R"~({{ range $externalLabels }}{{ . }}{{ else }}none{{ end }})~", R"~(none)~"},
    {R"~({{ range $i, $e := query "q" }}{{ $i }}:{{ $e.Labels.instance }}{{ if eq $i 0 )~"
     R"~(}}{{ continue }}{{ end }}!{{ end }})~",
     R"~(0:b1:a!)~"},
    {R"~({{ range query "q" }}{{ .Value }}{{ break }}{{ end }})~", R"~(2)~"},
    {R"~({{ with $labels.job }}job={{ . }}{{ else }}nojob{{ end }})~", R"~(job=node)~"},
    {R"~({{ with $labels.nope }}x{{ else }}empty{{ end }})~", R"~(empty)~"},
    {R"~({{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }})~", R"~(2)~"},
    {R"~({{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ end }}{{ $x }})~", R"~(1)~"},
    {R"~({{ len $labels }} {{ len "héllo" }} {{ index $labels "instance" }} {{ index "a)~"
     R"~(bc" 1 }} {{ slice "abcdef" 1 3 }} {{ slice "abc" 1 }})~",
     R"~(3 6 host:9100 98 bc bc)~"},
    {R"~({{ index "abc" 3 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <index "abc" 3>: error calling index: ref)~"
     R"~(lect: string index out of range>)~"},
    {R"~({{ index "abc" 5 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <index "abc" 5>: error calling index: ind)~"
     R"~(ex out of range: 5>)~"},
    {R"~({{ slice "abc" 2 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <slice "abc" 2 1>: error calling slice: i)~"
     R"~(nvalid slice index: 2 > 1>)~"},
    {R"~({{ len 3 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <len 3>: error calling len: len of type i)~"
     R"~(nt>)~"},
    {R"~({{ index 3 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <index 3 1>: error calling index: can't i)~"
     R"~(ndex item of type int>)~"},
    {R"~({{ index $labels 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <index $labels 1>: error calling index: v)~"
     R"~(alue has type int; should be string>)~"},
    {R"~({{ eq 1 1.0 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <eq 1 1.0>: error calling eq: incompatibl)~"
     R"~(e types for comparison>)~"},
    {R"~({{ lt "a" "b" }} {{ le 2 2 }} {{ ge 1.5 2.5 }} {{ ne "a" "b" }})~",
     R"~(true true false true)~"},
    {R"~({{ lt true false }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <lt true false>: error calling lt: invali)~"
     R"~(d type for comparison>)~"},
    {R"~({{ eq $labels $labels }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <eq $labels $labels>: error calling eq: n)~"
     R"~(on-comparable type map[__name__:m instance:host:9100 job:node]: map[string]str)~"
     R"~(ing>)~"},
    {R"~({{ lt 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <lt>: wrong number of args for lt: want 2)~"
     R"~( got 1>)~"},
    {R"~({{ html "<a href='x'>&\"" }} {{ js "a'b\"c<>&=\n" }} {{ urlquery "a b&c=d/é" })~"
     R"~(})~",
     R"~(&lt;a href=&#39;x&#39;&gt;&amp;&#34; a\'b\"c\u003C\u003E\u0026\u003D\u000A a+b)~"
     R"~(%26c%3Dd%2F%C3%A9)~"},
    {R"~({{ html 1 2 }})~", R"~(1 2)~"},
    {R"~({{ toUpper "abc é" }} {{ toLower "ABC É" }} {{ title "foo bar-baz_qux" }})~",
     R"~(ABC É abc é Foo Bar-Baz_qux)~"},
    {R"~({{ reReplaceAll "(\\w+):(\\d+)" "$2@$1" "host:9100" }})~", R"~(9100@host)~"},
    {R"~({{ reReplaceAll "a*" "-" "baaac" }})~", R"~(-b-c-)~"},
    {R"~({{ reReplaceAll "(?P<h>[a-z]+)" "${h}X$1x$$" "ab cd" }})~", R"~(abX$ cdX$)~"},
    {R"~({{ reReplaceAll "(" "x" "y" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <reReplaceAll "(" "x" "y">: error calling)~"
     R"~( reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing closing ): )~"
     R"~(`(`>)~"},
    {R"~({{ match "^h.*0$" $labels.instance }} {{ match "ost" "host" }})~", R"~(true true)~"},
    {R"~({{ match "[" "x" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <match "[" "x">: error calling match: err)~"
     R"~(or parsing regexp: missing closing ]: `[`>)~"},
    {R"~({{ $labels.instance | stripPort }} {{ stripPort "host" }} {{ stripPort "[::1]:)~"
     R"~(9" }} {{ stripDomain "a.b.c" }} {{ stripDomain "1.2.3.4:80" }} {{ stripDomain )~"
     R"~("[::1]:80" }})~",
     R"~(host host ::1 a 1.2.3.4:80 [::1]:80)~"},
    {R"~({{ parseDuration "1m30s" }} {{ parseDuration "0" }} {{ parseDuration "1y" }})~",
     R"~(90 0 3.1536e+07)~"},
    {R"~({{ parseDuration "x" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <parseDuration "x">: error calling parseD)~"
     R"~(uration: not a valid duration string: "x">)~"},
    {R"~({{ parseDuration "" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <parseDuration "">: error calling parseDu)~"
     R"~(ration: empty duration string>)~"},
    {R"~({{ args 1 "a" nil 1.5 }})~", R"~(map[arg0:1 arg1:a arg2:<nil> arg3:1.5])~"},
    {R"~({{ (args 1 2).arg1 }})~", R"~(2)~"},
    {R"~({{ (args 1).nope }})~", R"~(<no value>)~"},
    {R"~({{ with query "q" }}{{ . | first | label "instance" }} {{ . | first | value }})~"
     R"~( {{ . | first | strvalue }}{{ end }})~",
     R"~(b 2 )~"},
    {R"~({{ range query "q" | sortByLabel "instance" }}{{ .Labels.instance }}{{ end }})~",
     R"~(ab)~"},
    {R"~({{ query "q" | len }})~", R"~(2)~"},
    {R"~({{ query "nope" }})~", R"~([])~"},
    {R"~({{ first (query "q") }})~", R"~({map[__name__:q instance:b job:node] 2})~"},
    {R"~({{ with query "q" }}{{ index . 1 }}{{ end }})~",
     R"~({map[__name__:q instance:a job:node] 1})~"},
    {R"~({{ safeHtml "<b>" }})~", R"~(<b>)~"},
    {R"~({{ safeHtml "<b>" | toUpper }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:132: executing "__alert_A" at <toUpper>: wrong type for value; expected)~"
     R"~( string; got template.HTML>)~"},
    {R"~({{ graphLink "rate(x[5m]) > 0" }} {{ tableLink "a" }})~",
     R"~(/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+0&g0.tab=0 /graph?g0.expr=a&g0.tab=1)~"},
    {R"~({{ .Labels.instance }} {{ .ExternalLabels.x }} {{ .Labels.instance.foo }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:169: executing "__alert_A" at <.Labels.instance.foo>: can't evaluate fi)~"
     R"~(eld foo in type string>)~"},
    {R"~({{ $value.foo }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:121: executing "__alert_A" at <$value.foo>: can't evaluate field foo in)~"
     R"~( type float64>)~"},
    {R"~({{ .Foo }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <.Foo>: can't evaluate field Foo in type )~"
     R"~(struct { Labels map[string]string; ExternalLabels map[string]string; ExternalU)~"
     R"~(RL string; Value float64 }>)~"},
    {R"~({{ $labels.job 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:122: executing "__alert_A" at <$labels.job>: job is not a method but ha)~"
     R"~(s arguments>)~"},
    {R"~({{ 1 2 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <1>: can't give argument to non-function )~"
     R"~(1>)~"},
    {R"~({{ nil }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <nil>: nil is not a command>)~"},
    {R"~({{ humanize }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanize>: wrong number of args for huma)~"
     R"~(nize: want 1 got 0>)~"},
    {R"~({{ humanize 1 2 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanize>: wrong number of args for huma)~"
     R"~(nize: want 1 got 2>)~"},
    {R"~({{ label 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <label>: wrong number of args for label: )~"
     R"~(want 2 got 1>)~"},
    {R"~({{ toUpper 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:123: executing "__alert_A" at <1>: expected string; found 1>)~"},
    {R"~({{ toUpper $value }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:123: executing "__alert_A" at <$value>: wrong type for value; expected )~"
     R"~(string; got float64>)~"},
    {R"~({{ first "x" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:121: executing "__alert_A" at <"x">: can't handle "x" for arg of type t)~"
     R"~(emplate.queryResult>)~"},
    {R"~({{ template "nope" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:124: executing "__alert_A" at <{{template "nope"}}>: template "nope" no)~"
     R"~(t defined>)~"},
    {R"~({{ define "t" }}T{{ . }}{{ end }}{{ template "t" 5 }}{{ block "b" $labels.job )~"
     R"~(}}B{{ . }}{{ end }})~",
     R"~(T5Bnode)~"},
    {R"~({{/* a comment */}}x {{- " y " -}} z)~", R"~(x y z)~"},
    {R"~(a  {{- 1 }}  b)~", R"~(a1  b)~"},
    {R"~({{ range $i, $v := $labels }}{{ end }}{{ $i }})~",
     R"~(PARSE: template: __alert_A:1: undefined variable "$i")~"},
    {R"~({{ printf "%s" (index $labels "job" | toUpper) }})~", R"~(NODE)~"},
    {R"~({{ (1) }} {{ ("a") }} {{ ( $value ) }})~", R"~(1 a 5)~"},
    {R"~({{ call 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <call 1>: error calling call: non-functio)~"
     R"~(n of type int>)~"},
    {R"~({{ humanize "1_000" }})~", R"~(1k)~"},
    {R"~({{ humanize "0x10" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanize "0x10">: error calling humanize)~"
     R"~(: strconv.ParseFloat: parsing "0x10": invalid syntax>)~"},
    {R"~({{ 'é' }} {{ '\n' }})~", R"~(233 10)~"},
    {R"~({{ "a\tb\u00e9\x41" }} {{ `raw\n` }})~", R"~(a	béA raw\n)~"},
    {R"~({{ '\'' }} {{ '"' }})~", R"~(39 34)~"},
    {R"~({{ '\"' }})~", R"~(PARSE: template: __alert_A:1: invalid syntax)~"},
    {R"~({{ html nil }} {{ html 1 nil }} {{ urlquery nil }})~",
     R"~(&lt;no value&gt; 1&lt;no value&gt; %3Cno+value%3E)~"},
    {R"~({{ (args 1).nope.foo }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:121: executing "__alert_A" at <1>: nil pointer evaluating interface {}.)~"
     R"~(foo>)~"},
    {R"~({{ (args 1).nope }}|{{ index (args 1) "x" }})~", R"~(<no value>|<no value>)~"},
    {R"~({{ print (args 1).nope }})~", R"~(<nil>)~"},
    {R"~({{ with $x := 5 }}{{ $x }}{{ end }})~", R"~(5)~"},
    {R"~({{ range $i, $c := query "q" }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $c.Va)~"
     R"~(lue }}{{ else }}none{{ end }})~",
     R"~(1)~"},
    {R"~({{ range query "nothing" }}x{{ else }}none{{ end }})~", R"~(none)~"},
    {R"~({{ template "x" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:124: executing "__alert_A" at <{{template "x"}}>: template "x" not defi)~"
     R"~(ned>)~"},
    {R"~({{ printf "%v|%s" (toTime 1.5) (toTime 1.5) }})~",
     R"~(1970-01-01 00:00:01.5 +0000 UTC|1970-01-01 00:00:01.5 +0000 UTC)~"},
    {R"~({{ (query "q" | first).Labels.instance }})~", R"~(b)~"},
    {R"~({{ $labels.instance | printf "%s-%s" "a" }})~", R"~(a-host:9100)~"},
    {R"~({{ "x" | printf "%s%s" }})~", R"~(x%!s(MISSING))~"},
    {R"~({{ 1 | not }})~", R"~(false)~"},
    {R"~({{ $.Labels.job }})~", R"~(node)~"},
    {R"~({{ define "a" }}[{{ $ }}]{{ end }}{{ template "a" $labels.job }})~", R"~([node])~"},
    {R"~({{ len (query "q") }} {{ slice (query "q") 1 | len }})~", R"~(2 1)~"},
    {R"~({{ range $k, $v := args 1 2 }}{{ $k }}={{ $v }} {{ end }})~", R"~(arg0=1 arg1=2 )~"},
    {R"~({{ if not (eq $value 5.0) }}a{{ else }}b{{ end }})~", R"~(b)~"},
    {R"~({{ eq "a" "b" "a" }} {{ eq 1 2 3 }})~", R"~(true false)~"},
    {R"~({{ .Labels.job.x }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:122: executing "__alert_A" at <.Labels.job.x>: can't evaluate field x i)~"
     R"~(n type string>)~"},
    {R"~({{ $value.x }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:121: executing "__alert_A" at <$value.x>: can't evaluate field x in typ)~"
     R"~(e float64>)~"},
    {R"~({{ humanize $labels }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <humanize $labels>: error calling humaniz)~"
     R"~(e: can't convert map[string]string to float>)~"},
    {R"~({{ label "x" }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <label>: wrong number of args for label: )~"
     R"~(want 2 got 1>)~"},
    {R"~({{ value nil }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <value nil>: error calling value: runtime)~"
     R"~( error: invalid memory address or nil pointer dereference>)~"},
    {R"~({{ first nil }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <first nil>: error calling first: first())~"
     R"~( called on vector with no elements>)~"},
};

const Case kParseErrors[] = {
    {R"~({{ $labels.instance is down)~",
     R"~(PARSE: template: __alert_A:1: function "is" not defined)~"},
    {R"~({{ }})~", R"~(PARSE: template: __alert_A:1: missing value for command)~"},
    {R"~({{ foo }})~", R"~(PARSE: template: __alert_A:1: function "foo" not defined)~"},
    {R"~({{ $nope }})~", R"~(PARSE: template: __alert_A:1: undefined variable "$nope")~"},
    {R"~({{ if true }}x)~", R"~(PARSE: template: __alert_A:1: unexpected EOF)~"},
    {R"~({{ end }})~", R"~(PARSE: template: __alert_A:1: unexpected {{end}})~"},
    {R"~({{ else }})~", R"~(PARSE: template: __alert_A:1: unexpected {{else}})~"},
    {R"~({{ if true }}{{ else }}{{ else }}{{ end }})~",
     R"~(PARSE: template: __alert_A:1: expected end; found {{else}})~"},
    {R"~({{ range $labels }}{{ else if true }}{{ end }})~",
     R"~(PARSE: template: __alert_A:1: unexpected <if> in input)~"},
    {R"~({{ "abc }})~", R"~(PARSE: template: __alert_A:1: unterminated quoted string)~"},
    {R"~({{ `abc }})~", R"~(PARSE: template: __alert_A:1: unterminated raw quoted string)~"},
    {R"~({{ 'ab' }})~", R"~(PARSE: template: __alert_A:1: malformed character constant: 'ab')~"},
    {R"~({{ 'a }})~", R"~(PARSE: template: __alert_A:1: unterminated character constant)~"},
    {R"~({{ 1.2.3 }})~", R"~(PARSE: template: __alert_A:1: unexpected ".3" in operand)~"},
    {R"~({{ 0x }})~", R"~(PARSE: template: __alert_A:1: illegal number syntax: "0x")~"},
    {R"~({{ 99999999999999999999 }})~",
     R"~(PARSE: template: __alert_A:1: integer overflow: "99999999999999999999")~"},
    {R"~({{ 3a }})~", R"~(PARSE: template: __alert_A:1: bad number syntax: "3a")~"},
    {R"~({{ $labels.a-b }})~", R"~(PARSE: template: __alert_A:1: bad character U+002D '-')~"},
    {R"~({{ # }})~", R"~(PARSE: template: __alert_A:1: unexpected "#" in command)~"},
    {R"~({{ é }})~", R"~(PARSE: template: __alert_A:1: function "é" not defined)~"},
    {R"~({{ § }})~",
     R"~(PARSE: template: __alert_A:1: unrecognized character in action: U+00A7 '§')~"},
    {R"~({{ ) }})~", R"~(PARSE: template: __alert_A:1: unexpected ")" in command)~"},
    {R"~({{ ( 1 }})~", R"~(PARSE: template: __alert_A:1: unclosed left paren)~"},
    {R"~({{ (1 }})~", R"~(PARSE: template: __alert_A:1: unclosed left paren)~"},
    {R"~({{ 1 | 2 }})~",
     R"~(PARSE: template: __alert_A:1: non executable command in pipeline stage 2)~"},
    {R"~({{ printf | }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <printf>: wrong number of args for printf)~"
     R"~(: want at least 1 got 0>)~"},
    {R"~({{ .a | "x" }})~",
     R"~(PARSE: template: __alert_A:1: non executable command in pipeline stage 2)~"},
    {R"~({{ $x = 1 }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:120: executing "__alert_A" at <1>: undefined variable: $x>)~"},
    {R"~({{ $x := }})~", R"~(PARSE: template: __alert_A:1: missing value for command)~"},
    {R"~({{ $x, $y := 1 }})~",
     R"~(PARSE: template: __alert_A:1: too many declarations in command)~"},
    {R"~({{ range $a, $b, $c := $labels }}{{ end }})~",
     R"~(PARSE: template: __alert_A:1: too many declarations in range)~"},
    {R"~({{ break }})~", R"~(PARSE: template: __alert_A:1: {{break}} outside {{range}})~"},
    {R"~({{ range $labels }}{{ break 1 }}{{ end }})~",
     R"~(PARSE: template: __alert_A:1: unexpected "1" in {{break}})~"},
    {R"~({{ continue }})~", R"~(PARSE: template: __alert_A:1: {{continue}} outside {{range}})~"},
    {R"~({{ template }})~",
     R"~(PARSE: template: __alert_A:1: unexpected "}}" in template clause)~"},
    {R"~({{ template 1 }})~",
     R"~(PARSE: template: __alert_A:1: unexpected "1" in template clause)~"},
    {R"~({{ define "x" }})~", R"~(PARSE: template: __alert_A:1: unexpected EOF)~"},
    {R"~({{ define "x" }}{{ end }}{{ define "x" }}y{{ end }}{{ define "x" }}z{{ end }})~",
     R"~(PARSE: template: __alert_A:1: template: multiple definition of template "x")~"},
    {R"~({{/* unclosed)~", R"~(PARSE: template: __alert_A:1: unclosed comment)~"},
    {R"~({{/* a */ x }})~",
     R"~(PARSE: template: __alert_A:1: comment ends before closing delimiter)~"},
    {R"~({{ "a" . }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:115: executing "__alert_A" at <"a">: can't give argument to non-functio)~"
     R"~(n "a">)~"},
    {R"~({{ nil.x }})~", R"~(PARSE: template: __alert_A:1: unexpected . after term "nil")~"},
    {R"~({{ 1.x }})~", R"~(PARSE: template: __alert_A:1: bad number syntax: "1.x")~"},
    {R"~({{ "\q" }})~", R"~(PARSE: template: __alert_A:1: invalid syntax)~"},
    {R"~({{ : }})~", R"~(PARSE: template: __alert_A:1: expected :=)~"},
    {R"~({{ .x:=1 }})~", R"~(PARSE: template: __alert_A:1: unexpected ":=" in operand)~"},
    {R"~({{ with }}{{ end }})~", R"~(PARSE: template: __alert_A:1: missing value for with)~"},
    {R"~({{ if }}{{ end }})~", R"~(PARSE: template: __alert_A:1: missing value for if)~"},
    {R"~({{ range }}{{ end }})~", R"~(PARSE: template: __alert_A:1: missing value for range)~"},
    {R"~(line1
{{ if true }}
line3
{{ foo }})~",
     R"~(PARSE: template: __alert_A:4: function "foo" not defined)~"},
    {R"~(a
{{ 1 
 2 }}
{{ }})~",
     R"~(PARSE: template: __alert_A:4: missing value for command)~"},
    {R"~({{ block "b" . }}x)~", R"~(PARSE: template: __alert_A:1: unexpected EOF)~"},
    {R"~({{- -}})~", R"~(PARSE: template: __alert_A:1: illegal number syntax: "-")~"},
    {R"~({{ -1 }}{{-1}})~", R"~(-1-1)~"},
    {R"~({{ .Labels.x.y.z }}{{ $.Labels }})~",
     R"~(<error expanding template: error executing template __alert_A: template: __ale)~"
     R"~(rt_A:1:122: executing "__alert_A" at <.Labels.x.y.z>: can't evaluate field y i)~"
     R"~(n type string>)~"},
    {R"~({{ ( ( ( 1 ) ) ) }})~", R"~(1)~"},
};

TEST(Template, LanguageExpandsLikePromtool) {
  for (const Case& c : kLanguage) ExpectLikePromtool(c);
}

TEST(Template, BadTemplatesFailWithGoParseErrors) {
  for (const Case& c : kParseErrors) ExpectLikePromtool(c);
}

TEST(Template, ValuePrintsAsGoFloat64) {
  // promtool with m = 0.5, 1e6, 123456.789 and 1e-7.
  const std::pair<double, const char*> cases[] = {
      {0.5, "0.5|500m|0.500 0.5 5.000000e-01"},
      {1e6, "1e+06|1M|1000000.000 1e+06 1.000000e+06"},
      {123456.789, "123456.789|123.5k|123456.789 123456.789 1.234568e+05"},
      {1e-7, "1e-07|100n|0.000 1e-07 1.000000e-07"},
  };
  for (const auto& [value, want] : cases) {
    auto out = ExpandTemplate(
        "__alert_A",
        R"({{ $value }}|{{ humanize .Value }}|{{ printf "%.3f %g %e" $value $value $value }})",
        PromtoolData(value));
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(*out, want);
  }
}

TEST(Template, ExpansionErrorIsPrometheusText) {
  auto out = ExpandTemplate("__alert_HighErrors", "{{ humanize \"x\" }}", PromtoolData());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "error expanding template: error executing template __alert_HighErrors: template: "
            "__alert_HighErrors:1:115: executing \"__alert_HighErrors\" at <humanize \"x\">: "
            "error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax");
  EXPECT_EQ(ExpandTemplateOrError("__alert_HighErrors", "{{ humanize \"x\" }}", PromtoolData()),
            "<" + out.status().message() + ">");
}

TEST(Template, ExternalLabelsAndUrlAreData) {
  TemplateData d = PromtoolData();
  d.external_labels = {{"cluster", "eu1"}};
  d.external_url = "https://prom.example.com/prometheus";
  auto out = ExpandTemplate("n",
                            "{{ $externalLabels.cluster }} {{ .ExternalLabels.cluster }} "
                            "{{ $externalURL }} {{ externalURL }} {{ pathPrefix }}",
                            d);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out,
            "eu1 eu1 https://prom.example.com/prometheus "
            "https://prom.example.com/prometheus /prometheus");
}

TEST(Template, QueryWithoutEngineFails) {
  TemplateData d = PromtoolData();
  d.query = nullptr;
  auto out = ExpandTemplate("n", "{{ query \"up\" }}", d);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("error calling query"), std::string::npos);
}

TEST(Template, QueryErrorIsReported) {
  TemplateData d = PromtoolData();
  d.query = [](const std::string&, int64_t t) -> StatusOr<promql::Vector> {
    return InvalidArgument("bad query at " + std::to_string(t));
  };
  d.eval_time_ms = 42;
  auto out = ExpandTemplate("n", "{{ query \"up\" }}", d);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("error calling query: bad query at 42"), std::string::npos)
      << out.status().message();
}

// ---- Hostile input: bounded, never crashes ---------------------------------------------------

TEST(TemplateLimits, DeepNestingFailsCleanly) {
  std::string parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_NE(CheckTemplate("n", "{{ " + parens + " }}").find("max expression depth exceeded"),
            std::string::npos);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{{ if true }}";
  for (int i = 0; i < 5000; ++i) ifs += "{{ end }}";
  EXPECT_NE(CheckTemplate("n", ifs), "");
}

TEST(TemplateLimits, HugeRangeStopsAtStepBudget) {
  TemplateData d = PromtoolData();
  d.query = [](const std::string&, int64_t) -> StatusOr<promql::Vector> {
    promql::Vector v(1000);
    return v;
  };
  auto out = ExpandTemplate(
      "n",
      "{{ range query \"x\" }}{{ range query \"x\" }}{{ range query \"x\" }}{{ end }}"
      "{{ end }}{{ end }}",
      d);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("execution exceeded"), std::string::npos)
      << out.status().message();
}

TEST(TemplateLimits, MegabyteOutputFails) {
  std::string text = "{{ $x := \"" + std::string(1000, 'a') + "\" }}";
  text += "{{ range query \"q\" }}{{ end }}";  // keeps the template valid with data
  for (int i = 0; i < 1100; ++i) text += "{{ $x }}";
  auto out = ExpandTemplate("n", text, PromtoolData());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("output exceeds"), std::string::npos);
}

TEST(TemplateLimits, DoublingStringsAndWidthsAreBounded) {
  std::string text = "{{ $x := \"aaaaaaaa\" }}";
  for (int i = 0; i < 40; ++i) text += "{{ $x = printf \"%s%s\" $x $x }}";
  auto out = ExpandTemplate("n", text, PromtoolData());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("exceeds"), std::string::npos);
  // fmt refuses widths over 10^6, as Go does.
  auto wide = ExpandTemplate("n", "{{ printf \"%99999999d\" 1 }}", PromtoolData());
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(*wide, "%!(NOVERB)%!(EXTRA int=1)");
}

TEST(TemplateLimits, WidePrintfAndPrintAreBounded) {
  std::string format, numbers;
  for (int i = 0; i < 300; ++i) {
    format += "%1000000d";
    numbers += " 1";
  }
  auto out = ExpandTemplate("n", "{{ printf \"" + format + "\"" + numbers + " }}", PromtoolData());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("result exceeds"), std::string::npos);
  std::string args;
  for (int i = 0; i < 300; ++i) args += " $x";
  out = ExpandTemplate("n", "{{ $x := printf \"%200000d\" 1 }}{{ print" + args + " }}",
                       PromtoolData());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("result exceeds"), std::string::npos);
}

TEST(TemplateLimits, VariablesAreBounded) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "{{ $v" + std::to_string(i) + " := 1 }}";
  EXPECT_NE(CheckTemplate("n", text).find("more than 1000 variables"), std::string::npos);
}

TEST(TemplateLimits, RecursiveTemplateStops) {
  auto out = ExpandTemplate(
      "n", "{{ define \"r\" }}x{{ template \"r\" }}{{ end }}{{ template \"r\" }}", PromtoolData());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("exceeded maximum template depth"), std::string::npos);
}

// ---- Rule files --------------------------------------------------------------------------------

std::vector<std::string> RuleErrors(const std::string& rules) {
  RuleFileResult r = ParseRuleText("groups:\n  - name: g\n    rules:\n" + rules, "t.yml");
  std::vector<std::string> out;
  for (const RuleError& e : r.errors) out.push_back(e.ToString());
  return out;
}

TEST(TemplateRules, AlertTemplatesAreParsedWithGoErrorsAtTheAction) {
  EXPECT_EQ(RuleErrors("      - alert: A\n        expr: up\n        annotations:\n"
                       "          s: \"ok {{ $value }} {{ nope 1 }}\"\n"),
            std::vector<std::string>{
                "t.yml:7:31: group \"g\", rule 1 (\"A\"): annotation \"s\": template: "
                "__alert_A:1: function \"nope\" not defined"});
  EXPECT_EQ(
      RuleErrors("      - alert: B\n        expr: up\n        labels:\n"
                 "          sev: |\n            line1\n            {{ if }}\n"),
      std::vector<std::string>{"t.yml:9:13: group \"g\", rule 1 (\"B\"): label \"sev\": template: "
                               "__alert_B:2: missing value for if"});
}

TEST(TemplateRules, UnexpectedEofPointsAtTheControlLeftOpen) {
  EXPECT_EQ(RuleErrors("      - alert: C\n        expr: up\n        annotations:\n"
                       "          d: |\n            {{ if gt $value 1.0 }}\n            high\n"),
            std::vector<std::string>{
                "t.yml:8:13: group \"g\", rule 1 (\"C\"): annotation \"d\": template: "
                "__alert_C:3: unexpected EOF"});
}

TEST(TemplateRules, RecordingRuleLabelsAreNotTemplates) {
  // Like promtool: only alerting rules' labels and annotations are parsed as templates.
  EXPECT_EQ(RuleErrors("      - record: r\n        expr: up\n        labels:\n"
                       "          a: \"{{ nope }}\"\n"),
            std::vector<std::string>{});
}

TEST(TemplateRules, ValidTemplatesPass) {
  EXPECT_EQ(RuleErrors("      - alert: A\n        expr: up\n        annotations:\n"
                       "          s: '{{ $labels.instance }} {{ $value | humanizePercentage }}'\n"),
            std::vector<std::string>{});
}

}  // namespace
}  // namespace steward::alerting
