// token create|list|rm and audit: API access, kept in the state directory's store, so they work
// whether a daemon runs or not (the daemon looks tokens up per call). A token is printed once,
// at creation; only its SHA-256 is stored (docs/api.md, "Scopes").
#include <filesystem>
#include <iostream>
#include <optional>

#include "base/sha256.h"
#include "cli/cli.h"
#include "server/audit.h"
#include "server/auth.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

struct TokenArgs {
  std::string name;
  std::string scope;
  std::string since = "24h";
  int limit = 0;
};

StatusOr<std::unique_ptr<state::StateStore>> OpenStore(const Context& ctx) {
  std::error_code ec;
  std::filesystem::create_directories(ctx.StateDir(), ec);
  if (ec) return IOError("create state directory " + ctx.StateDir() + ": " + ec.message());
  return state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get());
}

std::string Time(int64_t ms) { return ms == 0 ? "-" : FormatRfc3339(FromUnixMillis(ms)); }

int RunCreate(const Context& ctx, const TokenArgs& a) {
  if (Status st = server::ValidateTokenName(a.name); !st.ok()) return Fail(st);
  auto scope = server::ParseScope(a.scope);
  if (!scope)
    return Fail(InvalidArgument("--scope '" + a.scope + "': expected read, deploy or admin"));
  auto store = OpenStore(ctx);
  if (!store.ok()) return Fail(store.status());
  auto existing = (*store)->ListApiTokens();
  if (!existing.ok()) return Fail(existing.status());
  for (const auto& t : *existing)
    if (t.name == a.name)
      return Fail(AlreadyExists("a token named '" + a.name +
                                "' exists; remove it first with `steward token rm " + a.name +
                                "` or choose another name"));
  auto token = server::NewApiToken();
  if (!token.ok()) return Fail(token.status());
  state::ApiTokenRecord rec;
  rec.name = a.name;
  rec.scope = std::string(server::ScopeName(*scope));
  rec.token_sha256 = Sha256Hex(*token);
  rec.created_at_ms = ToUnixMillis(RealClock::Get()->WallNow());
  if (Status st = (*store)->PutApiToken(rec); !st.ok()) return Fail(st);
  if (ctx.g.json) {
    std::cout << nlohmann::json{{"name", rec.name}, {"scope", rec.scope}, {"token", *token}}.dump(2)
              << "\n";
  } else {
    std::cout << *token << "\n";
    std::cerr << "Created token '" << rec.name << "' with scope " << rec.scope
              << ". It is shown only now: store it where its user keeps secrets.\n";
  }
  return kExitOk;
}

int RunList(const Context& ctx) {
  auto store = OpenStore(ctx);
  if (!store.ok()) return Fail(store.status());
  auto tokens = (*store)->ListApiTokens();
  if (!tokens.ok()) return Fail(tokens.status());
  if (ctx.g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : *tokens)
      out.push_back({{"name", t.name},
                     {"scope", t.scope},
                     {"created_at", Time(t.created_at_ms)},
                     {"last_used_at", t.last_used_ms ? Time(t.last_used_ms) : ""}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "SCOPE", "CREATED", "LAST USED"}};
  rows.push_back({"admin", "admin", "-", "- (api.token)"});
  for (const auto& t : *tokens)
    rows.push_back({t.name, t.scope, Time(t.created_at_ms), Time(t.last_used_ms)});
  PrintTable(rows);
  return kExitOk;
}

int RunRemove(const Context& ctx, const TokenArgs& a) {
  auto store = OpenStore(ctx);
  if (!store.ok()) return Fail(store.status());
  if (Status st = (*store)->DeleteApiToken(a.name); !st.ok()) {
    if (st.code() == StatusCode::kNotFound)
      return Fail(NotFound("no token named '" + a.name + "'; `steward token list` shows them"));
    return Fail(st);
  }
  if (!ctx.g.json)
    std::cout << "Removed token '" << a.name
              << "'; a running daemon refuses it within a few seconds.\n";
  return kExitOk;
}

// "0" (everything), whole days ("7d"), or a stack-file duration ("1h30m").
std::optional<Duration> ParseSince(const std::string& text) {
  if (text == "0") return Duration(0);
  if (text.size() > 1 && text.size() < 6 && text.back() == 'd' &&
      text.find_first_not_of("0123456789") == text.size() - 1)
    return Duration(std::stoll(text.substr(0, text.size() - 1)) * 24 * 3600 * 1000);
  return config::ParseDuration(text);
}

int RunAudit(const Context& ctx, const TokenArgs& a) {
  auto since = ParseSince(a.since);
  if (!since || since->count() < 0)
    return Fail(InvalidArgument("--since '" + a.since + "' is not a duration; use e.g. 1h or 7d"));
  const int64_t since_ms =
      since->count() == 0 ? 0 : ToUnixMillis(RealClock::Get()->WallNow()) - since->count();
  auto store = OpenStore(ctx);
  if (!store.ok()) return Fail(store.status());
  auto records = (*store)->ListAudit(since_ms, a.limit);
  if (!records.ok()) return Fail(records.status());
  if (ctx.g.json) {
    std::cout << server::AuditJson(*records).dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"TIME", "ACTOR", "SCOPE", "REMOTE", "CALL", "STATUS", "RESULT", "TOOK"}};
  for (const auto& r : *records)
    rows.push_back({Time(r.time_ms), r.actor, r.scope, r.remote, r.method + " " + r.path,
                    std::to_string(r.status), r.result, std::to_string(r.duration_ms) + "ms"});
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

void AddToken(CLI::App& app, Context& ctx, int& rc) {
  static TokenArgs a;
  auto* cmd = app.add_subcommand("token", "API tokens with scopes (read, deploy, admin)");
  cmd->require_subcommand(1);
  auto* create =
      cmd->add_subcommand("create", "Make a token and print it once (only its SHA-256 is kept)");
  create->add_option("name", a.name, "Its name, shown in the audit log")->required();
  create->add_option("--scope", a.scope, "read, deploy or admin (docs/api.md, Scopes)")->required();
  create->add_flag("--json", ctx.g.json, "Print {name, scope, token}");
  create->callback([&] { rc = RunCreate(ctx, a); });
  auto* list = cmd->add_subcommand("list", "Tokens, their scopes and last use (never values)");
  list->add_flag("--json", ctx.g.json, "Machine output");
  list->callback([&] { rc = RunList(ctx); });
  auto* rm = cmd->add_subcommand("rm", "Revoke a token");
  rm->add_option("name", a.name, "The token's name")->required();
  rm->add_flag("--json", ctx.g.json, "Machine output (quiet)");
  rm->callback([&] { rc = RunRemove(ctx, a); });
}

void AddAudit(CLI::App& app, Context& ctx, int& rc) {
  static TokenArgs a;
  auto* cmd = app.add_subcommand(
      "audit", "The API's audit log: every call that could change something, refused ones too");
  cmd->add_option("--since", a.since, "How far back (e.g. 1h, 7d; 0 = all)")->capture_default_str();
  cmd->add_option("--limit", a.limit, "Newest N entries at most (0 = all)");
  cmd->add_flag("--json", ctx.g.json, "Machine output");
  cmd->callback([&] { rc = RunAudit(ctx, a); });
}

}  // namespace steward::cli
