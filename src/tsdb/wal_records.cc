#include "tsdb/wal_records.h"

#include <bit>

#include "tsdb/encoding.h"

namespace steward::tsdb {

void EncodeSeriesEntry(uint64_t ref, const Labels& labels, std::string* payload) {
  PutUvarint(payload, ref);
  PutUvarint(payload, labels.size());
  for (const Label& l : labels.items()) {
    PutString(payload, l.name);
    PutString(payload, l.value);
  }
}

void EncodeSamples(const RefSample* samples, size_t n, std::string* payload) {
  if (n == 0) return;
  const RefSample& base = samples[0];
  PutUvarint(payload, base.ref);
  PutVarint(payload, base.t);
  for (size_t i = 0; i < n; ++i) {
    PutVarint(payload, static_cast<int64_t>(samples[i].ref - base.ref));
    PutVarint(payload, samples[i].t - base.t);
    PutFixed64(payload, std::bit_cast<uint64_t>(samples[i].v));
  }
}

Status DecodeSeries(std::string_view payload, std::vector<RefSeries>* out) {
  Decoder d(payload);
  while (d.ok() && !d.done()) {
    RefSeries s;
    s.ref = d.Uvarint();
    uint64_t n = d.Uvarint();
    if (n > d.remaining()) break;
    std::vector<Label> labels(n);
    for (Label& l : labels) {
      l.name = std::string(d.String());
      l.value = std::string(d.String());
    }
    if (!d.ok()) break;
    auto parsed = Labels::FromUnsorted(std::move(labels));
    if (!parsed.ok()) return Corruption("WAL series record: " + parsed.status().message());
    s.labels = std::move(parsed).value();
    out->push_back(std::move(s));
  }
  if (!d.ok()) return Corruption("WAL series record is malformed");
  return Status::OK();
}

Status DecodeSamples(std::string_view payload, std::vector<RefSample>* out) {
  Decoder d(payload);
  uint64_t base_ref = d.Uvarint();
  int64_t base_t = d.Varint();
  while (d.ok() && !d.done()) {
    RefSample s;
    s.ref = base_ref + static_cast<uint64_t>(d.Varint());
    s.t = base_t + d.Varint();
    s.v = std::bit_cast<double>(d.Fixed64());
    if (d.ok()) out->push_back(s);
  }
  if (!d.ok()) return Corruption("WAL samples record is malformed");
  return Status::OK();
}

}  // namespace steward::tsdb
