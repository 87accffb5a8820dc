// Internal to the config room: the stack's top-level `backup:` and each service's `backup:`
// (backup_parser.cc), read into config/backup.h's model, and their JSON for the daemon's API.
// The readers report every problem through the ParseContext and keep the model's defaults for
// what they could not read. Cron syntax is not checked here (the pipeline room owns the cron
// parser; the CLI checks schedules with it before a stack reaches the daemon).
// Thread safety: one context per parse; not shared.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/parse_context.h"
#include "config/stack.h"

namespace steward::config::internal {

// A service's `backup: {paths, exclude, schedule, before, after, sqlite, max_age, verify,
// drill_schedule}`; relative paths resolve against `stack_dir`.
void ParseServiceBackup(ParseContext& ctx, const Entry& e, const std::string& who,
                        const std::string& stack_dir, Service* s);

// The top-level `backup:` (nullptr when absent), read after the services: a service with a
// backup needs the stack's repository, reported at the service's `backup` key.
void ParseBackupSettings(ParseContext& ctx, const Entry* e, const std::string& stack_dir,
                         Stack* stack);

// JSON, field for field (durations in ms, locations as {file, line, column}). The readers
// throw std::invalid_argument on a wrong type; StackFromJson turns that into a Status.
nlohmann::json BackupSettingsToJson(const BackupSettings& b);
BackupSettings BackupSettingsFromJson(const nlohmann::json& j);
nlohmann::json ServiceBackupToJson(const ServiceBackup& b);
ServiceBackup ServiceBackupFromJson(const nlohmann::json& j);

}  // namespace steward::config::internal
