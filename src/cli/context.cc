#include <limits.h>
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "alerting/rule_file.h"
#include "alerting/slo.h"
#include "cli/cli.h"
#include "pipeline/cron.h"
#include "pipeline/parse.h"
#include "server/deploy_controller.h"
#include "server/alerting.h"
#include "state/state_store.h"

namespace steward::cli {
namespace fs = std::filesystem;

std::string Context::StateDir() const {
  std::string dir = g.state_dir;
  if (dir.empty())
    if (const char* e = getenv("STEWARD_STATE_DIR")) dir = e;
  if (dir.empty()) {
    fs::path stack = fs::absolute(g.file);
    dir = (stack.parent_path() / ".steward").string();
  }
  return fs::absolute(dir).lexically_normal().string();
}

bool Context::Color() const { return !g.no_color && !g.json && isatty(STDOUT_FILENO); }

std::optional<config::Stack> Context::LoadStack() const {
  config::ParseOptions opt;
  opt.environment = g.env;
  auto result = config::ParseStackFile(g.file, opt);
  if (!result.ok()) {
    for (const auto& d : result.diagnostics) std::cerr << d.ToString() << "\n";
    std::cerr << result.diagnostics.size() << " error(s) in " << g.file
              << "; nothing was changed.\n";
    return std::nullopt;
  }
  // The stack's rule files and SLOs are checked here too, so plan/apply refuse them whole
  // before anything changes (the daemon would keep its previous rules anyway).
  std::vector<config::Diagnostic> rules = CheckRules(*result.stack);
  if (!rules.empty()) {
    for (const auto& d : rules) std::cerr << d.ToString() << "\n";
    std::cerr << rules.size() << " error(s) in the rules or pipelines of " << g.file
              << "; nothing was changed.\n";
    return std::nullopt;
  }
  return std::move(result.stack);
}

std::vector<config::Diagnostic> Context::CheckRules(const config::Stack& stack) const {
  std::vector<config::Diagnostic> out;
  for (const std::string& file : server::ExpandRuleFiles(stack.rule_files, stack.dir)) {
    for (const auto& e : alerting::LoadRuleFile(file).errors)
      out.push_back({{e.path, e.line, e.column}, e.message});
  }
  if (!stack.slos.empty()) {
    auto slos = alerting::SloRuleFile(stack.slos, stack.alerting.evaluation_interval.count());
    if (!slos.ok()) out.push_back({{g.file, 0, 0}, slos.status().message()});
  }
  for (const config::Service& svc : stack.services) {
    Status st = server::CheckAnalysisQueries(svc);
    if (st.ok()) continue;
    config::Diagnostic d{svc.deploy.location, st.message()};
    for (const auto& check : svc.deploy.analysis.checks) {  // the message leads with its place
      std::string at = check.location.ToString() + ": ";
      if (d.message.rfind(at, 0) == 0) d = {check.location, d.message.substr(at.size())};
    }
    out.push_back(std::move(d));
  }
  // Backup and drill schedules: the config room cannot parse cron, the daemon must not get a
  // schedule it cannot run.
  auto cron = [&out](const std::string& text, const config::SourceLocation& at,
                     const std::string& owner, const char* key) {
    if (text.empty()) return;
    auto parsed = pipeline::CronSchedule::Parse(text);
    if (!parsed.ok())
      out.push_back({at, owner + "'" + key + "': " + parsed.status().message() +
                             "; e.g. \"0 3 * * *\" or @daily"});
  };
  if (!stack.backup.repository.empty())
    cron(stack.backup.schedule, stack.backup.schedule_location, "", "backup.schedule");
  for (const config::Service& svc : stack.services) {
    if (!svc.backup.enabled) continue;
    std::string owner = "service '" + svc.name + "': ";
    cron(svc.backup.schedule, svc.backup.schedule_location, owner, "backup.schedule");
    cron(svc.backup.drill_schedule, svc.backup.drill_schedule_location, owner,
         "backup.drill_schedule");
  }
  // Pipelines too: the daemon loads them at apply, and a broken one must not get that far.
  if (!stack.path.empty()) {
    for (auto& d : pipeline::LoadStackPipelines(stack.path).errors) out.push_back(std::move(d));
  }
  return out;
}

server::Requester Context::Who(const std::string& command) const {
  return {getpid(), state::CurrentUser(), state::CurrentHost(), command};
}

StatusOr<Duration> Context::LockTimeout() const {
  auto d = config::ParseDuration(g.lock_timeout);
  if (!d) return InvalidArgument("--lock-timeout '" + g.lock_timeout + "' is not a duration; use e.g. 30s");
  return *d;
}

StatusOr<std::pair<std::string, int>> Context::Listen() const {
  size_t colon = g.listen.rfind(':');
  std::string host = colon == std::string::npos ? "127.0.0.1" : g.listen.substr(0, colon);
  std::string port = colon == std::string::npos ? g.listen : g.listen.substr(colon + 1);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p < 0 || p > 65535)
    return InvalidArgument("--listen '" + g.listen + "': expected HOST:PORT, e.g. 127.0.0.1:7420");
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(host, static_cast<int>(p));
}

Status WriteOutputFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out.write(text.data(), static_cast<std::streamsize>(text.size())) || !out.flush())
    return IOError("write " + path + ": " + std::strerror(errno));
  return Status::OK();
}

std::string FormatBytes(int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

StatusOr<int64_t> ParseSize(const std::string& flag, const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || value < 0)
    return InvalidArgument(flag + " '" + text + "': expected a size like 500M or 2G");
  const std::string unit = text.substr(used);
  int64_t mult = 0;
  if (unit == "" || unit == "B") mult = 1;
  else if (unit == "k" || unit == "K" || unit == "KB" || unit == "KiB") mult = int64_t{1} << 10;
  else if (unit == "M" || unit == "MB" || unit == "MiB") mult = int64_t{1} << 20;
  else if (unit == "G" || unit == "GB" || unit == "GiB") mult = int64_t{1} << 30;
  else if (unit == "T" || unit == "TB" || unit == "TiB") mult = int64_t{1} << 40;
  if (mult == 0)
    return InvalidArgument(flag + " '" + text + "': unknown unit '" + unit +
                           "' (use K, M, G or T)");
  return static_cast<int64_t>(value * static_cast<double>(mult));
}

int Fail(const Status& st) {
  std::cerr << "error: " << st.message() << "\n";
  if (st.code() == StatusCode::kAborted) return kExitLocked;
  return kExitError;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

StatusOr<std::string> PromptNoEcho(const std::string& question, const std::string& no_tty,
                                   size_t max_bytes) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (!tty) return InvalidArgument(no_tty);
  // Echo off before the question shows: an answer typed (or pasted) as soon as it appears is
  // neither echoed nor thrown away by the flush.
  termios old{};
  bool restore = tcgetattr(fileno(tty), &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
  }
  std::fputs(question.c_str(), tty);
  std::fflush(tty);
  std::string line;
  for (int c = std::fgetc(tty); c != EOF && c != '\n'; c = std::fgetc(tty)) {
    if (line.size() > max_bytes) break;
    line += static_cast<char>(c);
  }
  if (restore) tcsetattr(fileno(tty), TCSAFLUSH, &old);
  std::fputs("\n", tty);
  std::fclose(tty);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace steward::cli
