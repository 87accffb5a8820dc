// Integer fields of the repository's JSON (config, key files, index, snapshots, trees, locks).
// A repository on disk is outside input: nlohmann's get<int64_t>() of a float such as 1e32 is
// undefined behaviour (found by backup_tree_fuzz), and get<uint32_t>() of -1 wraps silently.
// These readers accept only JSON integers that fit T and otherwise throw the json::exception
// every decoder here already turns into kCorruption. Internal to the backup room.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace steward::backup {

template <typename T>
T JsonInt(const nlohmann::json& v, const char* key) {
  using nlohmann::json;
  if (!v.is_number_integer())
    throw json::type_error::create(302, std::string(key) + " must be an integer", nullptr);
  bool fits;
  if (v.is_number_unsigned()) {
    fits = v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  } else {
    int64_t i = v.get<int64_t>();
    fits = std::numeric_limits<T>::is_signed
               ? i >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                     (i <= 0 || static_cast<uint64_t>(i) <=
                                    static_cast<uint64_t>(std::numeric_limits<T>::max()))
               : i >= 0 && static_cast<uint64_t>(i) <=
                               static_cast<uint64_t>(std::numeric_limits<T>::max());
  }
  if (!fits) throw json::out_of_range::create(406, std::string(key) + " is out of range", nullptr);
  return v.is_number_unsigned() ? static_cast<T>(v.get<uint64_t>())
                                : static_cast<T>(v.get<int64_t>());
}

// obj[key] as T; `fallback` when the key is absent.
template <typename T>
T JsonIntOr(const nlohmann::json& obj, const char* key, T fallback) {
  auto it = obj.find(key);
  return it == obj.end() ? fallback : JsonInt<T>(*it, key);
}

// obj.at(key) as T; json::out_of_range when the key is absent.
template <typename T>
T JsonIntAt(const nlohmann::json& obj, const char* key) {
  return JsonInt<T>(obj.at(key), key);
}

}  // namespace steward::backup
