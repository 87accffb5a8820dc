// Compaction and retention: cutting the head into blocks, checkpointing the WAL, merging
// adjacent or overlapping blocks into bigger ones, and deleting blocks past retention.
// Every step writes its new block completely before anything old is dropped.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "tsdb/db_impl.h"
#include "tsdb/file_util.h"

namespace steward::tsdb {
namespace {

constexpr int64_t kMaxBlockRangeMs = 31LL * 24 * 3600 * 1000;

bool ByMinTime(const std::shared_ptr<Block>& a, const std::shared_ptr<Block>& b) {
  return a->meta().min_time < b->meta().min_time;
}

// Keeps a freshly encoded chunk in *owned (whose elements never move) and describes it.
ChunkData Own(std::string bytes, std::deque<std::string>* owned) {
  owned->push_back(std::move(bytes));
  ChunkData c;
  c.bytes = owned->back();
  XorIterator it(c.bytes);
  c.mint = it.Next() ? it.t() : 0;
  c.maxt = c.mint;
  while (it.Next()) c.maxt = it.t();
  return c;
}

// The chunks of a series clipped to [mint, maxt): whole chunks as they are, straddling ones
// re-encoded (their bytes kept in *owned, whose elements never move).
std::vector<ChunkData> ClipChunks(const std::vector<ChunkSnapshot>& chunks, int64_t mint,
                                  int64_t maxt, std::deque<std::string>* owned) {
  std::vector<ChunkData> out;
  for (const ChunkSnapshot& c : chunks) {
    if (c.mint >= mint && c.maxt < maxt) {
      out.push_back({c.mint, c.maxt, c.bytes()});
      continue;
    }
    std::vector<Sample> samples;
    DecodeChunk(c.bytes(), mint, maxt - 1, &samples);
    for (std::string& bytes : EncodeChunks(samples)) out.push_back(Own(std::move(bytes), owned));
  }
  return out;
}

// Chunks from several blocks for one series: as they are when they don't overlap, else decoded,
// merged (first sample of a timestamp wins) and re-encoded.
std::vector<ChunkData> MergeChunks(std::vector<ChunkData> chunks, std::deque<std::string>* owned) {
  std::sort(chunks.begin(), chunks.end(),
            [](const ChunkData& a, const ChunkData& b) { return a.mint < b.mint; });
  bool overlap = false;
  for (size_t i = 1; i < chunks.size(); ++i) overlap |= chunks[i].mint <= chunks[i - 1].maxt;
  if (!overlap) return chunks;
  std::vector<Sample> samples;
  for (const ChunkData& c : chunks) {
    DecodeChunk(c.bytes, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                &samples);
  }
  SortAndDedupe(&samples);
  std::vector<ChunkData> out;
  for (std::string& bytes : EncodeChunks(samples)) out.push_back(Own(std::move(bytes), owned));
  return out;
}

}  // namespace

std::string DbImpl::NewBlockId() { return NewUlid(NowMs(), rng_); }

void DbImpl::SetRetention(Duration retention_time, int64_t retention_bytes) {
  std::lock_guard<std::mutex> l(compact_mu_);
  opts_.retention_time = retention_time;
  opts_.retention_bytes = retention_bytes;
}

Status DbImpl::Compact() {
  std::lock_guard<std::mutex> l(compact_mu_);
  Status st = CompactHeadLocked(false);
  while (st.ok()) {
    std::vector<std::shared_ptr<Block>> plan = PlanBlockCompaction();
    if (plan.empty()) break;
    st = MergeBlocks(plan);
  }
  Status rt = ApplyRetention();
  UpdateBlockMetrics();
  return st.ok() ? rt : st;
}

Status DbImpl::FlushHead() {
  std::lock_guard<std::mutex> l(compact_mu_);
  Status st = CompactHeadLocked(true);
  UpdateBlockMetrics();
  return st;
}

Status DbImpl::CompactHeadLocked(bool force) {
  const int64_t flush_until = head_->MaxTime();  // force: what was there when we started
  while (head_->NumSamples() > 0) {
    int64_t maxt = force ? flush_until : head_->MaxTime();
    int64_t mint = std::max(head_->MinTime(), head_->DataMinTime());
    if (mint > maxt || (!force && maxt - mint <= range_ / 2 * 3)) break;
    int64_t block_min = std::max(FloorDiv(mint, range_) * range_, min_valid_time_.load());
    int64_t block_max = FloorDiv(mint, range_) * range_ + range_;
    if (force) block_max = std::min(block_max, maxt + 1);
    auto block = WriteHeadBlock(block_min, block_max);
    if (!block.ok()) {
      if (metrics_.compaction_failures) metrics_.compaction_failures->Inc();
      return block.status().Annotate("compact head");
    }
    RETURN_IF_ERROR(TruncateHead(std::move(block).value(), block_max));
  }
  return Status::OK();
}

StatusOr<std::shared_ptr<Block>> DbImpl::WriteHeadBlock(int64_t mint, int64_t maxt) {
  std::vector<HeadSeriesData> series;
  HeadSeriesData data;
  for (uint64_t ref : head_->index().AllPostings()) {
    if (head_->Read(ref, mint, maxt - 1, &data) && !data.chunks.empty()) {
      series.push_back(std::move(data));
    }
  }
  if (series.empty()) return std::shared_ptr<Block>();
  std::sort(series.begin(), series.end(),
            [](const HeadSeriesData& a, const HeadSeriesData& b) { return a.labels < b.labels; });
  BlockMeta meta;
  meta.ulid = NewBlockId();
  meta.min_time = mint;
  meta.max_time = maxt;
  meta.sources = {meta.ulid};
  BlockWriter w(opts_.dir, meta);
  RETURN_IF_ERROR(w.Start());
  for (const HeadSeriesData& s : series) {
    std::deque<std::string> owned;
    RETURN_IF_ERROR(w.AddSeries(s.labels, ClipChunks(s.chunks, mint, maxt, &owned)));
  }
  ASSIGN_OR_RETURN(meta, w.Commit());
  if (metrics_.compactions) metrics_.compactions->Inc();
  return Block::Open(opts_.dir + "/" + meta.ulid);
}

Status DbImpl::TruncateHead(std::shared_ptr<Block> block, int64_t maxt) {
  {
    std::unique_lock<std::shared_mutex> l(read_mu_);
    if (block) {
      blocks_.insert(std::upper_bound(blocks_.begin(), blocks_.end(), block, ByMinTime), block);
    }
    min_valid_time_ = std::max(min_valid_time_.load(), maxt);
    head_->Truncate(maxt);
  }
  Status st = wal_->Checkpoint([&](RecordType type, std::string_view payload, std::string* out) {
    CheckpointFilter(maxt, type, payload, out);
  });
  if (!st.ok()) {
    if (metrics_.compaction_failures) metrics_.compaction_failures->Inc();
    return st.Annotate("WAL checkpoint");
  }
  return Status::OK();
}

void DbImpl::CheckpointFilter(int64_t mint, RecordType type, std::string_view payload,
                              std::string* out) {
  if (type == RecordType::kSeries) {
    std::vector<RefSeries> series;
    DecodeSeries(payload, &series).IgnoreError();  // a malformed tail is dropped, as on replay
    size_t start = BeginRecord(out, RecordType::kSeries), empty = out->size();
    for (const RefSeries& s : series) {
      if (head_->Contains(s.ref)) EncodeSeriesEntry(s.ref, s.labels, out);
    }
    if (out->size() == empty) {
      out->resize(start);
    } else {
      FinishRecord(out, start);
    }
    return;
  }
  std::vector<RefSample> samples;
  DecodeSamples(payload, &samples).IgnoreError();
  std::erase_if(samples, [&](const RefSample& s) { return s.t < mint || !head_->Contains(s.ref); });
  if (samples.empty()) return;
  size_t start = BeginRecord(out, RecordType::kSamples);
  EncodeSamples(samples.data(), samples.size(), out);
  FinishRecord(out, start);
}

std::vector<std::shared_ptr<Block>> DbImpl::PlanBlockCompaction() {
  std::vector<std::shared_ptr<Block>> blocks = blocks_;  // stable: we hold compact_mu_
  // Overlapping blocks first (vertical compaction).
  for (size_t i = 0; i + 1 < blocks.size(); ++i) {
    std::vector<std::shared_ptr<Block>> group = {blocks[i]};
    int64_t end = blocks[i]->meta().max_time;
    for (size_t j = i + 1; j < blocks.size() && blocks[j]->meta().min_time < end; ++j) {
      group.push_back(blocks[j]);
      end = std::max(end, blocks[j]->meta().max_time);
    }
    if (group.size() > 1) return group;
  }
  int64_t max_range = kMaxBlockRangeMs;
  if (opts_.retention_time.count() > 0) {
    max_range = std::min(max_range, opts_.retention_time.count() / 10);
  }
  int64_t complete_before = min_valid_time_.load();
  for (int64_t r = range_ * 3; r <= max_range; r *= 3) {
    std::map<int64_t, std::vector<std::shared_ptr<Block>>> windows;
    for (const auto& b : blocks) {
      int64_t w = FloorDiv(b->meta().min_time, r);
      if (b->meta().max_time <= (w + 1) * r) windows[w].push_back(b);
    }
    for (auto& [w, group] : windows) {
      if (group.size() > 1 && (w + 1) * r <= complete_before) return group;
    }
  }
  return {};
}

Status DbImpl::MergeBlocks(const std::vector<std::shared_ptr<Block>>& blocks) {
  BlockMeta meta;
  meta.ulid = NewBlockId();
  meta.min_time = std::numeric_limits<int64_t>::max();
  meta.max_time = std::numeric_limits<int64_t>::min();
  std::set<std::string> sources;
  for (const auto& b : blocks) {
    meta.min_time = std::min(meta.min_time, b->meta().min_time);
    meta.max_time = std::max(meta.max_time, b->meta().max_time);
    meta.level = std::max(meta.level, b->meta().level + 1);
    sources.insert(b->meta().sources.begin(), b->meta().sources.end());
    meta.parents.push_back(b->meta().ulid);
  }
  meta.sources.assign(sources.begin(), sources.end());
  auto fail = [&](const Status& st) {
    if (metrics_.compaction_failures) metrics_.compaction_failures->Inc();
    return st.Annotate("merge blocks into " + meta.ulid);
  };
  BlockWriter w(opts_.dir, meta);
  Status st = w.Start();
  if (!st.ok()) return fail(st);
  std::map<Labels, std::vector<ChunkData>> series;  // grouped per series across blocks
  Labels labels;
  std::vector<ChunkMeta> metas;
  for (const auto& b : blocks) {
    for (uint64_t id : b->index().AllPostings()) {
      st = b->index().Series(id, &labels, &metas);
      if (!st.ok()) return fail(st.Annotate("block " + b->meta().ulid));
      std::vector<ChunkData>& chunks = series[labels];
      for (const ChunkMeta& c : metas) {
        auto bytes = b->Chunk(c.ref);
        if (!bytes.ok()) return fail(bytes.status());
        chunks.push_back({c.mint, c.maxt, *bytes});
      }
    }
  }
  for (auto& [l, chunks] : series) {
    std::deque<std::string> owned;
    st = w.AddSeries(l, MergeChunks(std::move(chunks), &owned));
    if (!st.ok()) return fail(st);
  }
  auto committed = w.Commit();
  if (!committed.ok()) return fail(committed.status());
  auto block = Block::Open(opts_.dir + "/" + meta.ulid);
  if (!block.ok()) return fail(block.status());
  if (metrics_.compactions) metrics_.compactions->Inc();
  {
    std::unique_lock<std::shared_mutex> l(read_mu_);
    blocks_.insert(std::upper_bound(blocks_.begin(), blocks_.end(), *block, ByMinTime), *block);
  }
  return DeleteBlocks(blocks);
}

Status DbImpl::ApplyRetention() {
  std::vector<std::shared_ptr<Block>> doomed;
  int64_t horizon = NowMs() - opts_.retention_time.count();
  int64_t total = opts_.retention_bytes > 0 ? wal_->SizeBytes() : 0;
  for (const auto& b : blocks_) {
    if (opts_.retention_time.count() > 0 && b->meta().max_time <= horizon) {
      doomed.push_back(b);
    } else {
      total += b->size_bytes();
    }
  }
  for (const auto& b : blocks_) {  // oldest first
    if (opts_.retention_bytes <= 0 || total <= opts_.retention_bytes) break;
    if (std::find(doomed.begin(), doomed.end(), b) != doomed.end()) continue;
    doomed.push_back(b);
    total -= b->size_bytes();
  }
  if (doomed.empty()) return Status::OK();
  if (metrics_.retention_deletions) {
    metrics_.retention_deletions->Inc(static_cast<double>(doomed.size()));
  }
  return DeleteBlocks(doomed);
}

Status DbImpl::DeleteBlocks(const std::vector<std::shared_ptr<Block>>& doomed) {
  {
    std::unique_lock<std::shared_mutex> l(read_mu_);
    std::erase_if(blocks_, [&](const std::shared_ptr<Block>& b) {
      return std::find(doomed.begin(), doomed.end(), b) != doomed.end();
    });
  }
  // Rename first so a crash mid-removal leaves a *.tmp directory (removed on Open), never a
  // half-deleted block that would look damaged.
  for (const auto& b : doomed) {
    std::string tmp = b->dir() + ".tmp";
    RETURN_IF_ERROR(RenameDurably(b->dir(), tmp, opts_.dir));
    RETURN_IF_ERROR(RemoveAll(tmp));
  }
  return Status::OK();
}

}  // namespace steward::tsdb
