#include "demo_server.h"

#include <sys/socket.h>

#include <chrono>

namespace steward::demo {
namespace {

// Set in the pre-routing handler and read by the logger: both run on the worker thread that
// serves the request, and httplib's logger gets no start time of its own.
thread_local std::chrono::steady_clock::time_point t_request_start;
thread_local bool t_exit_after_response = false;

void Send(const DemoService::Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type.c_str());
  if (reply.exit_after_response) {
    res.set_header("Connection", "close");
    t_exit_after_response = true;
  }
}

std::map<std::string, std::string> AdminFields(const httplib::Request& req, Status* error) {
  bool json = req.get_header_value("Content-Type").find("json") != std::string::npos ||
              (!req.body.empty() && req.body.front() == '{');
  if (json) {
    auto fields = FieldsFromJson(req.body);
    if (!fields.ok()) {
      *error = fields.status();
      return {};
    }
    return *fields;
  }
  // Form bodies and query strings both land in params; a repeated key keeps its last value.
  std::map<std::string, std::string> fields;
  for (const auto& [k, v] : req.params) fields[k] = v;
  return fields;
}

std::string FormatSeconds(double s) {
  char buf[32];
  if (s < 1) {
    std::snprintf(buf, sizeof buf, "%.1fms", s * 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%.3fs", s);
  }
  return buf;
}

}  // namespace

void InstallDemoRoutes(DemoService* service, httplib::Server* server, const ServerOptions& options,
                       ExitFn exit, std::FILE* log) {
  int threads = options.threads;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_keep_alive_timeout(options.keep_alive_seconds);
  server->set_read_timeout(options.read_timeout_seconds, 0);
  // httplib's default sets SO_REUSEPORT, which would let two replicas share a port silently;
  // a port conflict must be a bind error.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  server->set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    t_request_start = std::chrono::steady_clock::now();
    t_exit_after_response = false;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server->Get("/", [service](const httplib::Request&, httplib::Response& res) {
    Send(service->Root(), res);
  });
  server->Get("/healthz", [service](const httplib::Request&, httplib::Response& res) {
    Send(service->Health(), res);
  });
  server->Get("/metrics", [service](const httplib::Request&, httplib::Response& res) {
    Send(service->Metrics(), res);
  });
  server->Get("/admin/state", [service](const httplib::Request&, httplib::Response& res) {
    Send(service->State(), res);
  });
  server->Post(
      "/admin/misbehave", [service, log](const httplib::Request& req, httplib::Response& res) {
        Status error;
        auto fields = AdminFields(req, &error);
        DemoService::Reply reply = error.ok() ? service->Misbehave(fields)
                                              : DemoService::Reply{400, error.message() + "\n"};
        if (log && reply.status == 200) {
          std::fprintf(log, "admin: settings now %s", reply.body.c_str());
        }
        Send(reply, res);
      });
  server->set_logger([service, exit, log](const httplib::Request& req,
                                          const httplib::Response& res) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_request_start).count();
    service->RecordRequest(req.path, res.status, seconds);
    if (log) {
      std::fprintf(log, "%s %s %d %s\n", req.method.c_str(), req.path.c_str(), res.status,
                   FormatSeconds(seconds).c_str());
    }
    // The logger runs after the response is written, so the client has its answer.
    if (t_exit_after_response) exit(1, "crash requested through /admin/misbehave");
  });
}

}  // namespace steward::demo
