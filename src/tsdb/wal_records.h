// The WAL's record payloads: series records (a ref and its labels, written once per series) and
// sample batches (refs and timestamps as varint deltas from the batch's first sample, values as
// raw 64-bit floats). Framing (type, length, CRC) is the WAL's business; see wal.h and
// docs/formats/tsdb.md. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/labels.h"

namespace steward::tsdb {

enum class RecordType : uint8_t { kSeries = 1, kSamples = 2 };

struct RefSeries {
  uint64_t ref = 0;
  Labels labels;
};

struct RefSample {
  uint64_t ref = 0;
  int64_t t = 0;
  double v = 0;
};

// Appends one series entry to a series record's payload.
void EncodeSeriesEntry(uint64_t ref, const Labels& labels, std::string* payload);
void EncodeSamples(const RefSample* samples, size_t n, std::string* payload);

// Corruption when the payload is malformed (the WAL's CRC passed, so this is a bug or tampering).
Status DecodeSeries(std::string_view payload, std::vector<RefSeries>* out);
Status DecodeSamples(std::string_view payload, std::vector<RefSample>* out);

}  // namespace steward::tsdb
