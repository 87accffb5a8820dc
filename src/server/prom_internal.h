// Private to the server room: what the Prometheus-compatible read API (prom_api.cc) and the PromQL
// query API (query_api.cc) share — answers in Prometheus' envelope, routes that take GET query
// strings and POST forms of any size, and the monitoring guard.
// Thread safety: stateless helpers; handlers run on httplib's worker threads.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "server/daemon.h"
#include "server/monitoring.h"

namespace steward::server {

// {"status":"error","errorType":type,"error":msg} with the HTTP code.
void PromError(httplib::Response& res, int code, const std::string& type, const std::string& msg);
// {"status":"success","data":data}.
void PromSuccess(httplib::Response& res, nlohmann::json data);
// Any JSON answer (invalid UTF-8 replaced) with the HTTP code; the control APIs use it.
void JsonAnswer(httplib::Response& res, const nlohmann::json& j, int code = 200);
// A Status as the control APIs' error: 400 bad_data, 404 not_found, 409 conflict,
// 503 unavailable, anything else 500 internal; in PromError's envelope.
void StatusError(httplib::Response& res, const Status& st);

using PromHandler = std::function<void(Monitoring*, const httplib::Request&, httplib::Response&)>;
// Wraps a handler that needs the TSDB: 503 "unavailable" when monitoring is off.
httplib::Server::Handler WithMonitoring(Daemon* daemon, PromHandler handler);

// Registers h for GET and POST on path. POST bodies are read by the route itself, not by
// httplib, whose compiled-in limit on form bodies is 8 KiB (longer forms would get 413 before
// any handler): application/x-www-form-urlencoded bodies up to the server's payload limit are
// decoded into the request's params, as Prometheus' r.FormValue does.
void RouteGetPost(httplib::Server& svr, const std::string& path, httplib::Server::Handler h);

// query_api.cc: /api/v1/query, query_range, format_query, query_exemplars, metadata, rules,
// alerts, status/buildinfo.
void InstallQueryRoutes(httplib::Server& svr, Daemon* daemon);

// A value as Prometheus' API writes it (Go's strconv.FormatFloat with 'f', or 'e' below 1e-6 and
// from 1e21; "NaN", "+Inf", "-Inf").
std::string PromValue(double v);
// The same for a finite v, written to [first, last) (40 bytes are enough); returns the end.
char* FormatFiniteValue(char* first, char* last, double v);

}  // namespace steward::server
