// secret: `steward secret set|get|list|rm|rotate|export|import` over the secrets room
// (secrets/store.h, secrets/transfer.h; docs/formats/secrets.md).
//
// A value never comes from argv (it would sit in shell history and /proc/PID/cmdline): `set`
// and `rotate` read stdin, a no-echo prompt on a terminal, or --file. Values reach stdout only
// through `get`; errors, --json output of the other commands and the state store's other
// tables hold names, versions and key ids, never a value. These commands write no history.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "cli/cli.h"
#include "config/secret_refs.h"
#include "config/stack_parser.h"
#include "secrets/master_key.h"
#include "secrets/store.h"
#include "secrets/transfer.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {
namespace fs = std::filesystem;
using secrets::SecretStore;

struct SecretArgs {
  std::string master_key_file;
  std::string name;
  std::string file;
  bool keep_newline = false;
  int64_t version = 0;
  std::string out;
  std::string bundle;
  bool overwrite = false;
  bool apply = false;  // rotate --apply
};

// Open state and secret store for one command. A read-only command on a state dir that does not
// exist gets no store (and creates nothing): there are no secrets.
struct Opened {
  std::unique_ptr<state::StateStore> state;
  std::unique_ptr<SecretStore> secrets;
};

StatusOr<Opened> OpenStores(const Context& ctx, const SecretArgs& a, bool need_key, bool writing) {
  Opened o;
  const std::string dir = ctx.StateDir();
  std::error_code ec;
  if (!writing && !fs::exists(dir + "/state.db", ec)) {
    if (!need_key) return o;
    return NotFound("no secrets in " + dir + " (create one with `steward secret set NAME`)");
  }
  ASSIGN_OR_RETURN(o.state, state::OpenSqliteStateStore(dir, RealClock::Get()));
  const std::string lock = secrets::SecretsLockPath(dir);
  if (!need_key) {
    o.secrets = std::make_unique<SecretStore>(o.state.get(), RealClock::Get(), lock);
    return o;
  }
  // A new key only for a store without secrets: one that has some was sealed with a key that
  // must be found, not replaced by a fresh one nothing opens.
  ASSIGN_OR_RETURN(auto rows, o.state->ListSecrets(""));
  if (!writing && rows.empty()) {
    return NotFound("no secrets in " + dir + " (create one with `steward secret set NAME`)");
  }
  const std::string default_key = dir + "/master.key";
  const bool existed = fs::exists(default_key, ec);
  secrets::MasterKeyOptions options;
  options.key_file = a.master_key_file;
  auto key = secrets::LoadMasterKey(dir, options, writing && rows.empty());
  if (!key.ok()) {
    if (key.status().code() == StatusCode::kNotFound && !rows.empty()) {
      return NotFound(key.status().message() + "; the secrets here were sealed with key id " +
                      rows.front().key_id + ": give that key");
    }
    return key.status();
  }
  if (key->source() == default_key && !existed) {
    std::cerr << fmt::format(
        "created master key {} (key id {}): back it up apart from the state directory; "
        "without it the secrets cannot be opened\n",
        default_key, key->id());
  }
  o.secrets = std::make_unique<SecretStore>(o.state.get(), std::move(*key), RealClock::Get(), lock);
  return o;
}

// Up to max+1 bytes of fd, so a caller can tell "too large" without reading a huge input.
StatusOr<std::string> ReadAll(int fd, size_t max, const std::string& what) {
  std::string data;
  char buf[65536];
  while (data.size() <= max) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("reading " + what, errno);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

// The value for set/rotate: --file (every byte as is), else stdin (one trailing newline
// dropped unless --keep-newline), or a prompt when stdin is a terminal.
StatusOr<std::string> ReadValue(const SecretArgs& a) {
  std::string value;
  if (!a.file.empty()) {
    Fd fd(open(a.file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError("--file " + a.file, errno);
    ASSIGN_OR_RETURN(value, ReadAll(fd.get(), secrets::kMaxValueBytes, "--file " + a.file));
  } else if (isatty(STDIN_FILENO)) {
    ASSIGN_OR_RETURN(value, PromptNoEcho("value of " + a.name + ": ", "no terminal", secrets::kMaxValueBytes));
  } else {
    ASSIGN_OR_RETURN(value, ReadAll(STDIN_FILENO, secrets::kMaxValueBytes, "stdin"));
    if (!a.keep_newline && !value.empty() && value.back() == '\n') {
      value.pop_back();
      if (!value.empty() && value.back() == '\r') value.pop_back();
    }
  }
  if (value.empty()) {
    return InvalidArgument("secret '" + a.name + "': the value is empty; pipe it in (`printf %s "
                           "\"$VALUE\" | steward secret set " + a.name + "`) or use --file F");
  }
  return value;
}

// The services of the stack that reference ${secret:NAME}; best effort — no stack file or a
// stack that does not parse gives none (the plan will say more).
std::vector<std::string> ServicesUsing(const Context& ctx, const std::string& name) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(ctx.g.file, ec)) return out;
  config::ParseOptions opt;
  opt.environment = ctx.g.env;
  auto parsed = config::ParseStackFile(ctx.g.file, opt);
  if (!parsed.ok()) return out;
  for (const config::Service& svc : parsed.stack->services) {
    auto used = config::ServiceSecrets(svc);  // env values and secret_files, as plan sees them
    if (std::binary_search(used.begin(), used.end(), name)) out.push_back(svc.name);
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string Age(int64_t ms) {
  int64_t s = std::max<int64_t>(0, ms / 1000);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

int64_t NowMs() { return ToUnixMillis(RealClock::Get()->WallNow()); }

int Set(const Context& ctx, const SecretArgs& a, bool rotate) {
  if (Status st = secrets::CheckSecretName(a.name); !st.ok()) return Fail(st);
  auto value = ReadValue(a);
  if (!value.ok()) return Fail(value.status());
  auto o = OpenStores(ctx, a, /*need_key=*/true, /*writing=*/true);
  if (!o.ok()) return Fail(o.status());
  secrets::Rotation r;
  if (rotate) {
    auto done = o->secrets->Rotate(a.name, *value);
    if (!done.ok()) return Fail(done.status());
    r = *done;
  } else {
    r.old_version = 0;
    auto v = o->secrets->Set(a.name, *value);
    if (!v.ok()) return Fail(v.status());
    r.new_version = *v;
    if (r.new_version > 1) r.old_version = r.new_version - 1;
  }
  std::fill(value->begin(), value->end(), '\0');
  std::vector<std::string> users = ServicesUsing(ctx, a.name);
  if (ctx.g.json) {
    nlohmann::json j = {{"name", a.name},
                        {"version", r.new_version},
                        {"previous_version", r.old_version},
                        {"key_id", o->secrets->key().id()},
                        {"services", users}};
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  if (r.old_version == 0) {
    std::cout << fmt::format("secret {}: version {} set (key id {})\n", a.name, r.new_version,
                             o->secrets->key().id());
  } else {
    std::cout << fmt::format("secret {}: version {} is current; version {} is kept until the "
                             "services using it have rolled\n",
                             a.name, r.new_version, r.old_version);
  }
  if (!users.empty()) {
    std::cout << fmt::format("used by: {}; {} them onto version {}\n", Join(users),
                             a.apply ? "rolling" : "`steward apply` (or rotate --apply) rolls",
                             r.new_version);
  } else if (rotate && fs::exists(ctx.g.file)) {
    std::cout << fmt::format("no service in {} references ${{secret:{}}}\n", ctx.g.file, a.name);
  }
  return kExitOk;
}

int Get(const Context& ctx, const SecretArgs& a) {
  if (Status st = secrets::CheckSecretName(a.name); !st.ok()) return Fail(st);
  auto o = OpenStores(ctx, a, /*need_key=*/true, /*writing=*/false);
  if (!o.ok()) return Fail(o.status());
  secrets::ResolvedSecret s;
  if (a.version > 0) {
    auto v = o->secrets->GetVersion(a.name, a.version);
    if (!v.ok()) return Fail(v.status());
    s = {std::move(*v), a.version};
  } else {
    auto got = o->secrets->Get(a.name);
    if (!got.ok()) return Fail(got.status());
    s = std::move(*got);
  }
  const bool tty = isatty(STDOUT_FILENO);
  if (tty) {
    std::cerr << "warning: printing secret '" << a.name
              << "' on a terminal (it stays in the scrollback); pipe it instead\n";
  }
  if (ctx.g.json) {
    nlohmann::json j = {{"name", a.name}, {"version", s.version}};
    // JSON strings are UTF-8; a binary value goes out as base64.
    try {
      j["value"] = s.value;
      std::cout << j.dump(2) << "\n";
    } catch (const nlohmann::json::exception&) {
      j.erase("value");
      j["value_base64"] = secrets::Base64Encode(s.value);
      std::cout << j.dump(2) << "\n";
    }
  } else {
    // Exactly the bytes, so `steward secret get X > file` holds the value; a newline only for
    // a person's terminal.
    std::cout << s.value;
    if (tty) std::cout << "\n";
  }
  std::cout.flush();
  std::fill(s.value.begin(), s.value.end(), '\0');
  return kExitOk;
}

int List(const Context& ctx, const SecretArgs& a) {
  auto o = OpenStores(ctx, a, /*need_key=*/false, /*writing=*/false);
  if (!o.ok()) return Fail(o.status());
  std::vector<secrets::SecretInfo> infos;
  if (o->secrets) {
    auto listed = o->secrets->List();
    if (!listed.ok()) return Fail(listed.status());
    infos = std::move(*listed);
  }
  const int64_t now = NowMs();
  if (ctx.g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& i : infos) {
      arr.push_back({{"name", i.name},
                     {"version", i.version},
                     {"versions", i.versions},
                     {"previous_version", i.previous_version},
                     {"created_at", FormatRfc3339(FromUnixMillis(i.created_at_ms))},
                     {"updated_at", FormatRfc3339(FromUnixMillis(i.updated_at_ms))},
                     {"age_seconds", std::max<int64_t>(0, (now - i.updated_at_ms) / 1000)},
                     {"key_id", i.key_id}});
    }
    std::cout << arr.dump(2) << "\n";
    return kExitOk;
  }
  if (infos.empty()) {
    std::cout << "no secrets (create one with `steward secret set NAME`)\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "VERSION", "UPDATED", "AGE", "KEY ID", "AWAITING ROLL"}};
  for (const auto& i : infos) {
    rows.push_back({i.name, std::to_string(i.version),
                    FormatRfc3339(FromUnixMillis(i.updated_at_ms)), Age(now - i.updated_at_ms),
                    i.key_id,
                    i.previous_version ? "v" + std::to_string(i.previous_version) : "-"});
  }
  PrintTable(rows);
  return kExitOk;
}

int Remove(const Context& ctx, const SecretArgs& a) {
  if (Status st = secrets::CheckSecretName(a.name); !st.ok()) return Fail(st);
  auto o = OpenStores(ctx, a, /*need_key=*/false, /*writing=*/false);
  if (!o.ok()) return Fail(o.status());
  if (!o->secrets) {
    return Fail(NotFound("secret '" + a.name + "' does not exist (see `steward secret list`)"));
  }
  if (Status st = o->secrets->Remove(a.name); !st.ok()) return Fail(st);
  std::vector<std::string> users = ServicesUsing(ctx, a.name);
  if (ctx.g.json) {
    std::cout << nlohmann::json{{"name", a.name}, {"removed", true}, {"services", users}}.dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << "removed secret " << a.name << " (every version)\n";
  if (!users.empty()) {
    std::cerr << "warning: the stack's " << Join(users) << " still use ${secret:" << a.name
              << "}; plan and apply fail until it is set again\n";
  }
  return kExitOk;
}

// The export passphrase: STEWARD_EXPORT_PASSPHRASE, else asked (twice when exporting).
StatusOr<std::string> ExportPassphrase(bool confirm) {
  if (const char* p = std::getenv("STEWARD_EXPORT_PASSPHRASE"); p && *p) return std::string(p);
  const std::string no_tty =
      "no export passphrase: set STEWARD_EXPORT_PASSPHRASE (there is no terminal to ask on)";
  ASSIGN_OR_RETURN(std::string pass, PromptNoEcho("export passphrase: ", no_tty));
  if (pass.empty()) return InvalidArgument("the export passphrase is empty");
  if (confirm) {
    ASSIGN_OR_RETURN(std::string again, PromptNoEcho("repeat the passphrase: ", no_tty));
    if (again != pass) return InvalidArgument("the two passphrases differ");
  }
  return pass;
}

int Export(const Context& ctx, const SecretArgs& a) {
  auto o = OpenStores(ctx, a, /*need_key=*/true, /*writing=*/false);
  if (!o.ok()) return Fail(o.status());
  // Refused before asking for a passphrase or deriving a key: an existing file is never
  // replaced (it may be the only copy of an older export).
  std::error_code ec;
  if (fs::exists(a.out, ec)) {
    return Fail(AlreadyExists("--out " + a.out + " exists; remove it or choose another file"));
  }
  auto pass = ExportPassphrase(true);
  if (!pass.ok()) return Fail(pass.status());
  auto exported = secrets::ExportSecrets(*o->secrets, *pass, {});
  if (!exported.ok()) return Fail(exported.status());
  Fd fd(open(a.out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Fail(ErrnoError("--out " + a.out, errno));
  fchmod(fd.get(), 0600);  // whatever the umask
  const std::string& data = exported->bundle;
  for (size_t done = 0; done < data.size();) {
    ssize_t n = write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      unlink(a.out.c_str());
      return Fail(ErrnoError("writing " + a.out, err));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) return Fail(ErrnoError("writing " + a.out, errno));
  if (ctx.g.json) {
    std::cout << nlohmann::json{{"file", a.out}, {"secrets", exported->names}}.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("exported {} secret(s) to {}, sealed with the passphrase; on the "
                           "other machine: steward secret import {}\n",
                           exported->names.size(), a.out, a.out);
  return kExitOk;
}

int Import(const Context& ctx, const SecretArgs& a) {
  Fd fd(open(a.bundle.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Fail(ErrnoError(a.bundle, errno));
  constexpr size_t kMaxBundle = size_t{1} << 30;
  auto bundle = ReadAll(fd.get(), kMaxBundle, a.bundle);
  if (!bundle.ok()) return Fail(bundle.status());
  if (bundle->size() > kMaxBundle) return Fail(InvalidArgument(a.bundle + " is larger than 1 GiB"));
  auto pass = ExportPassphrase(false);
  if (!pass.ok()) return Fail(pass.status());
  auto o = OpenStores(ctx, a, /*need_key=*/true, /*writing=*/true);
  if (!o.ok()) return Fail(o.status());
  auto result = secrets::ImportSecrets(*o->secrets, *bundle, *pass, a.overwrite, a.bundle);
  if (!result.ok()) return Fail(result.status());
  if (ctx.g.json) {
    nlohmann::json imported = nlohmann::json::array();
    for (const auto& e : result->imported)
      imported.push_back({{"name", e.name}, {"version", e.version}});
    std::cout << nlohmann::json{{"imported", imported}, {"skipped", result->skipped}}.dump(2)
              << "\n";
    return kExitOk;
  }
  for (const auto& e : result->imported)
    std::cout << fmt::format("imported {} (version {})\n", e.name, e.version);
  for (const auto& name : result->skipped)
    std::cout << fmt::format("skipped {}: it exists here (--overwrite makes the imported value "
                             "a new version)\n",
                             name);
  std::cout << fmt::format("{} imported, {} skipped\n", result->imported.size(),
                           result->skipped.size());
  return kExitOk;
}

}  // namespace

void AddSecret(CLI::App& app, Context& ctx, int& rc) {
  static SecretArgs a;
  auto* s = app.add_subcommand(
      "secret",
      "Secrets sealed under the master key in the state store, referenced in the stack as "
      "${secret:NAME} (docs/formats/secrets.md)");
  s->require_subcommand(1);
  s->add_option("--master-key-file", a.master_key_file,
                "The master key file (or STEWARD_MASTER_KEY, STEWARD_MASTER_KEY_FILE, "
                "STEWARD_MASTER_PASSPHRASE; default <state dir>/master.key)");
  s->fallthrough();
  auto sub = [&](const char* name, const char* help) {
    auto* c = s->add_subcommand(name, help);
    c->fallthrough();
    c->add_flag("--json", ctx.g.json, "Machine-readable output");
    return c;
  };
  auto* set = sub("set", "Store a new version of NAME, read from stdin (one trailing newline "
                         "dropped), a no-echo prompt on a terminal, or --file; never from argv");
  set->add_option("name", a.name, "The secret's name: letters, digits, _ . -")->required();
  set->add_option("--file", a.file, "Read the value from this file (every byte as is)");
  set->add_flag("--keep-newline", a.keep_newline, "Keep a trailing newline read from stdin");
  set->callback([&ctx, &rc] { rc = Set(ctx, a, false); });

  auto* get = sub("get", "Print NAME's current value (or --version N) on stdout");
  get->add_option("name", a.name, "The secret")->required();
  get->add_option("--version", a.version, "A kept version instead of the current one");
  get->callback([&ctx, &rc] { rc = Get(ctx, a); });

  auto* list = sub("list", "Names, versions, update times and key ids; never values");
  list->callback([&ctx, &rc] { rc = List(ctx, a); });

  auto* rm = sub("rm", "Remove NAME and every version of it");
  rm->add_option("name", a.name, "The secret")->required();
  rm->callback([&ctx, &rc] { rc = Remove(ctx, a); });

  auto* rotate = sub("rotate", "Store a new version of an existing NAME (as set); the previous "
                               "one is kept until the services using it have rolled");
  rotate->add_option("name", a.name, "The secret")->required();
  rotate->add_option("--file", a.file, "Read the value from this file (every byte as is)");
  rotate->add_flag("--keep-newline", a.keep_newline, "Keep a trailing newline read from stdin");
  rotate->add_flag("--apply", a.apply,
                   "Then apply the stack: the services using NAME roll onto the new version "
                   "(as `steward apply`), and the previous version is retired once they have");
  rotate->callback([&ctx, &rc] {
    rc = Set(ctx, a, true);
    if (rc == kExitOk && a.apply) rc = RunApply(ctx);
  });

  auto* exp = sub("export", "Write every current value to an encrypted file (passphrase from "
                            "STEWARD_EXPORT_PASSPHRASE or asked), mode 0600");
  exp->add_option("--out", a.out, "The file to create (an existing one is refused)")->required();
  exp->callback([&ctx, &rc] { rc = Export(ctx, a); });

  auto* imp = sub("import", "Store the secrets of an export file as new versions, sealed under "
                            "this state dir's master key");
  imp->add_option("file", a.bundle, "The file `steward secret export` wrote")->required();
  imp->add_flag("--overwrite", a.overwrite,
                "Import names that exist here too (else they are skipped)");
  imp->callback([&ctx, &rc] { rc = Import(ctx, a); });
}

}  // namespace steward::cli
