// Secret references in a stack: the form a value holding ${secret:NAME} takes in the model, the
// names a service uses, and the versions that make a rotation a change the planner sees.
//
// Where a reference may stand: a service's env values (whole or inside a string) and its
// secret_files (a secret's value written to a file before each replica starts). The parser
// reports a reference anywhere else. Nothing here resolves a value on its own: ExpandTemplate
// takes the value lookup from the caller (the runtime, at replica start), so the config room
// needs no store and a parsed stack never holds a plaintext.
//
// Template form. An env value is kept in the model as a template: each reference as
// ${secret:NAME}; literal text as written, except that a run of '$' right before "{secret:" is
// doubled. Reading a template, a run of n '$' before "{secret:" stands for n/2 literal '$',
// followed by a reference when n is odd. So "$${secret:x}" in the file (literal text, by the
// "$$" rule) stays literal through plan, state and start, and a value without "{secret:"
// (almost all) is its own template.
//
// Versions. StampSecretVersions records in each service the current version of every secret it
// uses; they are part of ReplaceHash and of the recorded spec, so a rotation shows in the plan as
// "secret db_pw rotated (v1 → v2)" and applying rolls the service. Versions are not secret.
// Thread safety: stateless functions; safe to call concurrently if the callbacks are.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/interpolate.h"
#include "config/stack.h"
#include "config/stack_parser.h"

namespace steward::config {

// The template form of interpolated parts (see above).
std::string SecretTemplate(const std::vector<InterpolatedPart>& parts);

// The secrets a template references, in order of appearance, without repeats.
std::vector<std::string> TemplateSecrets(std::string_view tmpl);

// The text a template stands for, each reference replaced by value(NAME); the first failing
// lookup is the error (the lookup's message, which must name the secret and never a value).
using SecretValueFn = std::function<StatusOr<std::string>(const std::string& name)>;
StatusOr<std::string> ExpandTemplate(std::string_view tmpl, const SecretValueFn& value);

// Every secret the service uses (env values and secret_files), sorted, without repeats.
std::vector<std::string> ServiceSecrets(const Service& service);

// "secret 'db_pw' does not exist; set it with `steward secret set db_pw`": the one message for
// an unknown secret, at validate, plan and replica start alike.
std::string MissingSecretMessage(const std::string& name);

// Sets every service's secret_versions to the current version of each secret it uses. A secret
// whose version cannot be read is reported (at the service, or at its secret_files entry),
// with MissingSecretMessage when it is kNotFound; it then gets no version.
using SecretVersionFn = std::function<StatusOr<int64_t>(const std::string& name)>;
std::vector<Diagnostic> StampSecretVersions(Stack* stack, const SecretVersionFn& version);
// The same for one service.
std::vector<Diagnostic> StampServiceSecretVersions(Service* service,
                                                   const SecretVersionFn& version);

}  // namespace steward::config
