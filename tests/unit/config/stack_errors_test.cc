// One test per kind of stack-file error: the exact message and where it points (line:col).
#include <gtest/gtest.h>

#include "config/stack_parser.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using testing::Parse;

// "line:col: message" for every diagnostic, in order.
std::vector<std::string> Diags(const ParseResult& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.diagnostics) {
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " +
                  d.message);
  }
  return out;
}

std::vector<std::string> DiagsOf(const std::string& yaml,
                                 std::map<std::string, std::string> env = {},
                                 const std::string& environment = "") {
  ParseResult r = Parse(yaml, std::move(env), environment);
  EXPECT_FALSE(r.stack.has_value());
  return Diags(r);
}

using V = std::vector<std::string>;

TEST(StackErrors, SyntaxErrorIsReportedAloneAtTheParserMark) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: [a, b\n"),
            V{"4:1: YAML syntax error: end of sequence flow not found"});
}

TEST(StackErrors, UnknownKeyPointsAtTheKeyWithASuggestion) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web:\n    command: ./w\n    replcas: 2\n"),
            V{"5:5: unknown key 'replcas' in service 'web'; did you mean 'replicas'?"});
}

TEST(StackErrors, UnknownKeyWithoutACloseMatchHasNoHint) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web:\n    command: ./w\n    flavour: x\n"),
            V{"5:5: unknown key 'flavour' in service 'web'"});
}

TEST(StackErrors, UnknownKeysAreFoundAtEveryLevel) {
  EXPECT_EQ(DiagsOf(R"(projet: p
servics: {}
environments:
  prod: {var: {}, services: {web: {replica: 2}}}
  dev: {services: {web: {replica: 2}}}
services:
  web:
    command: ./w
    health: {http: {pth: /}, interval: 2s, timout: 1s}
    restart: {policy: never, crash_loop: {restart: 1}}
    resources: {memroy: 1Gi}
  db:
    command: ./d
    health: {tcp: {prot: 1}}
)",
                    {}, "prod"),
            (V{"1:1: missing 'project'; add e.g. project: my-app",
               "1:1: unknown key 'projet' at the top level; did you mean 'project'?",
               "2:1: unknown key 'servics' at the top level; did you mean 'services'?",
               "4:10: unknown key 'var' in environment 'prod'; did you mean 'vars'?",
               "4:36: unknown key 'replica' in service 'web'; did you mean 'replicas'?",
               "5:26: unknown key 'replica' in service 'web' of environment 'dev'; did you mean "
               "'replicas'?",
               "9:21: unknown key 'pth' in health.http of service 'web'; did you mean 'path'?",
               "9:44: unknown key 'timout' in health of service 'web'; did you mean 'timeout'?",
               "10:43: unknown key 'restart' in restart.crash_loop of service 'web'; did you mean "
               "'restarts'?",
               "11:17: unknown key 'memroy' in resources of service 'web'; did you mean 'memory'?",
               "14:20: unknown key 'prot' in health.tcp of service 'db'; did you mean 'port'?"}));
}

TEST(StackErrors, WrongTypesSayWhatWasExpectedAndWhatWasWritten) {
  EXPECT_EQ(DiagsOf(R"(project: p
services:
  web:
    command: ./w
    replicas: two
    args: --verbose
    env: [A]
    depends_on: api
    ports: 8080
)"),
            (V{"5:15: service 'web': 'replicas' must be an integer, got 'two'",
               "6:11: service 'web': 'args' must be a list, e.g. [a, b], got '--verbose'",
               "7:10: service 'web': 'env' must be a map, got a list",
               "8:17: service 'web': 'depends_on' must be a list of service names, e.g. [db], got "
               "'api'",
               "9:12: service 'web': 'ports' must be a list, e.g. [8080], got '8080'"}));
}

TEST(StackErrors, ServiceThatIsNotAMap) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: ./bin/web\n"),
            V{"3:8: service 'web' must be a map of settings, e.g. web: {command: ./bin/web}, "
              "got './bin/web'"});
}

TEST(StackErrors, MissingCommandPointsAtTheServiceKey) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web:\n    replicas: 2\n"),
            V{"3:3: service 'web' has no 'command'; add e.g. command: ./bin/web"});
}

TEST(StackErrors, MissingProjectAndServices) {
  EXPECT_EQ(DiagsOf("environments: {}\n"),
            (V{"1:1: missing 'project'; add e.g. project: my-app",
               "1:1: missing 'services'; add e.g. services: {web: {command: ./bin/web}} "
               "(or scrape_configs:/monitors: to only watch what others run)"}));
}

TEST(StackErrors, AStackThatOnlyWatchesNeedsNoServices) {
  ParseResult r = Parse("project: p\nmonitors:\n  home: {type: tcp, target: '127.0.0.1:80'}\n");
  ASSERT_TRUE(r.stack.has_value()) << (r.diagnostics.empty() ? "" : r.diagnostics[0].ToString());
  EXPECT_TRUE(r.stack->services.empty());
  EXPECT_EQ(r.stack->monitors.size(), 1u);
}

TEST(StackErrors, EmptyFile) {
  EXPECT_EQ(DiagsOf(""), V{"1:1: the stack file is empty; it needs at least 'project: <name>' "
                           "and 'services:'"});
}

TEST(StackErrors, BadDurationSuggestsAUnit) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web:\n    command: ./w\n    stop_grace: 5\n"
                    "    health: {http: /, interval: soon}\n"),
            (V{"5:17: service 'web': bad duration '5' for 'stop_grace': add a unit, e.g. 5s",
               "6:33: service 'web': bad duration 'soon' for 'health.interval': use a number with "
               "a unit (ms, s, m, h), e.g. 500ms, 2s, 1m30s or 1h"}));
}

TEST(StackErrors, BadSizeShowsTheTextAndAnExample) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web:\n    command: ./w\n"
                    "    resources: {memory: 2GB, cpu: lots}\n"),
            (V{"5:25: service 'web': bad size '2GB' for 'resources.memory': use bytes or a number "
               "with a unit (K, M, G, T = 1000^n; Ki, Mi, Gi, Ti = 1024^n), e.g. 256Mi or 1G",
               "5:35: service 'web': 'resources.cpu' must be a number of cores or millicores, "
               "e.g. 0.5 or 500m, got 'lots'"}));
}

TEST(StackErrors, UnknownDependencyPointsAtTheListItem) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web:\n    command: ./w\n    depends_on: [api, db]\n"
                    "  api: {command: ./a}\n"),
            V{"5:23: service 'web' depends on 'db', which is not defined; defined services: api, "
              "web"});
}

TEST(StackErrors, UnknownDependencySuggestsACloseName) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: {command: ./w, depends_on: [apl]}\n"
                    "  api: {command: ./a}\n"),
            V{"3:36: service 'web' depends on 'apl', which is not defined; defined services: api, "
              "web (did you mean 'api'?)"});
}

TEST(StackErrors, DependencyCycleIsReportedOnceFromItsFirstService) {
  EXPECT_EQ(DiagsOf(R"(project: p
services:
  web: {command: ./w, depends_on: [api]}
  api: {command: ./a, depends_on: [db]}
  db: {command: ./d, depends_on: [web]}
  solo: {command: ./s, depends_on: [solo]}
)"),
            (V{"3:3: dependency cycle: web → api → db → web; remove one of these depends_on "
               "entries",
               "6:3: dependency cycle: solo → solo; remove one of these depends_on entries"}));
}

TEST(StackErrors, PortClashExplainsTheRollingUpdateBlock) {
  EXPECT_EQ(DiagsOf(R"(project: p
services:
  web: {command: ./w, replicas: 2, port: 8080}
  api: {command: ./a, port: 8081}
  low: {command: ./l, replicas: 2, port: 8077}
)"),
            (V{"4:29: port clash: service 'api' port 8081 overlaps service 'web' (ports 8080-8083: "
               "2 replicas plus 2 for rolling updates)",
               "5:42: port clash: service 'low' port 8077 (ports 8077-8080: 2 replicas plus 2 for "
               "rolling updates) overlaps service 'web' (ports 8080-8083: 2 replicas plus 2 for "
               "rolling updates)"}));
}

TEST(StackErrors, PortClashWithinOneService) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: {command: ./w, ports: [8080, 8081]}\n"),
            V{"3:37: port clash: service 'web' port 8081 overlaps its own port 8080 (ports "
              "8080-8081: 1 replica plus 1 for rolling updates)"});
}

TEST(StackErrors, PortBlockBeyondTheLastPort) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: {command: ./w, replicas: 2, port: 65534}\n"),
            V{"3:42: service 'web': port 65534 needs ports up to 65537 (ports 65534-65537: 2 "
              "replicas plus 2 for rolling updates), beyond 65535; choose a port at most 65532"});
}

TEST(StackErrors, HealthCheckProblems) {
  EXPECT_EQ(DiagsOf(R"(project: p
services:
  a:
    command: ./a
    health: {http: /h, tcp: true, healthy_threshold: 0}
  b:
    command: ./b
    health: {interval: 1s, timeout: 2s}
  c:
    command: ./c
    health: {http: healthz}
)"),
            (V{"5:24: service 'a': health has both 'http' and 'tcp'; keep exactly one of http, "
               "tcp, exec",
               "5:54: service 'a': 'health.healthy_threshold' must be between 1 and 1000, got 0",
               "8:5: service 'b': 'health' needs one of http, tcp or exec, e.g. health: {http: "
               "/healthz}",
               "8:37: service 'b': health 'timeout' (2s) must not exceed 'interval' (1s); a check "
               "must finish before the next one starts",
               "11:20: service 'c': health http path 'healthz' must start with '/', e.g. "
               "/healthz"}));
}

TEST(StackErrors, ReplicasAndPortsOutOfRange) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: {command: ./w, replicas: 5000, port: 0}\n"),
            (V{"3:33: service 'web': 'replicas' must be between 0 and 1000, got 5000",
               "3:45: service 'web': 'port' must be between 1 and 65535, got 0"}));
}

TEST(StackErrors, InvalidNames) {
  EXPECT_EQ(DiagsOf("project: My App\nservices:\n  Web_1: {command: ./w}\n"),
            (V{"1:10: project name 'My App' is not valid; use lowercase letters, digits and '-', "
               "starting with a letter or digit, e.g. my-app",
               "3:3: service name 'Web_1' is not valid; use lowercase letters, digits and '-', "
               "starting with a letter or digit, e.g. web"}));
}

TEST(StackErrors, EnvValueMustBeAScalar) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web:\n    command: ./w\n    env: {A: [1, 2]}\n"),
            V{"5:14: service 'web': env value 'A' must be a string, number or boolean, got a "
              "list"});
}

TEST(StackErrors, UnsetVariableIsReportedAtTheScalar) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web:\n    command: ./w\n"
                    "    env: {DB: \"${DB_HOST}:5432\"}\n"),
            V{"5:15: service 'web': 'env.DB': variable 'DB_HOST' is not set; export it, define "
              "it under environments.<env>.vars, or give a default: ${DB_HOST:-value}"});
}

TEST(StackErrors, UnknownEnvironmentListsTheDefinedOnes) {
  EXPECT_EQ(DiagsOf("project: p\nenvironments: {dev: {}, prod: {}}\nservices: {}\n", {}, "stage"),
            V{"2:1: environment 'stage' is not defined; defined environments: dev, prod"});
}

TEST(StackErrors, OverrideOfAnUndefinedService) {
  EXPECT_EQ(DiagsOf("project: p\nenvironments:\n  prod: {services: {cache: {replicas: 2}}}\n"
                    "services:\n  web: {command: ./w}\n"),
            V{"3:21: environment 'prod' overrides service 'cache', which is not defined; defined "
              "services: web"});
}

TEST(StackErrors, DuplicateKeysAndBothPortForms) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: {command: ./w, port: 1, ports: [2]}\n"
                    "  web: {command: ./x}\n"),
            (V{"3:32: service 'web': use either 'port' or 'ports', not both",
               "4:3: duplicate key 'web' in services (first at line 3); remove one of them"}));
}

TEST(StackErrors, BadSignalAndRestartPolicy) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: {command: ./w, stop_signal: SIGFOO, restart: "
                    "sometimes}\n"),
            (V{"3:36: service 'web': 'stop_signal' must be one of SIGTERM, SIGINT, SIGQUIT, "
               "SIGHUP, SIGKILL, SIGUSR1, SIGUSR2, got 'SIGFOO'",
               "3:53: service 'web': 'restart' must be one of always, on-failure, never, got "
               "'sometimes'"}));
}

TEST(StackErrors, InvalidUtf8) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  web: {command: \"\xff\"}\n"),
            V{"3:19: the stack file is not valid UTF-8; save it as UTF-8 text"});
}

TEST(StackErrors, AllErrorsOfAFileAreReportedInOneRun) {
  ParseResult r = Parse(R"(project: p
services:
  web:
    command: ./w
    replcas: 2
    stop_grace: 5
    depends_on: [db]
  api:
    replicas: -1
)");
  EXPECT_EQ(r.diagnostics.size(), 5u) << testing::Errors(r);
}

TEST(Diagnostic, PrintsFileLineColumnAndSeverity) {
  ParseResult r = Parse("project: p\nservices:\n  web: {replicas: 1}\n");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].ToString(),
            "/srv/app/steward.yaml:3:3: error: service 'web' has no 'command'; add e.g. command: "
            "./bin/web");
}

}  // namespace
}  // namespace steward::config
